package browsertest

import (
	"os"
	"path/filepath"
	"testing"
)

// ArtifactsEnv names the environment variable that holds the directory
// where browser tests save what a person should look at afterwards, such
// as screenshots. .ci/run sets it; a relative path is taken from each test
// package's directory.
const ArtifactsEnv = "PEERD_ARTIFACTS"

// ArtifactDir returns the directory for t's artifacts, created if needed:
// $PEERD_ARTIFACTS when set, else fallback, else a temporary directory of
// t (removed when t ends).
func ArtifactDir(t testing.TB, fallback string) string {
	t.Helper()
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = fallback
	}
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: artifacts directory: %v", err)
	}
	return dir
}

// SaveArtifact writes data to name in dir and logs where it went.
func SaveArtifact(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("browsertest: saving %s: %v", name, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	t.Logf("artifact: %s", path)
}
