package endpoint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// fakeConn is a net.Conn reading from a buffer and writing to another.
type fakeConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *fakeConn) Read(b []byte) (int, error)         { return c.r.Read(b) }
func (c *fakeConn) Write(b []byte) (int, error)        { return c.w.Write(b) }
func (c *fakeConn) Close() error                       { return nil }
func (c *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzLineFraming feeds arbitrary bytes to the TCP line reader: every
// message it returns is within the limit, holds no line break and is not
// blank; the only errors are the limit and the end of input.
func FuzzLineFraming(f *testing.F) {
	for _, s := range []string{
		"", "\n", "{}\n", "{}\r\n[]\n", "  \n\t\n{\"a\":1}", "x\ry\n",
		"0123456789abcdef\n", "0123456789abcdefg\n", "\r\r\r\n", "\xff\xfe\n",
	} {
		f.Add([]byte(s))
	}
	const max = 16
	f.Fuzz(func(t *testing.T, in []byte) {
		nc := &fakeConn{r: bytes.NewReader(in)}
		s := newLineStream(nc, lineConfig{max: max, replyTooLong: true})
		ctx := context.Background()
		total := 0
		for {
			msg, err := s.ReadMessage(ctx)
			if err != nil {
				if errors.Is(err, ErrMessageTooLarge) {
					if !bytes.HasSuffix(nc.w.Bytes(), []byte("\n")) || !jsontext.Value(bytes.TrimSpace(nc.w.Bytes())).IsValid() {
						t.Fatalf("bad error line %q", nc.w.Bytes())
					}
				} else if !errors.Is(err, io.EOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(msg) > max || bytes.ContainsAny(msg, "\n") || len(bytes.TrimSpace(msg)) == 0 {
				t.Fatalf("bad message %q", msg)
			}
			total += len(msg)
			if total > len(in) {
				t.Fatalf("returned more than was read")
			}
		}
	})
}

// FuzzHTTPBody posts arbitrary bodies: the answer is 204 with no body, or
// 200 with one JSON text holding responses, or 413; never a panic.
func FuzzHTTPBody(f *testing.F) {
	for _, tt := range specExamples {
		f.Add([]byte(tt.in))
	}
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"echo","params":["x"],"id":"~n0"}`,
		`[{"jsonrpc":"2.0","method":"update"},{"jsonrpc":"2.0","result":1,"id":1}]`,
		`{"method":"echo","params":null,"id":null}`, "\xff", deep(100),
	} {
		f.Add([]byte(s))
	}
	s := NewServerWithOptions(specRegistry(f), Options{MaxMessageSize: 1 << 16})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusNoContent:
			if w.Body.Len() != 0 {
				t.Fatalf("204 with a body %q", w.Body.Bytes())
			}
		case http.StatusOK:
			env, err := rpc.ParseEnvelope(w.Body.Bytes(), 1<<20)
			if err != nil {
				t.Fatalf("answer is not JSON-RPC: %v: %q", err, w.Body.Bytes())
			}
			for _, m := range env.Msgs {
				if m.Kind != rpc.KindResponse {
					t.Fatalf("answer holds a non-response: %q", w.Body.Bytes())
				}
			}
		case http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %q", w.Code, w.Body.Bytes())
		}
	})
}
