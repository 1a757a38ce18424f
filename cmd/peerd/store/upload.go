package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UploadInfo tells a publisher where to resume.
type UploadInfo struct {
	ID string `json:"id"`
	// Offset is how many bytes the store already holds; the next Write
	// must start there.
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
}

// uploadState is what partial/ID.json holds.
type uploadState struct {
	Name   string    `json:"name"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Mtime  time.Time `json:"mtime"`
	Offset int64     `json:"offset"`
	// Hash is the SHA-256 state after Offset bytes.
	Hash []byte `json:"hash"`
}

// upload is an open partial upload.
type upload struct {
	id string
	// size is the declared size, reserved against the store quota while
	// the upload is open. It never changes.
	size int64

	// mu guards st, f, h and done. When both are needed it is taken before
	// Store.mu, never after.
	mu    sync.Mutex
	st    uploadState
	f     *os.File
	h     hash.Hash
	done  bool
	store *Store
	// savedAt is the offset of the last saved resume point.
	savedAt int64
	// advanced is closed and replaced whenever st.Offset moves or the
	// upload ends, waking writers that wait for their turn.
	advanced chan struct{}
}

// wakeLocked wakes writers waiting for the offset to move.
func (u *upload) wakeLocked() {
	close(u.advanced)
	u.advanced = make(chan struct{})
}

func (u *upload) close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done = true
	u.wakeLocked()
	if u.f == nil {
		return nil
	}
	err := u.saveLocked()
	err = errors.Join(err, u.f.Close())
	u.f = nil
	return err
}

func (s *Store) partialPath(id, ext string) string {
	return filepath.Join(s.dir, "partial", id+ext)
}

// Begin starts or resumes the upload of an archive of size bytes whose
// SHA-256 is sum (hex), to be published as name. Calling it again with the
// same name, size and sum — after a broken connection or a restart —
// returns the same upload with the offset to resume from.
func (s *Store) Begin(name string, size int64, sum string, mtime time.Time) (UploadInfo, error) {
	if err := ValidName(name); err != nil {
		return UploadInfo{}, err
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return UploadInfo{}, fmt.Errorf("store: sha256 must be 64 hex digits, got %q", sum)
	}
	if size <= 0 || size > s.opts.MaxBundleSize {
		return UploadInfo{}, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, size, s.opts.MaxBundleSize)
	}
	id := uploadID(name, size, sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return UploadInfo{}, ErrClosed
	}
	if u := s.uploads[id]; u != nil {
		// Lock order is upload before store: read the offset without s.mu.
		s.mu.Unlock()
		u.mu.Lock()
		off := u.st.Offset
		u.mu.Unlock()
		s.mu.Lock()
		return UploadInfo{ID: id, Offset: off, Size: size}, nil
	}
	// An open upload reserves its whole declared size until it commits or
	// aborts, so uploads begun together cannot overshoot the quota between
	// them. A partial left on disk by an earlier run counts what it holds
	// until it is resumed, and then its declared size like any other.
	if used := s.usedLocked(id); used+size > s.opts.MaxStoreSize {
		return UploadInfo{}, fmt.Errorf("%w: %d bytes used or reserved, %d more asked, limit %d", ErrStoreFull, used, size, s.opts.MaxStoreSize)
	}
	u, err := s.resumeLocked(id)
	if errors.Is(err, fs.ErrNotExist) {
		u, err = s.createLocked(id, uploadState{Name: name, Size: size, SHA256: strings.ToLower(sum), Mtime: mtime})
	}
	if err != nil {
		return UploadInfo{}, err
	}
	s.uploads[id] = u
	return UploadInfo{ID: id, Offset: u.st.Offset, Size: size}, nil
}

func (s *Store) createLocked(id string, st uploadState) (*upload, error) {
	f, err := os.OpenFile(s.partialPath(id, ".part"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	u := &upload{id: id, size: st.Size, st: st, f: f, h: newHash(), store: s, advanced: make(chan struct{})}
	if err := u.saveLocked(); err != nil {
		f.Close()
		return nil, err
	}
	return u, nil
}

// resumeLocked reopens a partial upload left on disk.
func (s *Store) resumeLocked(id string) (*upload, error) {
	b, err := os.ReadFile(s.partialPath(id, ".json"))
	if err != nil {
		return nil, err
	}
	var st uploadState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("store: corrupt upload state %s: %w", id, err)
	}
	h, err := loadHash(st.Hash)
	if err != nil {
		return nil, fmt.Errorf("store: corrupt upload state %s: %w", id, err)
	}
	f, err := os.OpenFile(s.partialPath(id, ".part"), os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	// Data is written before state, so the file may run past the saved
	// offset; what lies beyond it was never hashed and is dropped.
	if err := f.Truncate(st.Offset); err != nil {
		f.Close()
		return nil, err
	}
	return &upload{id: id, size: st.Size, st: st, f: f, h: h, store: s, advanced: make(chan struct{}), savedAt: st.Offset}, nil
}

func (u *upload) saveLocked() error {
	state, err := saveHash(u.h)
	if err != nil {
		return err
	}
	u.st.Hash = state
	b, err := json.Marshal(u.st)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(u.store.partialPath(u.id, ".json"), b, false); err != nil {
		return err
	}
	u.savedAt = u.st.Offset
	return nil
}

func (s *Store) lookup(id string) (*upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	u := s.uploads[id]
	if u == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoUpload, id)
	}
	return u, nil
}

// Write stores data at offset of upload id and returns the new offset.
// offset must equal the current offset (writes are sequential; a publisher
// that lost track calls Begin again to learn where to resume).
func (s *Store) Write(id string, offset int64, data []byte) (int64, error) {
	u, err := s.lookup(id)
	if err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done || u.f == nil {
		return 0, fmt.Errorf("%w: %s", ErrNoUpload, id)
	}
	if offset != u.st.Offset {
		return u.st.Offset, fmt.Errorf("%w: got %d, expected %d", ErrOffset, offset, u.st.Offset)
	}
	if int64(len(data)) > u.st.Size-offset {
		return u.st.Offset, fmt.Errorf("%w: write past the declared size %d", ErrTooLarge, u.st.Size)
	}
	if _, err := u.f.WriteAt(data, offset); err != nil {
		return u.st.Offset, err
	}
	u.h.Write(data)
	u.st.Offset += int64(len(data))
	u.wakeLocked()
	// The resume point is saved every saveEvery bytes (and on close and
	// commit), not after every write: a crash costs at most that much
	// re-sending, and a write stays one file write plus hashing.
	if u.st.Offset-u.savedAt >= saveEvery || u.st.Offset == u.st.Size {
		return u.st.Offset, u.saveLocked()
	}
	return u.st.Offset, nil
}

// saveEvery is how many bytes an upload takes between saves of its resume
// point.
const saveEvery = 8 << 20

// WriteOrdered is Write for a publisher that keeps several writes in
// flight: a write whose offset lies ahead of the current one (by at most
// maxAhead bytes) waits, bounded by ctx, until the writes before it have
// landed. A write behind the current offset fails with ErrOffset.
func (s *Store) WriteOrdered(ctx context.Context, id string, offset int64, data []byte, maxAhead int64) (int64, error) {
	u, err := s.lookup(id)
	if err != nil {
		return 0, err
	}
	for {
		u.mu.Lock()
		cur, done, wait := u.st.Offset, u.done, u.advanced
		u.mu.Unlock()
		switch {
		case done:
			return 0, fmt.Errorf("%w: %s", ErrNoUpload, id)
		case offset == cur:
			return s.Write(id, offset, data)
		case offset < cur || offset-cur > maxAhead:
			return cur, fmt.Errorf("%w: got %d, expected %d", ErrOffset, offset, cur)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return cur, ctx.Err()
		}
	}
}

// Abort drops an upload and its partial data.
func (s *Store) Abort(id string) error {
	s.mu.Lock()
	u := s.uploads[id]
	delete(s.uploads, id)
	s.mu.Unlock()
	if u == nil {
		return fmt.Errorf("%w: %s", ErrNoUpload, id)
	}
	err := u.close()
	return errors.Join(err, rmIfExists(s.partialPath(id, ".part")), rmIfExists(s.partialPath(id, ".json")))
}

func rmIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Commit checks that upload id is complete and matches its SHA-256, unpacks
// it, and swaps it in under its name atomically: readers of the site see the
// old bundle or the new one, never a mix. A failed check drops the upload.
func (s *Store) Commit(id string) (Info, error) {
	u, err := s.lookup(id)
	if err != nil {
		return Info{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done || u.f == nil {
		return Info{}, fmt.Errorf("%w: %s", ErrNoUpload, id)
	}
	st := u.st
	if st.Offset != st.Size {
		return Info{}, fmt.Errorf("%w: %d of %d bytes", ErrIncomplete, st.Offset, st.Size)
	}
	drop := func(cause error) (Info, error) {
		u.mu.Unlock()
		_ = s.Abort(id)
		u.mu.Lock()
		return Info{}, cause
	}
	if got := hex.EncodeToString(u.h.Sum(nil)); got != st.SHA256 {
		return drop(fmt.Errorf("%w: received %s, declared %s", ErrChecksum, got, st.SHA256))
	}
	if err := u.f.Sync(); err != nil {
		return Info{}, err
	}
	// Unpack into tmp/, never under a final name.
	s.mu.Lock()
	s.seq++
	version := st.Name + "." + strconv.FormatInt(s.seq, 36)
	s.mu.Unlock()
	staging := filepath.Join(s.dir, "tmp", version)
	if err := os.Mkdir(staging, 0o755); err != nil {
		return Info{}, err
	}
	if _, err := u.f.Seek(0, 0); err != nil {
		return Info{}, err
	}
	un, err := Unpack(u.f, staging, s.opts.Unpack)
	if err != nil {
		os.RemoveAll(staging)
		return drop(err)
	}
	info := Info{Name: st.Name, Size: st.Size, SHA256: st.SHA256, Mtime: st.Mtime.UTC(), Published: s.opts.Now().UTC().Round(0), Files: un.Files, Unpacked: un.Bytes}
	meta, err := json.Marshal(info)
	if err != nil {
		return Info{}, err
	}
	if err := s.swap(id, st.Name, version, staging, meta); err != nil {
		os.RemoveAll(staging)
		return Info{}, err
	}
	u.f.Close()
	u.f, u.done = nil, true
	u.wakeLocked()
	_ = rmIfExists(s.partialPath(id, ".json"))
	return info, nil
}

// swap moves a staged tree and upload id's archive under their final
// names, and takes the upload out of the open ones: its reservation ends
// under the same lock that puts its archive in bundles/, so the quota never
// sees the bytes twice or not at all.
func (s *Store) swap(id, name, version, staging string, meta []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	archive := s.partialPath(id, ".part")
	vdir := filepath.Join(s.dir, "versions", version)
	if err := os.Rename(staging, vdir); err != nil {
		return err
	}
	link := filepath.Join(s.dir, "sites", name)
	old, _ := os.Readlink(link)
	tmpLink := filepath.Join(s.dir, "tmp", version+".link")
	if err := os.Symlink(filepath.Join("..", "versions", version), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, link); err != nil {
		os.Remove(tmpLink)
		return err
	}
	if err := os.Rename(archive, filepath.Join(s.dir, "bundles", name+".tar.gz")); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(s.dir, "bundles", name+".json"), meta, true); err != nil {
		return err
	}
	delete(s.uploads, id)
	if old != "" {
		_ = os.RemoveAll(filepath.Join(s.dir, "sites", old))
	}
	return nil
}
