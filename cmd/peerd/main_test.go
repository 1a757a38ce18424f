package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
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

// runCLI runs peerd with args and returns its stdout, stderr and error.
func runCLI(ctx context.Context, args ...string) (string, string, error) {
	var out, errb syncBuffer
	err := run(ctx, args, &cliEnv{stdout: &out, stderr: &errb, stdin: strings.NewReader("")})
	return out.String(), errb.String(), err
}

// testDaemon runs the all-in-one daemon on a free loopback port until the
// test ends.
type testDaemon struct {
	d      *daemon
	out    *syncBuffer
	signal string
	base   string
	// cancel stops the daemon as Ctrl-C does, without waiting; stop also
	// waits until it has stopped and returns its error.
	cancel context.CancelFunc
	stop   func() error
}

func startTestDaemon(t *testing.T, extra ...string) *testDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	args := append([]string{"-addr", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "data")}, extra...)
	go func() {
		done <- run(ctx, args, &cliEnv{stdout: out, stderr: out, stdin: strings.NewReader(""), ready: func(d *daemon) { ready <- d }})
	}()
	var d *daemon
	select {
	case d = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon exited: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("daemon did not start:\n%s", out.String())
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = errors.New("daemon did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { assert.NoError(t, stop()) })
	return &testDaemon{d: d, out: out, signal: d.signalURL, base: d.baseURL, cancel: cancel, stop: stop}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestDaemonBannerStatusAndPages(t *testing.T) {
	td := startTestDaemon(t)
	banner := td.out.String()
	assert.Contains(t, banner, "web page    "+td.base+"/")
	assert.Contains(t, banner, "publish ./some-directory --name hello --signal "+td.signal)

	code, body := httpGet(t, td.base+"/status.json")
	require.Equal(t, http.StatusOK, code)
	var st status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	assert.Equal(t, "public", st.Room)
	assert.Empty(t, st.Bundles)
	assert.GreaterOrEqual(t, st.Signaling.Peers, int64(1), "the store peer has joined")

	code, body = httpGet(t, td.base+"/status")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "No bundles yet")
	code, body = httpGet(t, td.base+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<html")
	code, body = httpGet(t, td.base+"/peerd.js")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "export")
	code, body = httpGet(t, td.base+"/config.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"room": "public"`)
	code, _ = httpGet(t, td.base+"/sites/nothing/")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = httpGet(t, td.base+"/sites/..%2fetc/")
	assert.NotEqual(t, http.StatusOK, code)
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
}

func pseudoRandom(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func TestPublishServeFetchCallOverDataChannels(t *testing.T) {
	td := startTestDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := map[string][]byte{
		"index.html":       []byte("<h1>hello peerd</h1>"),
		"assets/big.bin":   pseudoRandom(3<<20, 1),
		"assets/empty.txt": {},
	}
	writeFiles(t, src, files)
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	require.NoError(t, os.Chtimes(src, mtime, mtime))

	out, errOut, err := runCLI(ctx, "publish", src, "--name", "hello", "--signal", td.signal)
	require.NoError(t, err, "%s\n%s", out, errOut)
	assert.Contains(t, out, "published hello (3 files")
	assert.Contains(t, out, "served at "+td.base+"/sites/hello/")
	assert.Contains(t, out, "100%")

	code, body := httpGet(t, td.base+"/sites/hello/")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "<h1>hello peerd</h1>", body)
	code, body = httpGet(t, td.base+"/sites/hello/assets/big.bin")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, bytes.Equal(files["assets/big.bin"], []byte(body)), "served bytes match")

	dst := filepath.Join(t.TempDir(), "copy")
	out, errOut, err = runCLI(ctx, "fetch", "hello", "-o", dst, "--signal", td.signal)
	require.NoError(t, err, "%s\n%s", out, errOut)
	assert.Contains(t, out, "verified")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), name)
	}

	out, errOut, err = runCLI(ctx, "call", "demo.add", "2", "40", "--signal", td.signal)
	require.NoError(t, err, "%s\n%s", out, errOut)
	assert.Equal(t, "42\n", out)
	out, _, err = runCLI(ctx, "call", "store.list", "--signal", td.signal)
	require.NoError(t, err)
	assert.Contains(t, out, `"name": "hello"`)
	_, _, err = runCLI(ctx, "call", "no.such.method", "--signal", td.signal)
	require.ErrorContains(t, err, "not found")

	// The status page lists the bundle with its size, mtime and SHA-256.
	info, err := td.d.store.Stat("hello")
	require.NoError(t, err)
	assert.True(t, info.Mtime.Equal(mtime), "the directory's mtime travels with the bundle: %v", info.Mtime)
	code, body = httpGet(t, td.base+"/status")
	assert.Equal(t, http.StatusOK, code)
	_, row, found := strings.Cut(body, `<a href="/sites/hello/">hello</a>`)
	require.True(t, found, body)
	row, _, found = strings.Cut(row, "</tr>")
	require.True(t, found, body)
	assert.Contains(t, row, "<td>"+humanSize(info.Size)+"</td>")
	assert.Contains(t, row, "<td>3</td>", "files")
	assert.Contains(t, row, "<td>2024-05-06 07:08:09</td>")
	assert.Contains(t, row, `title="`+info.SHA256+`"`)
	assert.Contains(t, row, ">"+info.SHA256[:12]+"…</code>")
	code, body = httpGet(t, td.base+"/status.json")
	assert.Equal(t, http.StatusOK, code)
	var st status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Len(t, st.Bundles, 1)
	assert.Equal(t, info.Size, st.Bundles[0].Size)
	assert.Equal(t, info.SHA256, st.Bundles[0].SHA256)
	assert.True(t, st.Bundles[0].Mtime.Equal(mtime))
}

func TestShareAndGetDirectly(t *testing.T) {
	td := startTestDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := map[string][]byte{"a.txt": []byte("direct"), "d/b.bin": pseudoRandom(700_000, 2)}
	writeFiles(t, src, files)

	shareOut := &syncBuffer{}
	shareDone := make(chan error, 1)
	go func() {
		shareDone <- run(ctx, []string{"share", src, "--code", "abcd-efgh", "--signal", td.signal},
			&cliEnv{stdout: shareOut, stderr: shareOut, stdin: strings.NewReader("")})
	}()
	dst := filepath.Join(t.TempDir(), "got")
	out, errOut, err := runCLI(ctx, "get", "abcd-efgh", "-o", dst, "--signal", td.signal)
	require.NoError(t, err, "%s\n%s\nshare: %s", out, errOut, shareOut.String())
	assert.Contains(t, out, "verified")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), name)
	}
	select {
	case err := <-shareDone:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("share did not end after the download")
	}
	assert.Contains(t, shareOut.String(), "get abcd-efgh -o DIR")
}

func TestCLIUsageAndHelp(t *testing.T) {
	ctx := context.Background()
	out, _, err := runCLI(ctx, "--help")
	require.NoError(t, err)
	for _, c := range []string{"publish", "fetch", "share", "get", "call", "signal", "serve", "bench"} {
		assert.Contains(t, out, "  "+c+" ")
	}
	assert.Contains(t, out, "PEERD_ADDR")

	_, errOut, err := runCLI(ctx, "publish", "--help")
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, errOut, "usage: peerd publish PATH --name NAME")
	assert.Contains(t, errOut, "PEERD_SIGNAL")

	_, _, err = runCLI(ctx, "frobnicate")
	require.ErrorContains(t, err, `unknown command "frobnicate"`)
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(ctx, "publish")
	require.ErrorContains(t, err, "one PATH")
	assert.Equal(t, 2, exitCode(err))
	_, _, err = runCLI(ctx, "get", "not-a-code", "-o", t.TempDir())
	require.ErrorContains(t, err, "share code")
	_, _, err = runCLI(ctx, "publish", t.TempDir(), "--name", "Bad Name")
	require.ErrorContains(t, err, "invalid bundle name")

	out, _, err = runCLI(ctx, "version")
	require.NoError(t, err)
	assert.Equal(t, "peerd "+version+"\n", out)
}

func TestParseInterleaved(t *testing.T) {
	fs := newFlagSet(&command{name: "x"}, io.Discard)
	name := fs.String("name", "", "")
	pos, err := parseInterleaved(fs, []string{"a", "--name", "n", "b", "--", "-c"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "-c"}, pos)
	assert.Equal(t, "n", *name)
}

func TestBuildParams(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"[1,2]"}, "[1,2]"},
		{[]string{`{"a":1}`}, `{"a":1}`},
		{[]string{"1", "2"}, "[1,2]"},
		{[]string{"hello", "true"}, `["hello",true]`},
		{[]string{"3"}, "[3]"},
	}
	for _, tt := range tests {
		got, err := buildParams(tt.args)
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(got), "%q", tt.args)
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{"My Site": "my-site", ".hidden": "hidden", "": "bundle", "ok_1.0": "ok_1.0"} {
		assert.Equal(t, want, sanitizeName(in))
	}
}

func TestCallJSONRPCEndpoints(t *testing.T) {
	tcp := "127.0.0.1:0"
	td := startTestDaemon(t, "-rpc-tcp", tcp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tcpURL := "tcp://" + td.d.cfg.rpcTCP.Addr().String()
	for _, url := range []string{td.base + "/rpc", "ws" + strings.TrimPrefix(td.base, "http") + "/rpc", tcpURL} {
		out, errOut, err := runCLI(ctx, "call", "--url", url, "demo.add", `{"a": 1.5, "b": 2}`)
		require.NoError(t, err, "%s: %s", url, errOut)
		assert.Equal(t, "3.5\n", out, url)
		_, _, err = runCLI(ctx, "call", "--url", url, "demo.nope")
		assert.ErrorContains(t, err, "not found", url)
	}
	batch := filepath.Join(t.TempDir(), "batch.json")
	require.NoError(t, os.WriteFile(batch, []byte(`[{"jsonrpc":"2.0","id":"x","method":"demo.echo","params":["hi"]},{"jsonrpc":"2.0","method":"demo.add","params":[1,2]},{"jsonrpc":"2.0","id":2,"method":"demo.add","params":[1,2]}]`), 0o644))
	out, errOut, err := runCLI(ctx, "call", "--url", td.base+"/rpc", "--batch", batch)
	require.NoError(t, err, errOut)
	var answers []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &answers))
	require.Len(t, answers, 2, "the notification gets no answer")
	byID := map[any]any{}
	for _, a := range answers {
		byID[a["id"]] = a["result"]
	}
	assert.Equal(t, "hi", byID["x"])
	assert.Equal(t, 3.0, byID[2.0])
	code, body := httpGet(t, td.base+"/rpc")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "store.list")
}

func TestPublishNeedsPublisherTokenWhenSecretIsSet(t *testing.T) {
	const secret = "s3cret-for-tests"
	td := startTestDaemon(t, "-secret", secret)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"index.html": []byte("x")})

	_, _, err := runCLI(ctx, "publish", src, "--name", "a", "--signal", td.signal)
	require.Error(t, err, "no token: the signaling server refuses the join")

	sub, err := signaling.NewToken([]byte(secret), "public", signaling.RoleSubscriber, time.Hour)
	require.NoError(t, err)
	_, _, err = runCLI(ctx, "publish", src, "--name", "a", "--signal", td.signal, "--token", sub)
	require.ErrorContains(t, err, "publisher token")
	out, _, err := runCLI(ctx, "call", "store.list", "--signal", td.signal, "--token", sub)
	require.NoError(t, err, "a subscriber may read")
	assert.Equal(t, "[]\n", out)

	other, err := signaling.NewToken([]byte(secret), "elsewhere", signaling.RolePublisher, time.Hour)
	require.NoError(t, err)
	_, _, err = runCLI(ctx, "publish", src, "--name", "a", "--signal", td.signal, "--token", other)
	require.Error(t, err, "a token for another room")

	pub, err := signaling.NewToken([]byte(secret), "public", signaling.RolePublisher, time.Hour)
	require.NoError(t, err)
	out, errOut, err := runCLI(ctx, "publish", src, "--name", "a", "--signal", td.signal, "--token", pub)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "published a")
}

// cancelOnWrite cancels a context once the output contains a marker (at
// least times times, when times is set).
type cancelOnWrite struct {
	syncBuffer
	marker string
	times  int
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	n, err := c.syncBuffer.Write(p)
	if strings.Count(c.syncBuffer.String(), c.marker) >= max(c.times, 1) {
		c.cancel()
	}
	return n, err
}

func TestInterruptedPublishResumes(t *testing.T) {
	td := startTestDaemon(t)
	src := t.TempDir()
	big := pseudoRandom(24<<20, 3)
	writeFiles(t, src, map[string][]byte{"big.bin": big})
	args := []string{"publish", src, "--name", "resume", "--signal", td.signal, "--chunk", "65536", "--window", "2"}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first, stopFirst := context.WithCancel(ctx)
	out := &cancelOnWrite{marker: " 30% ", cancel: stopFirst}
	err := run(first, args, &cliEnv{stdout: out, stderr: out, stdin: strings.NewReader("")})
	require.Error(t, err, out.String())
	assert.Contains(t, err.Error(), "run the same command again to resume")

	again, errOut, err := runCLI(ctx, args...)
	require.NoError(t, err, errOut)
	assert.Contains(t, again, "resuming at", "the second run continues where the first stopped")
	assert.Contains(t, again, "published resume")
	code, body := httpGet(t, td.base+"/sites/resume/big.bin")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, bytes.Equal(big, []byte(body)), "resumed bytes match")
}

func TestInterruptedFetchResumes(t *testing.T) {
	td := startTestDaemon(t)
	src := t.TempDir()
	big := pseudoRandom(8<<20, 8)
	files := map[string][]byte{"big.bin": big, "small.txt": []byte("small")}
	writeFiles(t, src, files)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, errOut, err := runCLI(ctx, "publish", src, "--name", "resume", "--signal", td.signal)
	require.NoError(t, err, errOut)

	parent := t.TempDir()
	dst := filepath.Join(parent, "copy")
	args := []string{"fetch", "resume", "-o", dst, "--signal", td.signal, "--window", "2"}
	first, stopFirst := context.WithCancel(ctx)
	// Plain progress prints a line at 0% and at each further tenth: the
	// fourth line is at 30-39%.
	out := &cancelOnWrite{marker: "fetch resume ", times: 4, cancel: stopFirst}
	err = run(first, args, &cliEnv{stdout: out, stderr: out, stdin: strings.NewReader("")})
	require.Error(t, err, out.String())
	assert.NotContains(t, out.String(), "fetched")
	_, err = os.Stat(dst)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing under -o DIR before the tree is whole")
	partial, err := os.Stat(filepath.Join(parent, ".copy.fetch", "resume.tar.gz.partial"))
	require.NoError(t, err, "the interrupted download is kept beside -o DIR")
	assert.Positive(t, partial.Size())

	again, errOut, err := runCLI(ctx, args...)
	require.NoError(t, err, errOut)
	assert.Contains(t, again, "resuming at", "the second run continues where the first stopped")
	assert.Contains(t, again, "fetched resume into "+dst)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "resumed bytes of %s match", name)
	}
	ents, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, ents, 1, "the work directory is gone")
	assert.Equal(t, "copy", ents[0].Name())
}

func TestDaemonStoppedMidPublish(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	td := startTestDaemon(t, "-data", data)
	src := t.TempDir()
	big := pseudoRandom(16<<20, 9)
	writeFiles(t, src, map[string][]byte{"big.bin": big})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publish := func(signal string, out io.Writer) error {
		return run(ctx, []string{"publish", src, "--name", "midway", "--signal", signal, "--chunk", "65536", "--window", "2"},
			&cliEnv{stdout: out, stderr: out, stdin: strings.NewReader("")})
	}

	// Ctrl-C reaches the daemon while the upload is at 30%.
	out := &cancelOnWrite{marker: " 30% ", cancel: td.cancel}
	err := publish(td.signal, out)
	require.ErrorIs(t, err, rpc.ErrClosed, out.String())
	assert.Contains(t, err.Error(), "run the same command again to resume")
	assert.Contains(t, out.String(), "the serving peer is closing: peerd is shutting down", "the client is told why")
	require.NoError(t, td.stop())
	assert.Contains(t, td.out.String(), "peerd stopped")

	// Nothing is under its final name; the partial upload is kept.
	for _, p := range []string{"bundles/midway.tar.gz", "bundles/midway.json", "sites/midway"} {
		_, err := os.Lstat(filepath.Join(data, p))
		assert.ErrorIs(t, err, os.ErrNotExist, p)
	}
	parts, err := filepath.Glob(filepath.Join(data, "partial", "*.part"))
	require.NoError(t, err)
	require.Len(t, parts, 1)
	fi, err := os.Stat(parts[0])
	require.NoError(t, err)
	assert.Positive(t, fi.Size())

	// A daemon started again on the same data resumes the upload.
	td = startTestDaemon(t, "-data", data)
	again := &syncBuffer{}
	require.NoError(t, publish(td.signal, again), again.String())
	assert.Contains(t, again.String(), "resuming at")
	assert.Contains(t, again.String(), "published midway")
	code, body := httpGet(t, td.base+"/sites/midway/big.bin")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, bytes.Equal(big, []byte(body)), "resumed bytes match")
}

func TestShutdownTellsConnectedPeers(t *testing.T) {
	td := startTestDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr syncBuffer
	conn, closeConn, err := dialRoom(ctx, td.signal, "public", "", &stderr)
	require.NoError(t, err)
	defer closeConn()
	require.NoError(t, conn.Call(ctx, "demo.add", nil, 1, 2))
	// The store peer serves a connection as soon as its data channel
	// opens and counts it once its Accept loop takes it, a moment later;
	// the notice goes to the connections it counts.
	require.Eventually(t, func() bool { return td.d.peerCount() == 1 }, 10*time.Second, time.Millisecond)
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	require.NoError(t, td.d.shutdown(sctx))
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatal("connection not closed by the shutdown")
	}
	assert.Contains(t, stderr.String(), "the serving peer is closing: peerd is shutting down")
	assert.Error(t, conn.Call(ctx, "demo.add", nil, 1, 2))
}

func TestEveryFlagNamesItsEnvironmentVariable(t *testing.T) {
	ctx := context.Background()
	for _, c := range commands() {
		if c == benchCommand {
			continue // go run ./bench's own flags
		}
		args := []string{"--help"}
		if c.name != "" {
			args = []string{c.name, "--help"}
		}
		out, errOut, err := runCLI(ctx, args...)
		if c.name == "" {
			require.NoError(t, err)
			errOut = out[strings.Index(out, "daemon flags"):]
		} else {
			require.ErrorIs(t, err, flag.ErrHelp, c.name)
		}
		for _, entry := range strings.Split(errOut, "\n  -")[1:] {
			assert.Contains(t, entry, "(env PEERD_", "peerd %s: -%s", c.name, entry)
		}
	}
}

func TestFlagsReadTheirEnvironmentVariables(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Each flag the help lists with a variable takes its default there.
	for _, tt := range []struct {
		cmd, env, value, want string
	}{
		{"publish", "PEERD_CHUNK", "4096", "(env PEERD_CHUNK) (default 4096)"},
		{"publish", "PEERD_WINDOW", "3", "(env PEERD_WINDOW) (default 3)"},
		{"fetch", "PEERD_OUT", "/tmp/x", `(env PEERD_OUT) (default "/tmp/x")`},
		{"fetch", "PEERD_WINDOW", "5", "(env PEERD_WINDOW) (default 5)"},
		{"share", "PEERD_CODE", "abcd-efgh", `(env PEERD_CODE) (default "abcd-efgh")`},
		{"share", "PEERD_KEEP", "true", "(env PEERD_KEEP) (default true)"},
		{"get", "PEERD_OUT", "/tmp/y", `(env PEERD_OUT) (default "/tmp/y")`},
		{"call", "PEERD_BATCH", "b.json", `(env PEERD_BATCH) (default "b.json")`},
	} {
		t.Run(tt.cmd+"/"+tt.env, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			_, errOut, err := runCLI(ctx, tt.cmd, "--help")
			require.ErrorIs(t, err, flag.ErrHelp)
			assert.Contains(t, errOut, tt.want)
		})
	}

	// A value that does not parse is a usage error naming the variable,
	// unless the flag is given on the command line.
	t.Setenv("PEERD_KEEP", "maybe")
	_, _, err := runCLI(ctx, "share", t.TempDir())
	require.ErrorContains(t, err, `PEERD_KEEP: "maybe" is not true or false`)
	assert.Equal(t, 2, exitCode(err))
	t.Setenv("PEERD_WINDOW", "many")
	_, _, err = runCLI(ctx, "fetch", "x")
	require.ErrorContains(t, err, `PEERD_WINDOW: "many" is not an integer`)
	_, _, err = runCLI(ctx, "fetch", "Bad Name", "--window", "2")
	require.ErrorContains(t, err, "invalid bundle name", "the flag given overrides the variable")

	// And a variable does what its flag does: PEERD_OUT is fetch's -o.
	t.Setenv("PEERD_WINDOW", "2")
	td := startTestDaemon(t)
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"index.html": []byte("env")})
	_, errOut, err := runCLI(ctx, "publish", src, "--name", "envsite", "--signal", td.signal)
	require.NoError(t, err, errOut)
	dst := filepath.Join(t.TempDir(), "from-env")
	t.Setenv("PEERD_OUT", dst)
	out, errOut, err := runCLI(ctx, "fetch", "envsite", "--signal", td.signal)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "into "+dst)
	b, err := os.ReadFile(filepath.Join(dst, "index.html"))
	require.NoError(t, err)
	assert.Equal(t, "env", string(b))
}
