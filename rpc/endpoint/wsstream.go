package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsStream is an rpc.MessageStream of JSON texts in WebSocket text frames.
// It is safe for concurrent WriteMessage calls (they are serialised), one
// ReadMessage at a time and Close from anywhere.
type wsStream struct {
	ws  *websocket.Conn
	cfg lineConfig // max, idle, read and write apply; replyTooLong is unused

	// wmu serialises data frame writes.
	wmu sync.Mutex

	rd readDeadline

	closeOnce sync.Once
}

func newWSStream(ws *websocket.Conn, cfg lineConfig) *wsStream {
	s := &wsStream{ws: ws, cfg: cfg, rd: readDeadline{set: ws.SetReadDeadline}}
	ws.SetReadLimit(int64(cfg.max))
	ws.SetPingHandler(func(data string) error {
		// A ping is a sign of life: the idle timeout starts again.
		s.rd.after(cfg.idle)
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	return s
}

// ReadMessage returns the payload of the next text frame.
func (s *wsStream) ReadMessage(ctx context.Context) ([]byte, error) {
	defer s.rd.watch(ctx)()
	b, err := s.read()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return b, err
}

func (s *wsStream) read() ([]byte, error) {
	s.rd.after(s.cfg.idle)
	typ, r, err := s.ws.NextReader()
	if err != nil {
		return nil, s.mapErr(err)
	}
	if typ != websocket.TextMessage {
		s.closeWith(websocket.CloseUnsupportedData, "text frames only")
		return nil, ErrTextOnly
	}
	s.rd.after(s.cfg.read)
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, s.mapErr(err)
	}
	return b, nil
}

func (s *wsStream) mapErr(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		return fmt.Errorf("%w: frame longer than %d bytes", ErrMessageTooLarge, s.cfg.max)
	}
	return err
}

// WriteMessage sends msg as one text frame.
func (s *wsStream) WriteMessage(ctx context.Context, msg []byte) error {
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
	_ = s.ws.SetWriteDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = s.ws.UnderlyingConn().SetWriteDeadline(longAgo)
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	err := s.ws.WriteMessage(websocket.TextMessage, msg)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// closeWith sends a close frame (best effort) and closes the connection.
func (s *wsStream) closeWith(code int, text string) {
	s.closeOnce.Do(func() {
		_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text),
			time.Now().Add(time.Second))
		_ = s.ws.Close()
	})
}

// Close sends a normal close frame and closes the connection; it is
// idempotent.
func (s *wsStream) Close() error {
	s.closeWith(websocket.CloseNormalClosure, "")
	return nil
}
