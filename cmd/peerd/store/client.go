package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Caller calls a remote method and decodes its result; *rpc.Conn and every
// peerd client satisfy it.
type Caller interface {
	Call(ctx context.Context, method string, result any, args ...any) error
}

// Progress is told how many of total bytes are done.
type Progress func(done, total int64)

// DefaultChunk is the default size of one Write or Read call: 255 KiB, so
// that a chunk with its binchannel and rpc headers fits one 256 KiB
// data-channel message.
const DefaultChunk = 255 << 10

// TransferOptions tune Upload and Download. The zero value is the default.
type TransferOptions struct {
	// Namespace is the prefix of the store's methods. Default "store".
	Namespace string
	// Chunk is the size of one Write or Read call. Default 255 KiB, so
	// that a chunk and its headers fit one 256 KiB data-channel message.
	Chunk int
	// Window is how many calls are in flight at once. Default 8.
	Window int
	// Progress, if set, is called after each chunk lands.
	Progress Progress
}

func (o TransferOptions) withDefaults() TransferOptions {
	if o.Namespace == "" {
		o.Namespace = "store"
	}
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.Window <= 0 {
		o.Window = 8
	}
	return o
}

// Upload publishes the archive (size bytes, hex SHA-256 sum) as name through
// c, resuming where an earlier interrupted upload of the same archive
// stopped. It keeps Window chunk calls in flight, so memory stays at
// Window×Chunk whatever the size.
func Upload(ctx context.Context, c Caller, name string, archive io.ReaderAt, size int64, sum string, mtime time.Time, o TransferOptions) (Info, error) {
	o = o.withDefaults()
	var up UploadInfo
	if err := c.Call(ctx, o.Namespace+".begin", &up, name, size, sum, mtime); err != nil {
		return Info{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		end int64
		err error
	}
	results := make(chan result, o.Window)
	// At most Window buffers exist: a buffer is reused once its call has
	// returned, which means the peer has received all of it.
	free := make(chan []byte, o.Window)
	inflight := 0
	next := up.Offset
	done := up.Offset
	if o.Progress != nil {
		o.Progress(done, size)
	}
	var firstErr error
	for done < size && firstErr == nil || inflight > 0 {
		for firstErr == nil && inflight < o.Window && next < size {
			n := min(int64(o.Chunk), size-next)
			var buf []byte
			select {
			case buf = <-free:
			default:
				buf = make([]byte, o.Chunk)
			}
			buf = buf[:n]
			if _, err := archive.ReadAt(buf, next); err != nil && !(err == io.EOF && int64(len(buf)) == n) {
				firstErr = err
				break
			}
			off := next
			next += n
			inflight++
			go func() {
				var end int64
				err := c.Call(ctx, o.Namespace+".write", &end, up.ID, off, buf)
				if err == nil {
					free <- buf[:cap(buf)]
				}
				results <- result{off + int64(len(buf)), err}
			}()
		}
		if inflight == 0 {
			break
		}
		r := <-results
		inflight--
		if r.err != nil && firstErr == nil {
			firstErr = r.err
			cancel()
		}
		if r.err == nil {
			done = max(done, r.end)
			if o.Progress != nil {
				o.Progress(done, size)
			}
		}
	}
	if firstErr != nil {
		return Info{}, firstErr
	}
	var info Info
	err := c.Call(ctx, o.Namespace+".commit", &info, up.ID)
	return info, err
}

// ErrVerify reports a downloaded archive whose SHA-256 is not the one the
// store announced.
var ErrVerify = errors.New("store: downloaded archive does not match its SHA-256")

// Download fetches bundle name through c into the file at path, resuming a
// partial download left at path+".partial", verifying the SHA-256 end to end,
// and renaming it into place only when it matches. It returns the bundle's
// Info.
func Download(ctx context.Context, c Caller, name, path string, o TransferOptions) (Info, error) {
	o = o.withDefaults()
	var info Info
	if err := c.Call(ctx, o.Namespace+".stat", &info, name); err != nil {
		return info, err
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return info, err
	}
	defer f.Close()
	// Re-hash what an earlier attempt left, then continue from its end.
	h := sha256.New()
	have, err := io.Copy(h, io.LimitReader(f, info.Size))
	if err != nil {
		return info, err
	}
	if err := f.Truncate(have); err != nil {
		return info, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type chunk struct {
		off  int64
		data []byte
		err  error
	}
	// Calls run concurrently but land in order: each has its own slot.
	slots := make(chan chan chunk, o.Window)
	go func() {
		defer close(slots)
		for off := have; off < info.Size; off += int64(o.Chunk) {
			slot := make(chan chunk, 1)
			select {
			case slots <- slot:
			case <-ctx.Done():
				return
			}
			go func(off int64) {
				var data []byte
				err := c.Call(ctx, o.Namespace+".read", &data, name, off, min(int64(o.Chunk), info.Size-off))
				slot <- chunk{off, data, err}
			}(off)
		}
	}()
	if o.Progress != nil {
		o.Progress(have, info.Size)
	}
	for slot := range slots {
		ch := <-slot
		if ch.err == nil && (ch.off != have || len(ch.data) == 0) {
			ch.err = fmt.Errorf("store: read at %d returned %d bytes; bundle changed during download?", ch.off, len(ch.data))
		}
		if ch.err != nil {
			cancel()
			for rest := range slots {
				<-rest
			}
			return info, ch.err
		}
		if _, err := f.WriteAt(ch.data, ch.off); err != nil {
			cancel()
			for rest := range slots {
				<-rest
			}
			return info, err
		}
		h.Write(ch.data)
		have += int64(len(ch.data))
		if o.Progress != nil {
			o.Progress(have, info.Size)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != info.SHA256 {
		f.Close()
		os.Remove(partial)
		return info, fmt.Errorf("%w: got %s, want %s", ErrVerify, got, info.SHA256)
	}
	if err := f.Sync(); err != nil {
		return info, err
	}
	if err := f.Close(); err != nil {
		return info, err
	}
	return info, os.Rename(partial, path)
}

// FetchInto downloads bundle name and unpacks it into dir, which must not
// exist or be empty. Nothing is written into dir until the whole tree is
// ready: the archive is downloaded, verified and unpacked in a hidden work
// directory beside dir (".BASE.fetch", BASE being dir's last element), and
// the tree is then renamed into place. An interrupted download resumes from
// the work directory on the next call with the same dir; an archive that
// fails to unpack leaves dir as it was and removes the work directory.
func FetchInto(ctx context.Context, c Caller, name, dir string, lim Limits, o TransferOptions) (Info, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Info{}, err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Info{}, err
	}
	exists, err := emptyOrMissing(abs)
	if err != nil {
		return Info{}, err
	}
	work := filepath.Join(parent, "."+filepath.Base(abs)+".fetch")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Info{}, err
	}
	archive := filepath.Join(work, name+".tar.gz")
	info, err := Download(ctx, c, name, archive, o)
	if err != nil {
		return info, err // the partial download stays in work, to resume
	}
	tree := filepath.Join(work, "tree")
	if err := os.RemoveAll(tree); err != nil {
		return info, err
	}
	if err := os.Mkdir(tree, 0o755); err != nil {
		return info, err
	}
	f, err := os.Open(archive)
	if err != nil {
		return info, err
	}
	_, err = Unpack(f, tree, lim)
	f.Close()
	if err != nil {
		// The same verified archive would fail the same way: keep nothing.
		return info, errors.Join(err, os.RemoveAll(work))
	}
	if err := moveTree(tree, abs, exists); err != nil {
		return info, err
	}
	return info, os.RemoveAll(work)
}

// emptyOrMissing checks that dir is an empty directory or does not exist,
// and reports whether it exists.
func emptyOrMissing(dir string) (exists bool, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(ents) > 0 {
		return true, fmt.Errorf("store: %s is not empty", dir)
	}
	return true, nil
}

// moveTree puts the content of tree at dir: one rename when dir does not
// exist, else a rename of each of tree's entries into the empty dir (which
// may be the working directory, so it is not replaced).
func moveTree(tree, dir string, exists bool) error {
	if !exists {
		return os.Rename(tree, dir)
	}
	ents, err := os.ReadDir(tree)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(tree, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
