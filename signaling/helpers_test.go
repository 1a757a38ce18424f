package signaling

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

const waitLong = 10 * time.Second

// testServer runs s on a loopback httptest server and shuts both down at
// the end of the test.
func testServer(t *testing.T, o ServerOptions) (*Server, string) {
	t.Helper()
	s := NewServer(o)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		hs.Close()
	})
	return s, "ws" + strings.TrimPrefix(hs.URL, "http")
}

func dial(t *testing.T, url string, o ClientOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	c, err := Dial(ctx, url, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func joined(t *testing.T, url, room string, o ClientOptions) (*Client, JoinResult) {
	t.Helper()
	c := dial(t, url, o)
	res, err := c.Join(ctxT(t), room)
	require.NoError(t, err)
	return c, res
}

// ctxT returns a context bounded by waitLong and cancelled with the test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// next waits for c's next event.
func next(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		require.True(t, ok, "events closed")
		return ev
	case <-time.After(waitLong):
		t.Fatal("no event")
		return Event{}
	}
}

// nextKind skips events until one of kind arrives.
func nextKind(t *testing.T, c *Client, kind EventKind) Event {
	t.Helper()
	for {
		if ev := next(t, c); ev.Kind == kind {
			return ev
		}
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// fuzzHTTP serves s for a fuzz target and shuts it down afterwards.
func fuzzHTTP(f *testing.F, s *Server) (*httptest.Server, string) {
	hs := httptest.NewServer(s)
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	return hs, "ws" + strings.TrimPrefix(hs.URL, "http")
}

var websocketUpgrader = websocket.Upgrader{}

// newHTTPTest serves s on loopback and closes the listener at the end; the
// test shuts s down itself.
func newHTTPTest(t *testing.T, s *Server) *httptest.Server {
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		_ = s.Close()
		hs.Close()
	})
	return hs
}

// atomicTime is a settable clock for ServerOptions.Clock.
type atomicTime struct{ v atomic.Int64 }

func (a *atomicTime) Store(t time.Time) { a.v.Store(t.UnixNano()) }
func (a *atomicTime) Load() time.Time   { return time.Unix(0, a.v.Load()) }
