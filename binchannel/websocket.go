package binchannel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocketOptions configure NewWebSocket. The zero value means every
// default.
type WebSocketOptions struct {
	// MaxMessageSize is the largest message sent or accepted, in bytes; it
	// becomes the connection's read limit. Both ends must use the same
	// value. Default 1 MiB.
	MaxMessageSize int
	// CloseTimeout bounds the close frame written by Close. Default 1s.
	CloseTimeout time.Duration
}

// NewWebSocket returns a Transport over a gorilla/websocket connection: one
// binchannel message is one binary WebSocket message.
//
// WriteMessage writes the parts through one NextWriter, so they are not
// merged into a buffer first; calls are serialised, as gorilla requires one
// writer at a time. A ctx deadline becomes the write deadline; cancelling
// ctx aborts a blocked write or read, after which the connection is
// unusable (gorilla cannot resume a half-written or half-read frame).
// Text messages are handed up like binary ones; the Channel rejects them
// as malformed.
//
// Each message is read into a buffer of its own, sized from its header;
// buffers of 16 KiB and more are recycled once the receiver has dropped
// every view of them (see bufpool.go), which keeps a fast link from
// spending its time faulting in fresh pages.
func NewWebSocket(conn *websocket.Conn, o WebSocketOptions) Transport {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 1 << 20
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = time.Second
	}
	conn.SetReadLimit(int64(o.MaxMessageSize))
	return &wsTransport{conn: conn, o: o}
}

type wsTransport struct {
	conn *websocket.Conn
	o    WebSocketOptions

	chunkLen int // length of the last full binary chunk read; reader only

	// wmu serialises writers: it guards the connection's write side,
	// including its write deadline.
	wmu sync.Mutex

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// abortOn arranges for set(time.Now()) to run when ctx is done and returns a
// function that cancels that and reports whether it had run (waiting for it
// to finish if so).
func abortOn(ctx context.Context, set func(time.Time) error) func() bool {
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = set(time.Now())
		close(done)
	})
	return func() bool {
		if stop() {
			return false
		}
		<-done
		return true
	}
}

func (w *wsTransport) WriteMessage(ctx context.Context, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > w.o.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, w.o.MaxMessageSize)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	deadline, _ := ctx.Deadline()
	if err := w.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	aborted := abortOn(ctx, w.conn.NetConn().SetWriteDeadline)
	err := w.writeParts(parts)
	if aborted() && err != nil {
		return ctx.Err()
	}
	// A deadline set by a late abort is replaced by gorilla before the
	// next frame is written.
	return err
}

func (w *wsTransport) writeParts(parts [][]byte) error {
	wr, err := w.conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return w.mapErr(err)
	}
	for _, p := range parts {
		if _, err := wr.Write(p); err != nil {
			_ = wr.Close()
			return w.mapErr(err)
		}
	}
	return w.mapErr(wr.Close())
}

func (w *wsTransport) ReadMessage(ctx context.Context) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	aborted := abortOn(ctx, w.conn.NetConn().SetReadDeadline)
	msg, err := w.readMessage()
	if aborted() {
		if err != nil {
			return nil, ctx.Err()
		}
		// ctx ended just after the message arrived: keep it, and lift
		// the deadline the abort set.
		_ = w.conn.NetConn().SetReadDeadline(time.Time{})
	}
	if err != nil {
		return nil, err
	}
	return [][]byte{msg}, nil
}

func (w *wsTransport) readMessage() ([]byte, error) {
	_, r, err := w.conn.NextReader()
	if err != nil {
		return nil, w.mapErr(err)
	}
	// Read the binchannel header first: it tells how large the message
	// probably is, so that the buffer is allocated once at the right size
	// instead of grown by doubling.
	var head [maxHeaderSize]byte
	n, err := readUpTo(r, head[:])
	if err == io.EOF {
		return append(make([]byte, 0, n), head[:n]...), nil
	}
	if err != nil {
		return nil, w.mapErr(err)
	}
	buf := recvBufs.get(w.sizeGuess(head[:n]) + 1)
	buf = append(buf, head[:n]...)
	for {
		if len(buf) == cap(buf) {
			nb := recvBufs.get(2 * cap(buf))
			buf = append(nb, buf...)
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, w.mapErr(err)
		}
	}
	w.noteSize(head[:n], len(buf))
	// The message is handed up and may be held while its packet
	// assembles, so do not let it pin much more memory than it carries.
	if cap(buf)-len(buf) > len(buf)/4+64 {
		buf = append(recvBufs.get(len(buf)), buf...)
	}
	return buf, nil
}

// readUpTo reads until b is full or the message ends (io.EOF, with what was
// read).
func readUpTo(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sizeGuess estimates a message's length from its header: a binary chunk
// holds at most what remains of its binary and, in a stream, as much as the
// last full chunk; an OPEN holds at most its skeleton and, when the packet
// has binaries, a first chunk.
func (w *wsTransport) sizeGuess(h []byte) int {
	guess := w.o.MaxMessageSize
	if len(h) == BinHeaderSize && h[0] == KindBin {
		total := binary.BigEndian.Uint64(h[9:17])
		off := binary.BigEndian.Uint64(h[17:25])
		if off <= total && total-off < uint64(guess) {
			guess = int(total-off) + BinHeaderSize
		}
		if w.chunkLen > 0 {
			guess = min(guess, w.chunkLen)
		}
	} else if len(h) >= OpenHeaderSize && h[0] == KindOpen {
		n := uint64(binary.BigEndian.Uint32(h[9:13])) + OpenHeaderSize
		if binary.BigEndian.Uint32(h[5:9]) > 0 {
			// The first binary's first chunk may follow the skeleton.
			n += BinHeaderSize + uint64(guess)
			if w.chunkLen > 0 {
				n = n - uint64(guess) + uint64(w.chunkLen)
			}
		}
		if n < uint64(guess) {
			guess = int(n)
		}
	}
	return min(max(guess, len(h)), w.o.MaxMessageSize)
}

// noteSize remembers the length of a binary chunk that did not end its
// binary: the peer's chunk size plus header, the length of the chunks that
// follow.
func (w *wsTransport) noteSize(h []byte, n int) {
	if len(h) == BinHeaderSize && h[0] == KindBin {
		total := binary.BigEndian.Uint64(h[9:17])
		off := binary.BigEndian.Uint64(h[17:25])
		if n > BinHeaderSize && off+uint64(n-BinHeaderSize) < total {
			w.chunkLen = n
		}
	}
}

func (w *wsTransport) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if w.closed.Load() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return fmt.Errorf("%w: over %d bytes: %w", ErrMessageTooLarge, w.o.MaxMessageSize, err)
	}
	if errors.Is(err, websocket.ErrCloseSent) || websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

func (w *wsTransport) MaxMessageSize() int { return w.o.MaxMessageSize }

func (w *wsTransport) Close() error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = w.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(w.o.CloseTimeout))
		w.closeErr = w.conn.Close()
	})
	return w.closeErr
}
