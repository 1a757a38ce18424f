// Package browsertest drives headless Chromium for peerd's end-to-end
// tests and benchmarks: it finds the browser, starts it with the flags
// WebRTC on loopback needs, opens tabs and evaluates async JavaScript in
// them.
//
// Chromium is found at $PEERD_CHROMIUM or /usr/bin/chromium; when it is
// missing, tests should skip with InstallHint:
//
//	if browsertest.Path() == "" {
//		t.Skipf("Chromium not found; install it with: %s", browsertest.InstallHint)
//	}
//	br, err := browsertest.Start()
//	...
//	defer br.Close()
//	ctx, cancel := br.Tab(30 * time.Second)
//	defer cancel()
//	err = browsertest.Open(ctx, url, "window.ready === true")
//	var sum int
//	err = browsertest.Eval(ctx, "return 1 + 2", &sum)
//
// Screenshots and other files a person should look at after the run go to
// ArtifactDir ($PEERD_ARTIFACTS when set) with SaveArtifact.
//
// A Browser is safe for concurrent use; each tab by one goroutine at a time.
package browsertest
