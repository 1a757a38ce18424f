package store

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTree creates files (name -> content) under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sampleTree() map[string][]byte {
	return map[string][]byte{
		"index.html":        []byte("<h1>hello</h1>"),
		"img/logo.bin":      randBytes(1, 300_000),
		"img/deep/zero.bin": {},
		"data/blob.bin":     randBytes(2, 70_000),
	}
}

func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dir, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			out[filepath.ToSlash(rel)] = b
		}
		return nil
	}))
	return out
}

func TestPackUnpackRoundTripIsDeterministic(t *testing.T) {
	src := t.TempDir()
	files := sampleTree()
	writeTree(t, src, files)
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "link")))

	var a, b bytes.Buffer
	skipped, err := Pack(src, &a)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(src, "link")}, skipped)
	_, err = Pack(src, &b)
	require.NoError(t, err)
	assert.Equal(t, a.Bytes(), b.Bytes(), "same tree, same archive")

	dst := t.TempDir()
	u, err := Unpack(bytes.NewReader(a.Bytes()), dst, Limits{})
	require.NoError(t, err)
	assert.Equal(t, 4, u.Files)
	assert.EqualValues(t, 300_000+70_000+14, u.Bytes)
	assert.Equal(t, files, readTree(t, dst))
}

func TestPackSingleFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.pdf")
	require.NoError(t, os.WriteFile(p, []byte("%PDF"), 0o644))
	var buf bytes.Buffer
	_, err := Pack(p, &buf)
	require.NoError(t, err)
	dst := t.TempDir()
	_, err = Unpack(&buf, dst, Limits{})
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"report.pdf": []byte("%PDF")}, readTree(t, dst))
}

// tarGz builds an archive from raw headers; content is written for regular
// files.
func tarGz(t testing.TB, entries ...tarEntry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.h
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(&h))
		if len(e.body) > 0 {
			_, err := tw.Write(e.body)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type tarEntry struct {
	h    tar.Header
	body []byte
}

func reg(name string, body []byte) tarEntry {
	return tarEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body}
}

func TestUnpackRejectsUnsafeEntries(t *testing.T) {
	tests := []struct {
		name    string
		archive func(t testing.TB) []byte
		lim     Limits
		want    error
	}{
		{"dot-dot", func(t testing.TB) []byte { return tarGz(t, reg("../evil", []byte("x"))) }, Limits{}, ErrUnsafeArchive},
		{"nested dot-dot", func(t testing.TB) []byte { return tarGz(t, reg("a/../../evil", []byte("x"))) }, Limits{}, ErrUnsafeArchive},
		{"absolute", func(t testing.TB) []byte { return tarGz(t, reg("/tmp/evil", []byte("x"))) }, Limits{}, ErrUnsafeArchive},
		{"backslash", func(t testing.TB) []byte { return tarGz(t, reg(`..\evil`, []byte("x"))) }, Limits{}, ErrUnsafeArchive},
		{"symlink", func(t testing.TB) []byte {
			return tarGz(t, tarEntry{h: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}})
		}, Limits{}, ErrUnsafeArchive},
		{"symlink then write through it", func(t testing.TB) []byte {
			return tarGz(t, tarEntry{h: tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}}, reg("d/evil", []byte("x")))
		}, Limits{}, ErrUnsafeArchive},
		{"hard link", func(t testing.TB) []byte {
			return tarGz(t, tarEntry{h: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}})
		}, Limits{}, ErrUnsafeArchive},
		{"char device", func(t testing.TB) []byte {
			return tarGz(t, tarEntry{h: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}})
		}, Limits{}, ErrUnsafeArchive},
		{"fifo", func(t testing.TB) []byte { return tarGz(t, tarEntry{h: tar.Header{Name: "p", Typeflag: tar.TypeFifo}}) }, Limits{}, ErrUnsafeArchive},
		{"duplicate", func(t testing.TB) []byte { return tarGz(t, reg("a", []byte("1")), reg("a", []byte("2"))) }, Limits{}, ErrUnsafeArchive},
		{"bomb by size", func(t testing.TB) []byte { return tarGz(t, reg("big", make([]byte, 5000))) }, Limits{MaxUnpacked: 4096}, ErrArchiveBomb},
		{"bomb by sum", func(t testing.TB) []byte {
			return tarGz(t, reg("a", make([]byte, 3000)), reg("b", make([]byte, 3000)))
		}, Limits{MaxUnpacked: 4096}, ErrArchiveBomb},
		{"too many entries", func(t testing.TB) []byte {
			return tarGz(t, reg("a", []byte("1")), reg("b", []byte("2")), reg("c", []byte("3")))
		}, Limits{MaxEntries: 2}, ErrArchiveBomb},
		{"not gzip", func(testing.TB) []byte { return []byte("plain text, not an archive") }, Limits{}, ErrBadArchive},
		{"truncated", func(t testing.TB) []byte {
			b := tarGz(t, reg("a", randBytes(3, 10000)))
			return b[:len(b)/2]
		}, Limits{}, ErrBadArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outer := t.TempDir()
			dst := filepath.Join(outer, "dst")
			require.NoError(t, os.Mkdir(dst, 0o755))
			_, err := Unpack(bytes.NewReader(tt.archive(t)), dst, tt.lim)
			require.ErrorIs(t, err, tt.want)
			ents, err := os.ReadDir(outer)
			require.NoError(t, err)
			assert.Len(t, ents, 1, "nothing written beside the destination")
		})
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(tarGz(f, reg("index.html", []byte("hi")), tarEntry{h: tar.Header{Name: "d/", Typeflag: tar.TypeDir}}))
	f.Add(tarGz(f, reg("../x", []byte("hi"))))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		outer := t.TempDir()
		dst := filepath.Join(outer, "dst")
		require.NoError(t, os.Mkdir(dst, 0o755))
		u, err := Unpack(bytes.NewReader(b), dst, Limits{MaxUnpacked: 1 << 20, MaxEntries: 100})
		if err == nil {
			assert.LessOrEqual(t, u.Bytes, int64(1<<20))
		}
		ents, rerr := os.ReadDir(outer)
		require.NoError(t, rerr)
		require.Len(t, ents, 1, "nothing written beside the destination")
	})
}
