package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/cmd/peerd/store"
)

// tarEntry is one entry of a hand-made archive.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func regular(name string, body []byte) tarEntry {
	return tarEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644}, body}
}

// tarGzip builds a tar.gz archive of entries as they are, however unsafe.
func tarGzip(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(1700000000, 0)
		require.NoError(t, tw.WriteHeader(&h))
		_, err := tw.Write(e.body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestDaemonRefusesUnsafeArchives pushes each kind of unsafe archive through
// the path `peerd publish` takes once it has packed a directory: a data
// channel to the daemon's store peer and store.Upload's begin, windowed
// writes and commit. Each is refused with an error that says why, and
// nothing is left in the data directory or outside it.
func TestDaemonRefusesUnsafeArchives(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	td := startTestDaemon(t, "-data", data, "-max-bundle", "64KiB", "-max-unpacked", "1MiB")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, closeConn, err := dialRoom(ctx, td.signal, "public", "", io.Discard)
	require.NoError(t, err)
	defer closeConn()

	ok := regular("index.html", []byte("fine"))
	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"dotdot", tarGzip(t, ok, regular("../../escape.txt", []byte("out"))),
			`store: unsafe archive entry: "../../escape.txt" leaves the bundle`},
		{"dotdot-inside", tarGzip(t, ok, regular("a/../../escape.txt", []byte("out"))),
			`store: unsafe archive entry: "a/../../escape.txt" leaves the bundle`},
		{"absolute", tarGzip(t, ok, regular(filepath.Join(root, "escape.txt"), []byte("out"))),
			`store: unsafe archive entry: absolute path "` + filepath.Join(root, "escape.txt") + `"`},
		{"symlink", tarGzip(t, ok, tarEntry{tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "../../.."}, nil},
			regular("link/escape.txt", []byte("out"))),
			`store: unsafe archive entry: "link" has type "2" (only regular files and directories are allowed)`},
		{"hardlink", tarGzip(t, ok, tarEntry{tar.Header{Typeflag: tar.TypeLink, Name: "passwd", Linkname: "../../../../etc/passwd"}, nil}),
			`store: unsafe archive entry: "passwd" has type "1" (only regular files and directories are allowed)`},
		{"device", tarGzip(t, ok, tarEntry{tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3, Mode: 0o666}, nil}),
			`store: unsafe archive entry: "null" has type "3" (only regular files and directories are allowed)`},
		{"fifo", tarGzip(t, ok, tarEntry{tar.Header{Typeflag: tar.TypeFifo, Name: "pipe", Mode: 0o644}, nil}),
			`store: unsafe archive entry: "pipe" has type "6" (only regular files and directories are allowed)`},
		// 2 MiB of zeros gzip to a few KiB, under --max-bundle, and unpack
		// past --max-unpacked.
		{"bomb", tarGzip(t, ok, regular("zeros.bin", make([]byte, 2<<20))),
			"store: archive unpacks beyond the limit: more than 1048576 bytes"},
		{"bomb-split", tarGzip(t, regular("a.bin", make([]byte, 600<<10)), regular("b.bin", make([]byte, 600<<10))),
			"store: archive unpacks beyond the limit: more than 1048576 bytes"},
		// Random bytes do not compress: past --max-bundle as an archive.
		{"too-large", tarGzip(t, regular("noise.bin", pseudoRandom(100<<10, 10))),
			"store: bundle exceeds size quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := sha256.Sum256(tt.archive)
			_, err := store.Upload(ctx, conn, tt.name, bytes.NewReader(tt.archive), int64(len(tt.archive)),
				hex.EncodeToString(sum[:]), time.Now(), store.TransferOptions{Chunk: 16 << 10, Window: 4})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = td.d.store.Stat(tt.name)
			assert.ErrorIs(t, err, store.ErrNotFound)
			code, _ := httpGet(t, td.base+"/sites/"+tt.name+"/")
			assert.Equal(t, 404, code)
		})
	}

	// Nothing stayed behind in the store: no bundle, tree, staging or
	// partial upload.
	for _, d := range []string{"bundles", "sites", "versions", "tmp", "partial"} {
		ents, err := os.ReadDir(filepath.Join(data, d))
		require.NoError(t, err)
		assert.Empty(t, ents, d)
	}
	// And nothing was written outside it.
	require.NoError(t, filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		require.NoError(t, err)
		if strings.HasPrefix(e.Name(), "escape") || e.Name() == "passwd" || e.Name() == "null" || e.Name() == "pipe" {
			t.Errorf("%s was written", p)
		}
		return nil
	}))
}
