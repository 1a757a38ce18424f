package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/peer/browser"
	"github.com/peerd/peerd/peer/browser/browsertest"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"/app.js", "text/javascript; charset=utf-8", `import * as peerd from "/peerd.js"`},
		{"/tar.js", "text/javascript; charset=utf-8", "export function tarStream"},
		{"/style.css", "text/css; charset=utf-8", ".card"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		assert.Equal(t, 200, rec.Code, tc.path)
		assert.Equal(t, tc.ctype, rec.Header().Get("Content-Type"), tc.path)
		assert.Contains(t, rec.Body.String(), tc.contains, tc.path)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nope.js", nil))
	assert.Equal(t, 404, rec.Code)
}

// backend is a small stand-in for the daemon: signaling at /signal, the
// client at /peerd.js, the page at /, /config.json, published sites at
// /sites/<name>/ and a store peer in room "public" serving store.*, demo.*
// and sys.info.
type backend struct {
	srv *httptest.Server
	sig *signaling.Server
	st  *store.Store
	ln  *peer.Listener

	stop  context.CancelFunc
	done  chan struct{}
	conns chan *peer.Conn
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	require.NoError(t, err)
	reg := rpc.NewRegistry()
	require.NoError(t, reg.RegisterService("store", &store.Service{Store: st}))
	require.NoError(t, reg.Register("demo.add", func(a, b float64) float64 { return a + b }))
	require.NoError(t, reg.Register("demo.echo", func(v any) any { return v }))
	require.NoError(t, reg.Register("demo.countdown", func(ctx context.Context, n int, progress *rpc.Func) (string, error) {
		for i := n; i > 0; i-- {
			if err := progress.Call(ctx, nil, i); err != nil {
				return "", err
			}
		}
		return "done", nil
	}))
	require.NoError(t, reg.Register("sys.info", func() map[string]any { return map[string]any{"version": "test"} }))

	b := &backend{sig: signaling.NewServer(signaling.ServerOptions{}), st: st, done: make(chan struct{}), conns: make(chan *peer.Conn, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	wsURL := "ws://" + ln.Addr().String() + "/signal"
	mux := http.NewServeMux()
	mux.Handle("/signal", b.sig)
	mux.Handle("GET /peerd.js", browser.Handler())
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"signal":%q,"room":"public"}`, wsURL)
	})
	mux.HandleFunc("GET /sites/{name}/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		dir, err := st.SiteDir(r.PathValue("name"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		http.StripPrefix("/sites/"+r.PathValue("name"), http.FileServer(http.Dir(dir))).ServeHTTP(w, r)
	})
	mux.Handle("/", Handler())
	b.srv = httptest.NewUnstartedServer(mux)
	_ = b.srv.Listener.Close()
	b.srv.Listener = ln
	b.srv.Start()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.ln, err = peer.Listen(ctx, wsURL, "public", peer.Options{Network: peer.NetworkLoopback, RPC: rpc.Options{Registry: reg}})
	require.NoError(t, err)
	actx, stop := context.WithCancel(context.Background())
	b.stop = stop
	go func() {
		defer close(b.done)
		for {
			c, err := b.ln.Accept(actx)
			if err != nil {
				return
			}
			b.conns <- c
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *backend) close() {
	b.stop()
	<-b.done
	_ = b.ln.Close()
	close(b.conns)
	for c := range b.conns {
		_ = c.Close()
	}
	_ = b.sig.Close()
	b.srv.Close()
	_ = b.st.Close()
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestPagePublish drives the demo page like a person: call a Go function,
// drop a folder onto the drop zone, publish it with the progress bar, see it
// listed and open it; then choose single files with the file picker, and
// drop loose files.
func TestPagePublish(t *testing.T) {
	browsertest.Need(t)
	b := newBackend(t)
	br, err := browsertest.Start()
	require.NoError(t, err)
	defer br.Close()
	ctx, cancel := br.Tab(45 * time.Second)
	defer cancel()
	require.NoError(t, browsertest.Open(ctx, b.srv.URL+"/", `document.querySelector("#status")?.dataset.state === "connected"`))

	// Call demo.add with the default arguments, then the countdown.
	var out string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#call-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#call-result .value")?.textContent ?? ""`, &out,
			chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Equal(t, "5", out)
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#call-method", "demo.countdown", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#call-method").dispatchEvent(new Event("change"))`, nil),
		chromedp.Click("#call-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#call-result .value")?.textContent === '"done"' && document.querySelector("#call-result").textContent`, &out,
			chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Contains(t, out, "5 · 4 · 3 · 2 · 1")

	// A folder on disk, dropped through the browser's real drag and drop.
	site := filepath.Join(t.TempDir(), "My Site")
	require.NoError(t, os.MkdirAll(filepath.Join(site, "css"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>published from a browser</h1>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(site, "css", "site.css"), []byte("h1{color:#2f6fec}"), 0o644))
	big := randomBytes(3<<20, 9) // incompressible: several writes, a visible progress bar
	require.NoError(t, os.WriteFile(filepath.Join(site, "data.bin"), big, 0o644))
	require.NoError(t, dropFiles(ctx, "#drop", []string{site}))
	var name string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#pending", chromedp.ByQuery),
		chromedp.Value("#bundle-name", &name, chromedp.ByQuery),
		chromedp.Text("#pending-summary", &out, chromedp.ByQuery),
	))
	assert.Equal(t, "my-site", name)
	assert.Equal(t, "3 files · 3.0 MB", out)

	// Publish and watch the progress bar move.
	var widths []string
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(`
window.widths = [];
new MutationObserver(() => window.widths.push(document.querySelector("#progress-fill").style.width))
  .observe(document.querySelector("#progress-fill"), { attributes: true });
`, nil)))
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#publish-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#progress").hasAttribute("data-done") || document.querySelector("#progress").hasAttribute("data-failed")`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text("#pub-message", &out, chromedp.ByQuery),
		chromedp.Evaluate(`window.widths`, &widths),
	))
	assert.Equal(t, "Published /sites/my-site/", out)
	assert.Greater(t, len(widths), 4, "progress updates: %v", widths)
	assert.Equal(t, "100%", widths[len(widths)-1])

	var listed []string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Poll(`document.querySelector('#bundles li[data-name="my-site"]') !== null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll("#bundles li[data-name]")].map((li) => li.textContent)`, &listed),
	))
	require.Len(t, listed, 1)
	assert.Contains(t, listed[0], "3 files")

	// The site is served, byte for byte.
	assert.Equal(t, "<h1>published from a browser</h1>", get(t, b.srv.URL+"/sites/my-site/index.html"))
	assert.Equal(t, string(big), get(t, b.srv.URL+"/sites/my-site/data.bin"))
	info, err := b.st.Stat("my-site")
	require.NoError(t, err)
	assert.Equal(t, 3, info.Files)

	// Open it from the list: a click opens the site in a new tab.
	var href string
	require.NoError(t, chromedp.Run(ctx, chromedp.AttributeValue(`#bundles li[data-name="my-site"] a.open`, "href", &href, nil, chromedp.ByQuery)))
	assert.Equal(t, "/sites/my-site/", href)
	opened := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool {
		return info.Type == "page" && strings.HasSuffix(info.URL, "/sites/my-site/")
	})
	require.NoError(t, chromedp.Run(ctx, chromedp.Click(`#bundles li[data-name="my-site"] a.open`, chromedp.ByQuery)))
	var heading string
	select {
	case id := <-opened:
		sctx, closeSite := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
		require.NoError(t, chromedp.Run(sctx,
			chromedp.Poll(`document.readyState === "complete" && document.querySelector("h1")?.textContent`, &heading, chromedp.WithPollingTimeout(10*time.Second)),
		))
		closeSite()
	case <-time.After(10 * time.Second):
		t.Fatal("clicking Open opened no tab with the site")
	}
	assert.Equal(t, "published from a browser", heading)

	// Choose two files with the picker, publish them as "notes".
	f1 := filepath.Join(t.TempDir(), "readme.txt")
	require.NoError(t, os.WriteFile(f1, []byte("hello"), 0o644))
	f2 := filepath.Join(t.TempDir(), "index.html")
	require.NoError(t, os.WriteFile(f2, []byte("<p>notes</p>"), 0o644))
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetUploadFiles("#file-input", []string{f1, f2}, chromedp.ByQuery),
		chromedp.WaitVisible("#pending", chromedp.ByQuery),
		chromedp.Value("#bundle-name", &name, chromedp.ByQuery),
	))
	assert.Equal(t, "readme", name, "loose files are named after the first that is not an index page")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#bundle-name", "notes", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#bundle-name").dispatchEvent(new Event("input"))`, nil),
		chromedp.Click("#publish-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelectorAll("#bundles li[data-name]").length === 2`, nil, chromedp.WithPollingTimeout(15*time.Second)),
	))
	assert.Equal(t, "<p>notes</p>", get(t, b.srv.URL+"/sites/notes/index.html"))

	// Drop two loose files (no folder): they publish side by side at the
	// bundle's root, named after the one that is not an index page.
	loose := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(loose, "index.html"), []byte("<p>dropped</p>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(loose, "About Us.txt"), []byte("two files, no folder"), 0o644))
	require.NoError(t, dropFiles(ctx, "#drop", []string{filepath.Join(loose, "index.html"), filepath.Join(loose, "About Us.txt")}))
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#pending", chromedp.ByQuery),
		chromedp.Value("#bundle-name", &name, chromedp.ByQuery),
		chromedp.Text("#pending-summary", &out, chromedp.ByQuery),
	))
	assert.Equal(t, "about-us", name)
	assert.Equal(t, "2 files · 34 B", out)
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#publish-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector('#bundles li[data-name="about-us"]') !== null`, nil, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Text("#pub-message", &out, chromedp.ByQuery),
	))
	assert.Equal(t, "Published /sites/about-us/", out)
	assert.Equal(t, "<p>dropped</p>", get(t, b.srv.URL+"/sites/about-us/index.html"))
	assert.Equal(t, "two files, no folder", get(t, b.srv.URL+"/sites/about-us/About%20Us.txt"))
	info, err = b.st.Stat("about-us")
	require.NoError(t, err)
	assert.Equal(t, 2, info.Files)

	// Show the sum in the call box for the screenshot, then take it.
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#call-method", "demo.add", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#call-method").dispatchEvent(new Event("change"))`, nil),
		chromedp.Click("#call-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#call-result .value")?.textContent === "5"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	))
	// Screenshots go to $PEERD_ARTIFACTS, else testdata/out (ignored by git).
	dir := browsertest.ArtifactDir(t, filepath.Join("testdata", "out"))
	var png []byte
	require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
	browsertest.SaveArtifact(t, dir, "demo-page.png", png)

	// The same page on a phone-sized screen.
	require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(390, 844), chromedp.FullScreenshot(&png, 100)))
	browsertest.SaveArtifact(t, dir, "demo-page-narrow.png", png)
}

func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, "%s: %s", url, b)
	return string(b)
}

// dropFiles drags paths (files or folders on disk) from outside the page
// onto the element matching sel, as a person would.
func dropFiles(ctx context.Context, sel string, paths []string) error {
	var box []float64
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(
		`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })()`, sel), &box)); err != nil {
		return err
	}
	if len(box) != 2 {
		return errors.New("drop target not found")
	}
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: paths, DragOperationsMask: 1 | 16} // copy | move
	return chromedp.Run(ctx,
		input.DispatchDragEvent(input.DragEnter, box[0], box[1], data),
		input.DispatchDragEvent(input.DragOver, box[0], box[1], data),
		input.DispatchDragEvent(input.Drop, box[0], box[1], data),
	)
}
