package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/signaling"
)

// watchBuffer is a syncBuffer that wakes waiters on every write.
type watchBuffer struct {
	syncBuffer
	mu      sync.Mutex // guards changed
	changed chan struct{}
}

func newWatchBuffer() *watchBuffer {
	return &watchBuffer{changed: make(chan struct{})}
}

func (w *watchBuffer) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return n, err
}

// next returns a channel closed by the next write.
func (w *watchBuffer) next() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// runningCLI is a long-running peerd command (signal, serve, the daemon)
// started by a test.
type runningCLI struct {
	out    *watchBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startCLI runs peerd with args until the test ends or stop is called.
func startCLI(t *testing.T, args ...string) *runningCLI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningCLI{out: newWatchBuffer(), cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- run(ctx, args, &cliEnv{stdout: r.out, stderr: r.out, stdin: strings.NewReader("")})
	}()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("peerd %s: %v\n%s", args[0], err, r.out.String())
		}
	})
	return r
}

// stop cancels the command, as Ctrl-C does, and returns its error.
func (r *runningCLI) stop(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("command did not stop:\n%s", r.out.String())
		}
	})
	return r.err
}

// waitFor waits until the command's output matches re and returns the
// submatches; it fails the test if the command exits first or takes longer
// than 30 seconds.
func (r *runningCLI) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		next := r.out.next()
		if m := re.FindStringSubmatch(r.out.String()); m != nil {
			return m
		}
		select {
		case <-next:
		case err := <-r.done:
			r.done <- err
			t.Fatalf("command exited (%v) before printing %s:\n%s", err, re, r.out.String())
		case <-timeout:
			t.Fatalf("no %s in the output after 30s:\n%s", re, r.out.String())
		}
	}
}

var (
	signalReady = regexp.MustCompile(`peerd signaling on ws://(\S+)/ `)
	serveReady  = regexp.MustCompile(`Ctrl-C stops it`)
)

// startSignal runs `peerd signal` on a free loopback port and returns its
// signaling URL.
func startSignal(t *testing.T, extra ...string) (string, *runningCLI) {
	t.Helper()
	sig := startCLI(t, append([]string{"signal", "-addr", "127.0.0.1:0"}, extra...)...)
	return "ws://" + sig.waitFor(t, signalReady)[1] + "/signal", sig
}

func TestServeNeedsPublisherTokenWhenSecretIsSet(t *testing.T) {
	const secret = "serve-secret-for-tests"
	url, _ := startSignal(t, "-secret", secret)
	srv := startCLI(t, "serve", "--signal", url, "--secret", secret, "--data", filepath.Join(t.TempDir(), "data"))
	srv.waitFor(t, serveReady)
	assert.Contains(t, srv.out.String(), "publishing and deleting need a publisher token")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"index.html": []byte("x")})
	sub, err := signaling.NewToken([]byte(secret), "public", signaling.RoleSubscriber, time.Hour)
	require.NoError(t, err)
	pub, err := signaling.NewToken([]byte(secret), "public", signaling.RolePublisher, time.Hour)
	require.NoError(t, err)

	_, _, err = runCLI(ctx, "publish", src, "--name", "site", "--signal", url, "--token", sub)
	require.ErrorContains(t, err, "publishing and deleting require a publisher token", "a subscriber token may not publish")
	out, errOut, err := runCLI(ctx, "call", "store.list", "--signal", url, "--token", sub)
	require.NoError(t, err, "a subscriber may read: %s", errOut)
	assert.Equal(t, "[]\n", out)

	out, errOut, err = runCLI(ctx, "publish", src, "--name", "site", "--signal", url, "--token", pub)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "published site")

	_, _, err = runCLI(ctx, "call", "store.delete", "site", "--signal", url, "--token", sub)
	require.ErrorContains(t, err, "publishing and deleting require a publisher token", "a subscriber token may not delete")
	out, _, err = runCLI(ctx, "call", "store.list", "--signal", url, "--token", sub)
	require.NoError(t, err)
	assert.Contains(t, out, `"name": "site"`, "still there")

	_, _, err = runCLI(ctx, "call", "store.delete", "site", "--signal", url, "--token", pub)
	require.NoError(t, err)
	out, _, err = runCLI(ctx, "call", "store.list", "--signal", url, "--token", pub)
	require.NoError(t, err)
	assert.Equal(t, "[]\n", out)
}

var serveSites = regexp.MustCompile(`sites at (http://\S+)/sites/NAME/`)

func TestPublishPrintsWhereTheStorePeerServes(t *testing.T) {
	url, _ := startSignal(t)
	// One store peer without HTTP, one with, in two rooms.
	bare := startCLI(t, "serve", "--signal", url, "--room", "bare", "--data", filepath.Join(t.TempDir(), "bare"))
	bare.waitFor(t, serveReady)
	web := startCLI(t, "serve", "--signal", url, "--room", "web", "--data", filepath.Join(t.TempDir(), "web"), "--http", "127.0.0.1:0")
	base := web.waitFor(t, serveSites)[1]
	web.waitFor(t, serveReady)
	sigHost := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/signal")
	require.NotEqual(t, "http://"+sigHost, base, "the HTTP server is not the signaling server")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"index.html": []byte("<p>served</p>")})

	out, errOut, err := runCLI(ctx, "publish", src, "--name", "site", "--signal", url, "--room", "bare")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "published site")
	assert.NotContains(t, out, "served at", "a store peer without HTTP serves no URL")

	out, errOut, err = runCLI(ctx, "publish", src, "--name", "site", "--signal", url, "--room", "web")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "served at "+base+"/sites/site/\n")
	code, body := httpGet(t, base+"/sites/site/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "<p>served</p>", body)
}

func TestAdvertisedBase(t *testing.T) {
	assert.Equal(t, "http://127.0.0.1:8080", advertisedBase(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
	assert.Equal(t, "http://[::1]:9", advertisedBase(&net.TCPAddr{IP: net.IPv6loopback, Port: 9}))
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, "http://"+net.JoinHostPort(host, "8080"), advertisedBase(&net.TCPAddr{IP: net.IPv4zero, Port: 8080}))
	assert.Equal(t, "http://"+net.JoinHostPort(host, "8080"), advertisedBase(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}))
}

func TestServeQuotaFlags(t *testing.T) {
	url, _ := startSignal(t)
	srv := startCLI(t, "serve", "--signal", url, "--data", filepath.Join(t.TempDir(), "data"), "--max-bundle", "6KiB", "--max-store", "8KiB")
	srv.waitFor(t, serveReady)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publish := func(name string, size int) error {
		src := t.TempDir()
		writeFiles(t, src, map[string][]byte{"f.bin": pseudoRandom(size, byte(size))})
		_, _, err := runCLI(ctx, "publish", src, "--name", name, "--signal", url)
		return err
	}
	require.ErrorContains(t, publish("big", 7000), "bundle exceeds size quota", "--max-bundle")
	require.NoError(t, publish("a", 4000))
	require.ErrorContains(t, publish("b", 4001), "store quota exceeded", "--max-store")

	_, _, err := runCLI(ctx, "serve", "--signal", url, "--max-store", "lots")
	require.ErrorContains(t, err, "lots")
	assert.Equal(t, 2, exitCode(err))
}

// TestSignalAndServeCommands runs `peerd signal` and `peerd serve` as a user
// would, on loopback, and publishes, fetches and deletes through them.
func TestSignalAndServeCommands(t *testing.T) {
	url, sig := startSignal(t)
	assert.Regexp(t, `^peerd signaling on ws://127\.0\.0\.1:\d+/ \(any path\); Ctrl-C stops it\n$`, sig.out.String())
	data := filepath.Join(t.TempDir(), "data")
	srv := startCLI(t, "serve", "--signal", url, "--room", "shelf", "--data", data, "--http", "127.0.0.1:0")
	base := srv.waitFor(t, serveSites)[1]
	srv.waitFor(t, serveReady)
	assert.Contains(t, srv.out.String(), `store peer in room "shelf" via `+url+", data in "+data+"\n")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := map[string][]byte{
		"index.html":    []byte("<h1>shelf</h1>"),
		"bin/blob.bin":  pseudoRandom(1<<20, 7),
		"bin/empty.bin": {},
	}
	writeFiles(t, src, files)
	room := []string{"--signal", url, "--room", "shelf"}

	out, errOut, err := runCLI(ctx, append([]string{"publish", src, "--name", "books"}, room...)...)
	require.NoError(t, err, "%s\n%s", out, errOut)
	assert.Contains(t, out, "published books (3 files")
	assert.Contains(t, out, "served at "+base+"/sites/books/\n")
	code, body := httpGet(t, base+"/sites/books/bin/blob.bin")
	assert.Equal(t, 200, code)
	assert.True(t, bytes.Equal(files["bin/blob.bin"], []byte(body)))

	dst := filepath.Join(t.TempDir(), "copy")
	out, errOut, err = runCLI(ctx, append([]string{"fetch", "books", "-o", dst}, room...)...)
	require.NoError(t, err, "%s\n%s", out, errOut)
	assert.Contains(t, out, "fetched books into "+dst+" (3 files, sha256 ")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), name)
	}

	out, errOut, err = runCLI(ctx, append([]string{"call", "store.list"}, room...)...)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, `"name": "books"`)
	out, errOut, err = runCLI(ctx, append([]string{"call", "store.delete", "books"}, room...)...)
	require.NoError(t, err, errOut)
	assert.Equal(t, "null\n", out)
	out, _, err = runCLI(ctx, append([]string{"call", "store.list"}, room...)...)
	require.NoError(t, err)
	assert.Equal(t, "[]\n", out)
	_, _, err = runCLI(ctx, append([]string{"call", "store.delete", "books"}, room...)...)
	require.ErrorContains(t, err, "no such bundle")
	_, _, err = runCLI(ctx, append([]string{"fetch", "books", "-o", filepath.Join(t.TempDir(), "gone")}, room...)...)
	require.ErrorContains(t, err, "no such bundle")
	code, _ = httpGet(t, base+"/sites/books/")
	assert.Equal(t, 404, code)
	left, err := filepath.Glob(filepath.Join(data, "bundles", "books.*"))
	require.NoError(t, err)
	assert.Empty(t, left)

	// Ctrl-C stops both cleanly.
	require.NoError(t, srv.stop(t))
	require.NoError(t, sig.stop(t))
}

func TestAddrFromEnvironment(t *testing.T) {
	t.Setenv("PEERD_ADDR", "127.0.0.1:0")
	// The daemon listens where PEERD_ADDR says, not on its default :8080.
	d := startCLI(t, "-data", filepath.Join(t.TempDir(), "data"))
	base := d.waitFor(t, regexp.MustCompile(`web page    (http://127\.0\.0\.1:(\d+))/`))
	assert.NotEqual(t, "8080", base[2])
	code, body := httpGet(t, base[1]+"/status.json")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"room": "public"`)
	// So does the signaling server alone.
	sig := startCLI(t, "signal")
	addr := sig.waitFor(t, signalReady)[1]
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, addr)
	assert.NotEqual(t, "127.0.0.1:8080", addr)
	require.NoError(t, sig.stop(t))
	require.NoError(t, d.stop(t))
	assert.Contains(t, d.out.String(), "peerd stopped")
}
