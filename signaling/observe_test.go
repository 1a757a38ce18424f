package signaling

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/binchannel"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLoggerAndStats(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, url := testServer(t, ServerOptions{Logger: log})
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	_, err := Dial(ctxT(t), url, ClientOptions{Header: h})
	require.Error(t, err)
	a, _ := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	nextKind(t, a, EventJoin)
	require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(`1`)))
	nextKind(t, b, EventSignal)

	st := s.Stats()
	assert.EqualValues(t, 2, st.Connections)
	assert.EqualValues(t, 2, st.ConnectionsTotal)
	assert.EqualValues(t, 1, st.Rooms)
	assert.EqualValues(t, 2, st.Peers)
	assert.EqualValues(t, 1, st.SignalsRelayed)
	assert.EqualValues(t, 1, st.Errors["origin"])
	out := buf.String()
	assert.Contains(t, out, "origin refused")
	assert.Contains(t, out, "joined")
}

func TestSilentByDefault(t *testing.T) {
	var buf syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	_, url := testServer(t, ServerOptions{})
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	_, err := Dial(ctxT(t), url, ClientOptions{Header: h})
	require.Error(t, err)
	joined(t, url, "r", ClientOptions{})
	assert.Empty(t, buf.String())
}

// FuzzClientEvents has a hostile server send arbitrary packets to a Client:
// the client must neither panic nor hang on Close.
func FuzzClientEvents(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"join","seq":1,"peer":"x","role":"publisher"}]}`,
		`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"signal","seq":1,"peer":"x","payload":{"a":1}}]}`,
		`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"leave","seq":99999999999}]}`,
		`{"jsonrpc":"2.0","method":"signal.event","params":[{"kind":"shutdown","seq":0}]}`,
		`{"jsonrpc":"2.0","method":"signal.event","params":[null]}`,
		`{"jsonrpc":"2.0","id":1,"method":"signal.join","params":[{"room":"r"}]}`,
		`{"jsonrpc":"2.0","result":{"id":"x"},"id":1}`,
		`[]`,
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		served := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(served)
			ws, err := websocketUpgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			ch := binchannel.New(binchannel.NewWebSocket(ws, binchannel.WebSocketOptions{}))
			defer ch.Close()
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			_ = ch.SendPacket(ctx, binchannel.Packet{JSON: []byte(first)})
			_ = ch.SendPacket(ctx, binchannel.Packet{JSON: []byte(second)})
			_, _ = ch.RecvPacket(ctx) // until the client goes
		}))
		defer hs.Close()
		c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"), ClientOptions{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _ = c.Join(ctx, "r") // answered or not, it must return
		require.NoError(t, c.Close())
		<-served
	})
}
