package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// direct calls a Service in-process, copying binary arguments as a network
// would, and can fail every call after a budget of write/read calls.
type direct struct {
	svc    *Service
	budget atomic.Int64 // data calls left before failing; <0 means unlimited
}

var errCut = errors.New("connection cut")

func (d *direct) Call(ctx context.Context, method string, result any, args ...any) error {
	take := func() error {
		if d.budget.Load() >= 0 && d.budget.Add(-1) < 0 {
			return errCut
		}
		return nil
	}
	switch method {
	case "store.begin":
		r, err := d.svc.Begin(ctx, args[0].(string), args[1].(int64), args[2].(string), args[3].(time.Time))
		*result.(*UploadInfo) = r
		return err
	case "store.write":
		if err := take(); err != nil {
			return err
		}
		r, err := d.svc.Write(ctx, args[0].(string), args[1].(int64), bytes.Clone(args[2].([]byte)))
		*result.(*int64) = r
		return err
	case "store.commit":
		r, err := d.svc.Commit(ctx, args[0].(string))
		*result.(*Info) = r
		return err
	case "store.stat":
		r, err := d.svc.Stat(ctx, args[0].(string))
		*result.(*Info) = r
		return err
	case "store.read":
		if err := take(); err != nil {
			return err
		}
		r, err := d.svc.Read(ctx, args[0].(string), args[1].(int64), int(args[2].(int64)))
		*result.(*[]byte) = bytes.Clone(r)
		return err
	}
	return fmt.Errorf("no method %s", method)
}

func newDirect(t *testing.T) *direct {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	d := &direct{svc: &Service{Store: s}}
	d.budget.Store(-1)
	return d
}

func TestUploadWindowedAndResumed(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	files := map[string][]byte{"a.bin": randBytes(11, 3<<20), "b/c.txt": []byte("c")}
	archive, sum := packed(t, files)
	size := int64(len(archive))
	o := TransferOptions{Chunk: 64 << 10, Window: 6}

	d.budget.Store(10)
	_, err := Upload(ctx, d, "site", bytes.NewReader(archive), size, sum, time.Now(), o)
	require.ErrorIs(t, err, errCut)

	d.budget.Store(-1)
	var first int64 = -1
	var last int64
	o.Progress = func(done, total int64) {
		if first < 0 {
			first = done
		}
		assert.GreaterOrEqual(t, done, last, "progress never goes back")
		last = done
		assert.Equal(t, size, total)
	}
	info, err := Upload(ctx, d, "site", bytes.NewReader(archive), size, sum, time.Now(), o)
	require.NoError(t, err)
	assert.Equal(t, sum, info.SHA256)
	assert.Greater(t, first, int64(0), "resumed, not restarted")
	assert.Equal(t, size, last)
	dir, err := d.svc.Store.SiteDir("site")
	require.NoError(t, err)
	assert.Equal(t, files, readTree(t, dir))
}

func TestDownloadResumesAndVerifies(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	files := map[string][]byte{"x.bin": randBytes(12, 2<<20)}
	archive, sum := packed(t, files)
	_, err := Upload(ctx, d, "pkg", bytes.NewReader(archive), int64(len(archive)), sum, time.Now(), TransferOptions{})
	require.NoError(t, err)

	out := filepath.Join(t.TempDir(), "pkg.tar.gz")
	o := TransferOptions{Chunk: 100_000, Window: 4}
	d.budget.Store(7)
	_, err = Download(ctx, d, "pkg", out, o)
	require.ErrorIs(t, err, errCut)
	fi, err := os.Stat(out + ".partial")
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(0))
	_, err = os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist, "never under the final name before verification")

	d.budget.Store(-1)
	info, err := Download(ctx, d, "pkg", out, o)
	require.NoError(t, err)
	assert.Equal(t, sum, info.SHA256)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, archive, got)

	dst := t.TempDir()
	_, err = FetchInto(ctx, d, "pkg", dst, Limits{}, o)
	require.NoError(t, err)
	assert.Equal(t, files, readTree(t, dst))
}

func TestDownloadDetectsCorruption(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	archive, sum := packed(t, map[string][]byte{"x": randBytes(13, 50_000)})
	_, err := Upload(ctx, d, "pkg", bytes.NewReader(archive), int64(len(archive)), sum, time.Now(), TransferOptions{})
	require.NoError(t, err)
	p := filepath.Join(d.svc.Store.Dir(), "bundles", "pkg.tar.gz")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[100] ^= 0xff
	require.NoError(t, os.WriteFile(p, b, 0o644))

	out := filepath.Join(t.TempDir(), "pkg.tar.gz")
	_, err = Download(ctx, d, "pkg", out, TransferOptions{})
	require.ErrorIs(t, err, ErrVerify)
	_, err = os.Stat(out)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(out + ".partial")
	assert.ErrorIs(t, err, os.ErrNotExist, "a corrupt partial is not kept for resuming")
}

func TestServiceLimitsAndAuth(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	_, err := d.svc.Read(ctx, "x", 0, 2<<20)
	assert.ErrorIs(t, err, ErrReadTooLarge)
	_, err = d.svc.Read(ctx, "x", -1, 10)
	assert.ErrorIs(t, err, ErrReadTooLarge)
	d.svc.MaxPublish = 10
	_, err = d.svc.Publish(ctx, "x", time.Now(), make([]byte, 11))
	assert.ErrorIs(t, err, ErrTooLarge)

	denied := errors.New("publisher token required")
	d.svc.Authorize = func(_ context.Context, write bool) error {
		if write {
			return denied
		}
		return nil
	}
	_, err = d.svc.Publish(ctx, "x", time.Now(), []byte("x"))
	assert.ErrorIs(t, err, denied)
	assert.ErrorIs(t, d.svc.Delete(ctx, "x"), denied)
	list, err := d.svc.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestPublishOneCall(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	files := map[string][]byte{"index.html": []byte("<p>hi</p>")}
	archive, sum := packed(t, files)
	info, err := d.svc.Publish(ctx, "tiny", time.Unix(1, 0), archive)
	require.NoError(t, err)
	assert.Equal(t, sum, info.SHA256)
	data, err := d.svc.Read(ctx, "tiny", 0, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, archive, data)
	data, err = d.svc.Read(ctx, "tiny", int64(len(archive)), 10)
	require.NoError(t, err)
	assert.Empty(t, data)
}

func TestFetchIntoUnpacksBesideTheTarget(t *testing.T) {
	ctx := context.Background()
	d := newDirect(t)
	files := map[string][]byte{"a.txt": []byte("a"), "d/b.bin": randBytes(14, 300_000)}
	archive, sum := packed(t, files)
	_, err := Upload(ctx, d, "pkg", bytes.NewReader(archive), int64(len(archive)), sum, time.Now(), TransferOptions{})
	require.NoError(t, err)
	parent := t.TempDir()
	siblings := func() []string {
		ents, err := os.ReadDir(parent)
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}

	// An archive that fails to unpack (here: past a tight cap) leaves no
	// partial tree under the target and no work directory beside it, so
	// the next attempt is not refused as "not empty".
	missing := filepath.Join(parent, "new")
	_, err = FetchInto(ctx, d, "pkg", missing, Limits{MaxUnpacked: 1000}, TransferOptions{})
	require.ErrorIs(t, err, ErrArchiveBomb)
	assert.Empty(t, siblings(), "nothing left beside or under the target")
	empty := filepath.Join(parent, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, err = FetchInto(ctx, d, "pkg", empty, Limits{MaxUnpacked: 1000}, TransferOptions{})
	require.ErrorIs(t, err, ErrArchiveBomb)
	assert.Equal(t, []string{"empty"}, siblings())
	ents, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, ents, "an existing target stays empty")

	for _, dir := range []string{missing, empty} {
		_, err = FetchInto(ctx, d, "pkg", dir, Limits{}, TransferOptions{})
		require.NoError(t, err)
		assert.Equal(t, files, readTree(t, dir))
	}
	assert.Equal(t, []string{"empty", "new"}, siblings(), "the work directories are gone")

	// A target with something in it is refused before any download.
	_, err = FetchInto(ctx, d, "pkg", missing, Limits{}, TransferOptions{})
	require.ErrorContains(t, err, "is not empty")

	// An interrupted download stays beside the target, and resumes.
	resumed := filepath.Join(parent, "resumed")
	d.budget.Store(3)
	_, err = FetchInto(ctx, d, "pkg", resumed, Limits{}, TransferOptions{Chunk: 50_000, Window: 2})
	require.ErrorIs(t, err, errCut)
	_, err = os.Stat(resumed)
	assert.ErrorIs(t, err, os.ErrNotExist)
	fi, err := os.Stat(filepath.Join(parent, ".resumed.fetch", "pkg.tar.gz.partial"))
	require.NoError(t, err)
	assert.Positive(t, fi.Size())
	d.budget.Store(-1)
	_, err = FetchInto(ctx, d, "pkg", resumed, Limits{}, TransferOptions{Chunk: 50_000, Window: 2})
	require.NoError(t, err)
	assert.Equal(t, files, readTree(t, resumed))
	assert.Equal(t, []string{"empty", "new", "resumed"}, siblings())
}
