package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/peer/browser/browsertest"
)

// TestWebE2EPublish drives the daemon's demo page in headless Chromium like
// a person: it connects to the store peer on its own, calls a Go function,
// takes a folder dropped onto it, publishes it with the progress bar, lists
// it and serves it under /sites/. A screenshot is saved to $PEERD_ARTIFACTS
// (default: the test's temporary directory) and its path logged.
func TestWebE2EPublish(t *testing.T) {
	browsertest.Need(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := startDaemon(sctx, ln, daemonConfig{dataDir: filepath.Join(t.TempDir(), "data"), room: "public", loopbackOnly: true})
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, d.shutdown(ctx))
	}()
	base := "http://" + ln.Addr().String()

	br, err := browsertest.Start()
	require.NoError(t, err)
	defer br.Close()
	ctx, closeTab := br.Tab(45 * time.Second)
	defer closeTab()
	require.NoError(t, browsertest.Open(ctx, base+"/", `document.querySelector("#status")?.dataset.state === "connected"`))

	// demo.add with the page's default arguments (2, 3).
	var out string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#call-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#call-result .value")?.textContent ?? ""`, &out, chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Equal(t, "5", out)

	// A folder dropped through the browser's own drag and drop.
	site := filepath.Join(t.TempDir(), "Holiday Photos")
	require.NoError(t, os.MkdirAll(filepath.Join(site, "img"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>holiday</h1>"), 0o644))
	photo := make([]byte, 2<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range photo {
		photo[i] = byte(r.Uint32())
	}
	require.NoError(t, os.WriteFile(filepath.Join(site, "img", "beach.jpg"), photo, 0o644))
	require.NoError(t, webE2EDrop(ctx, "#drop", []string{site}))
	var name string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#pending", chromedp.ByQuery),
		chromedp.Value("#bundle-name", &name, chromedp.ByQuery),
	))
	assert.Equal(t, "holiday-photos", name)

	var widths []string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`window.widths = [];
new MutationObserver(() => window.widths.push(document.querySelector("#progress-fill").style.width))
  .observe(document.querySelector("#progress-fill"), { attributes: true });`, nil),
		chromedp.Click("#publish-btn", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#progress").hasAttribute("data-done") || document.querySelector("#progress").hasAttribute("data-failed")`, nil,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text("#pub-message", &out, chromedp.ByQuery),
		chromedp.Evaluate(`window.widths`, &widths),
		chromedp.Poll(`document.querySelector('#bundles li[data-name="holiday-photos"]') !== null`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Equal(t, "Published /sites/holiday-photos/", out)
	require.NotEmpty(t, widths)
	assert.Greater(t, len(widths), 3, "progress updates: %v", widths)
	assert.Equal(t, "100%", widths[len(widths)-1])

	// The daemon serves what was published, and its store agrees.
	assert.Equal(t, "<h1>holiday</h1>", webE2EGet(t, base+"/sites/holiday-photos/"))
	assert.Equal(t, string(photo), webE2EGet(t, base+"/sites/holiday-photos/img/beach.jpg"))
	info, err := d.store.Stat("holiday-photos")
	require.NoError(t, err)
	assert.Equal(t, 2, info.Files)

	var png []byte
	require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
	browsertest.SaveArtifact(t, browsertest.ArtifactDir(t, ""), "daemon-demo-page.png", png)

	// Close the page first so the daemon's shutdown finds no peer busy.
	closeTab()
}

func webE2EGet(t *testing.T, url string) string {
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
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, b)
	return string(b)
}

// webE2EDrop drags paths (files or folders on disk) from outside the page
// onto the element matching sel.
func webE2EDrop(ctx context.Context, sel string, paths []string) error {
	var at []float64
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(
		`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })()`, sel), &at)); err != nil {
		return err
	}
	if len(at) != 2 {
		return fmt.Errorf("drop target %s not found", sel)
	}
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: paths, DragOperationsMask: 1 | 16}
	return chromedp.Run(ctx,
		input.DispatchDragEvent(input.DragEnter, at[0], at[1], data),
		input.DispatchDragEvent(input.DragOver, at[0], at[1], data),
		input.DispatchDragEvent(input.Drop, at[0], at[1], data),
	)
}
