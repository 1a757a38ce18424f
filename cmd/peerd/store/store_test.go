package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packed returns the archive of files and its hex SHA-256.
func packed(t testing.TB, files map[string][]byte) ([]byte, string) {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, files)
	var buf bytes.Buffer
	_, err := Pack(src, &buf)
	require.NoError(t, err)
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

// publish uploads archive in chunk-sized writes and commits it.
func publish(t testing.TB, s *Store, name string, archive []byte, sum string, chunk int) Info {
	t.Helper()
	up, err := s.Begin(name, int64(len(archive)), sum, time.Unix(1700000000, 0))
	require.NoError(t, err)
	for off := up.Offset; off < int64(len(archive)); {
		end := min(off+int64(chunk), int64(len(archive)))
		off, err = s.Write(up.ID, off, archive[off:end])
		require.NoError(t, err)
	}
	info, err := s.Commit(up.ID)
	require.NoError(t, err)
	return info
}

func TestPublishListFetchDelete(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer s.Close()
	files := sampleTree()
	archive, sum := packed(t, files)

	info := publish(t, s, "site", archive, sum, 64<<10)
	assert.Equal(t, "site", info.Name)
	assert.Equal(t, sum, info.SHA256)
	assert.EqualValues(t, len(archive), info.Size)
	assert.Equal(t, 4, info.Files)
	assert.True(t, info.Mtime.Equal(time.Unix(1700000000, 0)))

	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, info, list[0])

	dir, err := s.SiteDir("site")
	require.NoError(t, err)
	assert.Equal(t, files, readTree(t, dir))

	f, got, err := s.OpenArchive("site")
	require.NoError(t, err)
	assert.Equal(t, info, got)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, archive, b)

	require.NoError(t, s.Delete("site"))
	_, err = s.Stat("site")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.SiteDir("site")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, s.Delete("site"), ErrNotFound)
	vers, err := os.ReadDir(filepath.Join(s.Dir(), "versions"))
	require.NoError(t, err)
	assert.Empty(t, vers, "unpacked tree removed")
}

func TestResumeAfterRestart(t *testing.T) {
	dir := t.TempDir()
	archive, sum := packed(t, map[string][]byte{"big.bin": randBytes(7, 1<<20)})
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	up, err := s.Begin("big", int64(len(archive)), sum, time.Now())
	require.NoError(t, err)
	half := int64(len(archive) / 2)
	off, err := s.Write(up.ID, 0, archive[:half])
	require.NoError(t, err)
	require.Equal(t, half, off)
	require.NoError(t, s.Close())

	// A stray tail past the saved offset (data written, state not) is dropped.
	part, err := os.OpenFile(filepath.Join(dir, "partial", up.ID+".part"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = part.Write([]byte("garbage"))
	require.NoError(t, err)
	require.NoError(t, part.Close())

	s, err = Open(dir, Options{})
	require.NoError(t, err)
	defer s.Close()
	again, err := s.Begin("big", int64(len(archive)), sum, time.Now())
	require.NoError(t, err)
	assert.Equal(t, up.ID, again.ID)
	assert.Equal(t, half, again.Offset)
	_, err = s.Write(again.ID, 0, archive[:10])
	assert.ErrorIs(t, err, ErrOffset)
	_, err = s.Commit(again.ID)
	assert.ErrorIs(t, err, ErrIncomplete)
	_, err = s.Write(again.ID, half, archive[half:])
	require.NoError(t, err)
	info, err := s.Commit(again.ID)
	require.NoError(t, err)
	assert.Equal(t, sum, info.SHA256)
	ents, err := os.ReadDir(filepath.Join(dir, "partial"))
	require.NoError(t, err)
	assert.Empty(t, ents, "partial files removed after commit")
}

func TestChecksumMismatchDropsUpload(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer s.Close()
	archive, _ := packed(t, map[string][]byte{"a": []byte("a")})
	wrong := hex.EncodeToString(make([]byte, 32))
	up, err := s.Begin("x", int64(len(archive)), wrong, time.Now())
	require.NoError(t, err)
	_, err = s.Write(up.ID, 0, archive)
	require.NoError(t, err)
	_, err = s.Commit(up.ID)
	require.ErrorIs(t, err, ErrChecksum)
	_, err = s.Write(up.ID, 0, archive)
	assert.ErrorIs(t, err, ErrNoUpload)
	_, err = s.Stat("x")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestUnsafeArchiveIsNotPublished(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer s.Close()
	archive := tarGz(t, reg("ok.txt", []byte("fine")), reg("../../escape.txt", []byte("bad")))
	sum := sha256.Sum256(archive)
	up, err := s.Begin("evil", int64(len(archive)), hex.EncodeToString(sum[:]), time.Now())
	require.NoError(t, err)
	_, err = s.Write(up.ID, 0, archive)
	require.NoError(t, err)
	_, err = s.Commit(up.ID)
	require.ErrorIs(t, err, ErrUnsafeArchive)
	_, err = os.Stat(filepath.Join(s.Dir(), "..", "escape.txt"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = s.SiteDir("evil")
	assert.ErrorIs(t, err, ErrNotFound)
	tmp, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
}

func TestQuotasAndNames(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxBundleSize: 1000, MaxStoreSize: 1500})
	require.NoError(t, err)
	defer s.Close()
	sum := hex.EncodeToString(make([]byte, 32))
	_, err = s.Begin("big", 1001, sum, time.Now())
	assert.ErrorIs(t, err, ErrTooLarge)
	a, err := s.Begin("a", 900, sum, time.Now())
	require.NoError(t, err)
	_, err = s.Begin("b", 900, "00"+sum[2:], time.Now())
	require.ErrorIs(t, err, ErrStoreFull, "a's 900 bytes are reserved though none are written yet")
	again, err := s.Begin("a", 900, sum, time.Now())
	require.NoError(t, err, "the same upload again reserves nothing more")
	assert.Equal(t, a.ID, again.ID)
	up, err := s.Begin("c", 600, "11"+sum[2:], time.Now())
	require.NoError(t, err, "900 + 600 fit in 1500")
	_, err = s.Write(up.ID, 0, make([]byte, 601))
	assert.ErrorIs(t, err, ErrTooLarge, "write past the declared size")
	_, err = s.Write(up.ID, 0, make([]byte, 600))
	require.NoError(t, err)
	_, err = s.Begin("d", 1, "22"+sum[2:], time.Now())
	assert.ErrorIs(t, err, ErrStoreFull)
	require.NoError(t, s.Abort(a.ID))
	_, err = s.Begin("d", 900, "22"+sum[2:], time.Now())
	require.NoError(t, err, "an abort releases its reservation")

	for _, bad := range []string{"", ".", "..", "A", "-x", "a/b", "a b", "ä", string(make([]byte, 65))} {
		_, err := s.Begin(bad, 10, sum, time.Now())
		assert.ErrorIs(t, err, ErrBadName, "%q", bad)
	}
	_, err = s.Begin("ok", 10, "nothex", time.Now())
	assert.ErrorContains(t, err, "sha256")
}

func TestReplaceIsAtomicForReaders(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer s.Close()
	v1 := map[string][]byte{"a.txt": bytes.Repeat([]byte("1"), 1000), "b.txt": bytes.Repeat([]byte("1"), 1000)}
	v2 := map[string][]byte{"a.txt": bytes.Repeat([]byte("2"), 1000), "b.txt": bytes.Repeat([]byte("2"), 1000)}
	a1, s1 := packed(t, v1)
	a2, s2 := packed(t, v2)
	publish(t, s, "site", a1, s1, 1<<20)

	// Readers resolve the site once and read both files through that
	// resolution; each must see one version throughout. The only failure
	// allowed is a version removed under a reader that resolved it just
	// before a replace: its files are gone, never mixed.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards the counts and unexpected
	var mixed, reads, gone int
	var unexpected []error
	readsSoFar := func() int {
		mu.Lock()
		defer mu.Unlock()
		return reads
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			dir, err := s.SiteDir("site")
			if err != nil {
				mu.Lock()
				unexpected = append(unexpected, err)
				mu.Unlock()
				continue
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				mu.Lock()
				unexpected = append(unexpected, err)
				mu.Unlock()
				continue
			}
			a, errA := root.ReadFile("a.txt")
			b, errB := root.ReadFile("b.txt")
			root.Close()
			mu.Lock()
			switch err := errors.Join(errA, errB); {
			case errors.Is(err, fs.ErrNotExist):
				gone++
			case err != nil:
				unexpected = append(unexpected, err)
			default:
				reads++
				if a[0] != b[0] {
					mixed++
				}
			}
			mu.Unlock()
		}
	}()
	// At least 20 replaces, and on until the reader has read 20 times
	// (bounded: at most 2000 replaces).
	last := v1
	for i := 0; i < 2000 && (i < 20 || readsSoFar() < 20); i++ {
		if i%2 == 0 {
			publish(t, s, "site", a2, s2, 1<<20)
			last = v2
		} else {
			publish(t, s, "site", a1, s1, 1<<20)
			last = v1
		}
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, reads, "the reader read something (%d times found its version removed)", gone)
	assert.Zero(t, mixed, "a reader saw two versions at once")
	assert.Empty(t, unexpected, "readers failed other than by a removed version")
	dir, err := s.SiteDir("site")
	require.NoError(t, err)
	assert.Equal(t, last, readTree(t, dir))
	vers, err := os.ReadDir(filepath.Join(s.Dir(), "versions"))
	require.NoError(t, err)
	assert.Len(t, vers, 1, "old versions removed")
}

func TestQuotaReservesOpenUploadsUntilCommitOrAbort(t *testing.T) {
	archive, sum := packed(t, map[string][]byte{"x.bin": randBytes(21, 40_000)})
	n := int64(len(archive))
	// Room for two archives, not three.
	s, err := Open(t.TempDir(), Options{MaxStoreSize: 2*n + n/2})
	require.NoError(t, err)
	defer s.Close()
	one, err := s.Begin("one", n, sum, time.Now())
	require.NoError(t, err)
	two, err := s.Begin("two", n, sum, time.Now())
	require.NoError(t, err)
	_, err = s.Begin("three", n, sum, time.Now())
	require.ErrorIs(t, err, ErrStoreFull, "two open uploads reserve 2n before writing anything")

	// Committing turns the reservation into an archive: still full.
	_, err = s.Write(one.ID, 0, archive)
	require.NoError(t, err)
	_, err = s.Commit(one.ID)
	require.NoError(t, err)
	_, err = s.Begin("three", n, sum, time.Now())
	require.ErrorIs(t, err, ErrStoreFull)

	// Aborting releases it.
	require.NoError(t, s.Abort(two.ID))
	three, err := s.Begin("three", n, sum, time.Now())
	require.NoError(t, err)

	// A partial left by an earlier run counts what it holds, and its whole
	// size once resumed.
	_, err = s.Write(three.ID, 0, archive[:n/4])
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(s.Dir(), Options{MaxStoreSize: 2*n + n/2})
	require.NoError(t, err)
	defer s.Close()
	four, err := s.Begin("four", n, "00"+sum[2:], time.Now())
	require.NoError(t, err, "one archive, a quarter of a partial and another archive fit")
	require.NoError(t, s.Abort(four.ID))
	again, err := s.Begin("three", n, sum, time.Now())
	require.NoError(t, err, "resuming is counted once, not as partial plus reservation")
	assert.Equal(t, n/4, again.Offset)
	_, err = s.Begin("four", n, "00"+sum[2:], time.Now())
	require.ErrorIs(t, err, ErrStoreFull, "the resumed upload reserves its whole size")
}

func TestConcurrentUploadsCannotExceedTheQuota(t *testing.T) {
	archive, sum := packed(t, map[string][]byte{"x.bin": randBytes(22, 60_000)})
	n := int64(len(archive))
	const fit, uploaders = 3, 8
	s, err := Open(t.TempDir(), Options{MaxStoreSize: fit*n + n/2})
	require.NoError(t, err)
	defer s.Close()

	// Every uploader begins at once, and all have begun before any writes
	// a byte: when the quota counted only bytes written, every one of them
	// began and the store ended at 8n with room for 3.
	start := make(chan struct{})
	begun := make([]UploadInfo, uploaders)
	beginErrs := make([]error, uploaders)
	var wg sync.WaitGroup
	for i := range uploaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			begun[i], beginErrs[i] = s.Begin(fmt.Sprintf("site-%d", i), n, sum, time.Now())
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range beginErrs {
		if err != nil {
			assert.ErrorIs(t, err, ErrStoreFull)
			continue
		}
		ok++
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for off := int64(0); off < n && err == nil; {
				off, err = s.Write(begun[i].ID, off, archive[off:min(off+7000, n)])
			}
			if err == nil {
				_, err = s.Commit(begun[i].ID)
			}
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, fit, ok, "exactly the uploads that fit were published")
	list, err := s.List()
	require.NoError(t, err)
	var total int64
	for _, info := range list {
		total += info.Size
	}
	assert.Len(t, list, fit)
	assert.LessOrEqual(t, total, s.opts.MaxStoreSize)
}
