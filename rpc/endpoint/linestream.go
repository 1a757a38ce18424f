package endpoint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// lineConfig configures a lineStream.
type lineConfig struct {
	max          int           // longest line accepted, without its newline
	idle         time.Duration // wait for a message's first byte; 0: none
	read         time.Duration // reading the rest of a message; 0: none
	write        time.Duration // writing one message; 0: none
	replyTooLong bool          // answer an over-long line with an error line
}

// lineStream is an rpc.MessageStream of newline-delimited JSON over a
// net.Conn. It is safe for concurrent WriteMessage calls (they are
// serialised), one ReadMessage at a time and Close from anywhere.
type lineStream struct {
	nc  net.Conn
	br  *bufio.Reader
	cfg lineConfig

	// wmu serialises writes and guards wbuf.
	wmu  sync.Mutex
	wbuf []byte

	rd readDeadline

	closeOnce sync.Once
}

func newLineStream(nc net.Conn, cfg lineConfig) *lineStream {
	return &lineStream{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), cfg: cfg, rd: readDeadline{set: nc.SetReadDeadline}}
}

// ReadMessage returns the next non-blank line without its line ending.
func (s *lineStream) ReadMessage(ctx context.Context) ([]byte, error) {
	defer s.rd.watch(ctx)()
	for {
		line, err := s.readLine()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line, nil
		}
	}
}

// readLine reads one line, applying the idle timeout before its first byte
// and the read timeout after it.
func (s *lineStream) readLine() ([]byte, error) {
	s.rd.after(s.cfg.idle)
	if _, err := s.br.Peek(1); err != nil {
		return nil, err
	}
	s.rd.after(s.cfg.read)
	var line []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		n := len(line) + len(frag)
		if err == nil {
			n-- // the newline
		}
		if n > 0 && (len(frag) > 0 && frag[len(frag)-1] == '\r' || err == nil && len(frag) > 1 && frag[len(frag)-2] == '\r') {
			n-- // a carriage return that may end the line
		}
		if n > s.cfg.max {
			return nil, s.tooLong()
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			// A last line without its newline still counts.
			return bytes.TrimSuffix(line, []byte{'\r'}), nil
		default:
			return nil, err
		}
	}
}

// tooLong answers an over-long line (server side) and fails the stream.
func (s *lineStream) tooLong() error {
	err := fmt.Errorf("%w: line longer than %d bytes", ErrMessageTooLarge, s.cfg.max)
	if s.cfg.replyTooLong {
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request: line longer than %d bytes"},"id":null}`, s.cfg.max)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.WriteMessage(ctx, []byte(msg))
		cancel()
	}
	return err
}

// WriteMessage writes msg followed by a newline. A message holding line
// breaks (possible only as whitespace in valid JSON) is compacted first.
func (s *lineStream) WriteMessage(ctx context.Context, msg []byte) error {
	if bytes.ContainsAny(msg, "\r\n") {
		v := jsontext.Value(bytes.Clone(msg))
		if err := v.Compact(); err != nil {
			return fmt.Errorf("endpoint: message to write is not valid JSON: %w", err)
		}
		msg = v
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	var dl time.Time
	if s.cfg.write > 0 {
		dl = time.Now().Add(s.cfg.write)
	}
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	_ = s.nc.SetWriteDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = s.nc.SetWriteDeadline(longAgo)
		close(fired)
	})
	// A cancellation that fired late must not reach the next write, which
	// waits for wmu.
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	s.wbuf = append(append(s.wbuf[:0], msg...), '\n')
	_, err := s.nc.Write(s.wbuf)
	if len(s.wbuf) > 64<<10 {
		s.wbuf = nil // do not keep a large buffer per connection
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Close closes the connection; it is idempotent.
func (s *lineStream) Close() error {
	s.closeOnce.Do(func() { _ = s.nc.Close() })
	return nil
}
