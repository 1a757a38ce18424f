package browser

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// chromiumFlags are the flags every test browser runs with: headless, no
// background traffic, and real host addresses in ICE candidates.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
}

const installHint = "apt-get install -y --no-install-recommends chromium"

// chromiumPath returns $PEERD_CHROMIUM or /usr/bin/chromium, or "" when
// neither is an executable.
func chromiumPath() string {
	for _, p := range []string{os.Getenv("PEERD_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
	}
	return ""
}

// shared is the one browser process the package's tests share; each test
// opens its own tab.
var shared struct {
	once     sync.Once
	err      error
	dir      string
	cancelA  context.CancelFunc
	browser  context.Context
	cancelB  context.CancelFunc
	disabled bool
}

// browserCtx returns the shared browser's context, starting it on first
// use, or skips the test when Chromium is not installed.
func browserCtx(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skipf("Chromium not found at /usr/bin/chromium or $PEERD_CHROMIUM; install it with: %s", installHint)
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "peerd-chromium-")
		if shared.err != nil {
			return
		}
		opts := append([]chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.UserDataDir(shared.dir),
			chromedp.WSURLReadTimeout(30 * time.Second),
		}, chromiumFlags...)
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelB := chromedp.NewContext(actx)
		// Start the browser now so that a broken install fails here and
		// not inside a test's timeout. The first Run must get bctx itself
		// (cancelling its context would end the browser); the start-up is
		// bounded by WSURLReadTimeout.
		if err := chromedp.Run(bctx); err != nil {
			cancelB()
			cancelA()
			shared.err = fmt.Errorf("starting %s: %w", path, err)
			return
		}
		shared.cancelA, shared.browser, shared.cancelB = cancelA, bctx, cancelB
	})
	require.NoError(t, shared.err)
	return shared.browser
}

// closeBrowser ends the shared browser and removes its profile.
func closeBrowser() {
	if shared.cancelB != nil {
		shared.cancelB()
		shared.cancelA()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeBrowser()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
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
// listening in room "test" with reg's methods.
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
	e.ln, err = peer.Listen(ctx, wsURL, "test", peer.Options{
		Network: peer.NetworkLoopback,
		RPC:     rpc.Options{Registry: reg},
	})
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
	bctx := browserCtx(e.t)
	tctx, cancelTab := chromedp.NewContext(bctx)
	ctx, cancel := context.WithTimeout(tctx, timeout)
	e.t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	var ok bool
	require.NoError(e.t, chromedp.Run(ctx,
		chromedp.Navigate(e.base+"/"),
		chromedp.Poll("window.peerdReady === true", &ok, chromedp.WithPollingTimeout(10*time.Second)),
	))
	return ctx
}

// eval runs an async JavaScript function body in the page, awaits it and
// decodes its (JSON) result into out (nil to discard).
func eval(ctx context.Context, body string, out any) error {
	expr := "(async () => {\n" + body + "\n})()"
	var raw []byte
	err := chromedp.Run(ctx, chromedp.Evaluate(expr, &raw, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil {
		var exc *runtime.ExceptionDetails
		if errors.As(err, &exc) && exc.Exception != nil {
			return fmt.Errorf("javascript: %s", exc.Exception.Description)
		}
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return jsonUnmarshal(raw, out)
}

// connectJS is the page-side prologue most tests share: connect to the Go
// peer in room "test" and keep the pair in window.pair.
const connectJS = `
window.pair = await peerd.connect({ room: "test", local: window.local || {}, connectTimeout: 15000 });
`
