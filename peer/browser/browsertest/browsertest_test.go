package browsertest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPathFromEnv(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "chromium")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv("PEERD_CHROMIUM", exe)
	assert.Equal(t, exe, Path())

	// A path that is not an executable falls back to /usr/bin/chromium.
	t.Setenv("PEERD_CHROMIUM", filepath.Join(t.TempDir(), "missing"))
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		assert.Equal(t, "/usr/bin/chromium", Path())
	} else {
		assert.Empty(t, Path())
	}
}

func TestEval(t *testing.T) {
	Need(t)
	br, err := Start()
	require.NoError(t, err)
	defer br.Close()
	ctx, cancel := br.Tab(20 * time.Second)
	defer cancel()
	require.NoError(t, Open(ctx, "about:blank", "document.readyState === 'complete'"))

	var sum int
	require.NoError(t, Eval(ctx, "await null; return 1 + 2", &sum))
	assert.Equal(t, 3, sum)
	err = Eval(ctx, `throw new TypeError("nope")`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TypeError: nope")
	// WebRTC is there, with real host addresses allowed.
	var ok bool
	require.NoError(t, Eval(ctx, "return typeof RTCPeerConnection === 'function'", &ok))
	assert.True(t, ok)
}

func TestArtifactDir(t *testing.T) {
	env := filepath.Join(t.TempDir(), "artifacts")
	t.Setenv(ArtifactsEnv, env)
	assert.Equal(t, env, ArtifactDir(t, "ignored"), "the environment wins")
	assert.DirExists(t, env)
	SaveArtifact(t, env, "a.png", []byte("png"))
	b, err := os.ReadFile(filepath.Join(env, "a.png"))
	require.NoError(t, err)
	assert.Equal(t, "png", string(b))

	t.Setenv(ArtifactsEnv, "")
	fallback := filepath.Join(t.TempDir(), "out")
	assert.Equal(t, fallback, ArtifactDir(t, fallback))
	assert.DirExists(t, fallback)
	assert.DirExists(t, ArtifactDir(t, ""), "a temporary directory")
}
