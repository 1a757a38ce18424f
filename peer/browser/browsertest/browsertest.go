package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// InstallHint is the command that installs Chromium on Debian.
const InstallHint = "apt-get install -y --no-install-recommends chromium"

// ErrNotFound is returned by Start when no Chromium binary is found.
var ErrNotFound = errors.New("browsertest: Chromium not found at $PEERD_CHROMIUM or /usr/bin/chromium; install it with: " + InstallHint)

// Path returns $PEERD_CHROMIUM or /usr/bin/chromium when it is an
// executable file, else "".
func Path() string {
	for _, p := range []string{os.Getenv("PEERD_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
	}
	return ""
}

// RequireEnv names the environment variable that, set to 1, turns a
// missing Chromium from a skipped browser test into a failed one; CI sets
// it so that browser tests can never pass by not running.
const RequireEnv = "PEERD_REQUIRE_BROWSER"

// Need skips t when Chromium is not installed, saying how to install it,
// or fails it when $PEERD_REQUIRE_BROWSER is 1.
func Need(t testing.TB) {
	t.Helper()
	if Path() != "" {
		return
	}
	msg := "Chromium not found at /usr/bin/chromium or $PEERD_CHROMIUM; install it with: " + InstallHint
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s ($%s=1 requires the browser tests to run)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Flags are the command-line flags every browser runs with: headless, no
// sandbox (containers), no GPU, QUIC and background traffic off, and real
// host addresses in ICE candidates instead of mDNS names.
func Flags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		chromedp.WindowSize(1100, 900),
	}
}

// Browser is one running Chromium with a fresh profile directory.
//
// Concurrency: Tab and Close are safe from any goroutine; each tab's
// context is used by one goroutine at a time.
type Browser struct {
	ctx     context.Context
	cancelA context.CancelFunc
	cancelB context.CancelFunc
	dir     string
}

// Start launches Chromium and waits (at most 30 s) until it answers.
func Start() (*Browser, error) {
	path := Path()
	if path == "" {
		return nil, ErrNotFound
	}
	dir, err := os.MkdirTemp("", "peerd-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.WSURLReadTimeout(30 * time.Second),
	}, Flags()...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	// The first Run starts the browser and must get bctx itself:
	// cancelling the context of the first Run ends the browser.
	if err := chromedp.Run(bctx); err != nil {
		cancelB()
		cancelA()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("browsertest: starting %s: %w", path, err)
	}
	return &Browser{ctx: bctx, cancelA: cancelA, cancelB: cancelB, dir: dir}, nil
}

// Close ends the browser and removes its profile.
func (b *Browser) Close() {
	b.cancelB()
	b.cancelA()
	_ = os.RemoveAll(b.dir)
}

// Tab opens a new tab whose every action is bounded by timeout. cancel
// closes the tab.
func (b *Browser) Tab(timeout time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	tctx, cancelTab := chromedp.NewContext(b.ctx)
	ctx, cancelT := context.WithTimeout(tctx, timeout)
	return ctx, func() {
		cancelT()
		cancelTab()
	}
}

// Open navigates the tab to url and waits until the JavaScript expression
// ready is true (at most 15 s).
func Open(ctx context.Context, url, ready string) error {
	var ok bool
	return chromedp.Run(ctx,
		chromedp.Navigate(url),
		chromedp.Poll(ready, &ok, chromedp.WithPollingTimeout(15*time.Second)),
	)
}

// Eval runs body as the body of an async JavaScript function in the tab,
// awaits it and decodes its result (JSON) into out; out may be nil. A
// thrown exception comes back as an error with its description.
func Eval(ctx context.Context, body string, out any) error {
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
	return json.Unmarshal(raw, out)
}
