package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/peer/browser/browsertest"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// shared is the one browser process the package's tests share; each test
// opens its own tab.
var shared struct {
	once    sync.Once
	err     error
	browser *browsertest.Browser
}

// browser returns the shared browser, starting it on first use, or skips
// the test when Chromium is not installed.
func browser(t testing.TB) *browsertest.Browser {
	t.Helper()
	browsertest.Need(t)
	shared.once.Do(func() { shared.browser, shared.err = browsertest.Start() })
	require.NoError(t, shared.err)
	return shared.browser
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.browser != nil {
		shared.browser.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testPage loads the client and exposes it as window.peerd.
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>peerd test</title>
<script type="module">
import * as peerd from "/peerd.js";
window.peerd = peerd;
window.peerdReady = true;
</script>
`

// env is one test's Go side: an HTTP server on 127.0.0.1 serving the test
// page, the client and a signaling endpoint at /signal, and a Go peer
// listening in room "test" with reg's methods (newEnv) or with the options
// given (newEnvWith).
type env struct {
	t    *testing.T
	srv  *httptest.Server
	sig  *signaling.Server
	ln   *peer.Listener
	base string
	// conns receives every connection the Go peer accepts.
	conns chan *peer.Conn
	wg    sync.WaitGroup
	stop  context.CancelFunc

	mu       sync.Mutex // guards accepted
	accepted []*peer.Conn
}

func newEnv(t *testing.T, reg *rpc.Registry) *env {
	t.Helper()
	return newEnvWith(t, peer.Options{RPC: rpc.Options{Registry: reg}})
}

// newEnvWith is newEnv with the Go peer's options (its network is always
// loopback).
func newEnvWith(t *testing.T, o peer.Options) *env {
	t.Helper()
	sig := signaling.NewServer(signaling.ServerOptions{})
	mux := http.NewServeMux()
	mux.Handle("/signal", sig)
	mux.Handle("/peerd.js", Handler())
	mux.Handle("/peerd.d.ts", Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(testPage))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()

	e := &env{t: t, srv: srv, sig: sig, base: srv.URL, conns: make(chan *peer.Conn, 4)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/signal"
	o.Network = peer.NetworkLoopback
	e.ln, err = peer.Listen(ctx, wsURL, "test", o)
	require.NoError(t, err)

	actx, stop := context.WithCancel(context.Background())
	e.stop = stop
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := e.ln.Accept(actx)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.accepted = append(e.accepted, c)
			e.mu.Unlock()
			select {
			case e.conns <- c:
			default:
			}
		}
	}()
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.stop()
	e.wg.Wait()
	_ = e.ln.Close()
	e.mu.Lock()
	conns := e.accepted
	e.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	_ = e.sig.Close()
	e.srv.Close()
}

// conn waits for the Go peer's next accepted connection.
func (e *env) conn(ctx context.Context) *peer.Conn {
	e.t.Helper()
	select {
	case c := <-e.conns:
		return c
	case <-ctx.Done():
		e.t.Fatalf("no connection accepted: %v", ctx.Err())
		return nil
	}
}

// tab opens the test page in a new tab of the shared browser; the tab
// closes when the test ends. Every action on it is bounded by timeout.
func (e *env) tab(timeout time.Duration) context.Context {
	e.t.Helper()
	ctx, cancel := browser(e.t).Tab(timeout)
	e.t.Cleanup(cancel)
	require.NoError(e.t, browsertest.Open(ctx, e.base+"/", "window.peerdReady === true"))
	return ctx
}

// eval runs an async JavaScript function body in the page; see
// browsertest.Eval.
func eval(ctx context.Context, body string, out any) error { return browsertest.Eval(ctx, body, out) }

// connectJS is the page-side prologue most tests share: connect to the Go
// peer in room "test" and keep the pair in window.pair.
const connectJS = `
window.pair = await peerd.connect({ room: "test", local: window.local || {}, connectTimeout: 15000 });
`
