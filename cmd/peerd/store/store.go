package store

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Store. The zero value is the default.
type Options struct {
	// MaxBundleSize caps one archive's size in bytes. Default 4 GiB.
	MaxBundleSize int64
	// MaxStoreSize caps the sum of committed archives and uploads: an open
	// upload counts its whole declared size from Begin on, a partial upload
	// left by an earlier run what it holds. Default 64 GiB.
	MaxStoreSize int64
	// Unpack bounds what one archive may unpack to (archive bombs).
	Unpack Limits
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Info describes a committed bundle.
type Info struct {
	Name string `json:"name"`
	// Size is the archive's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the archive's hex SHA-256.
	SHA256 string `json:"sha256"`
	// Mtime is the publisher's modification time of the content.
	Mtime time.Time `json:"mtime"`
	// Published is when the store committed the bundle.
	Published time.Time `json:"published"`
	// Files and Unpacked describe the unpacked tree.
	Files    int   `json:"files"`
	Unpacked int64 `json:"unpacked"`
}

// Store keeps bundles under one data directory. It is safe for concurrent
// use.
type Store struct {
	dir  string
	opts Options

	mu      sync.Mutex         // guards uploads, seq, closed and the bundles/sites namespace during swaps; taken after upload.mu
	uploads map[string]*upload // open uploads by id
	seq     int64
	closed  bool
}

// Open opens (creating if needed) a store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MaxBundleSize <= 0 {
		opts.MaxBundleSize = 4 << 30
	}
	if opts.MaxStoreSize <= 0 {
		opts.MaxStoreSize = 64 << 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, d := range []string{"bundles", "sites", "versions", "partial", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// Leftovers of an interrupted commit are never under a final name; clear them.
	if err := clearDir(filepath.Join(dir, "tmp")); err != nil {
		return nil, err
	}
	return &Store{dir: dir, opts: opts, uploads: map[string]*upload{}, seq: opts.Now().UnixNano()}, nil
}

func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Dir returns the store's data directory.
func (s *Store) Dir() string { return s.dir }

// SiteDir returns the directory whose files are the bundle's served content.
func (s *Store) SiteDir(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	p := filepath.Join(s.dir, "sites", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return p, nil
}

// List returns the committed bundles sorted by name.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "bundles"))
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || ValidName(name) != nil {
			continue
		}
		info, err := s.Stat(name)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Stat returns a committed bundle's Info.
func (s *Store) Stat(name string) (Info, error) {
	var info Info
	if err := ValidName(name); err != nil {
		return info, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "bundles", name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return info, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("store: corrupt metadata for %s: %w", name, err)
	}
	return info, nil
}

// OpenArchive opens a committed bundle's archive for reading (for example
// with ReadAt, to serve a resumable fetch). The caller closes it.
func (s *Store) OpenArchive(name string) (*os.File, Info, error) {
	// Metadata and archive are read under the lock that swaps them, so they
	// always belong together.
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.Stat(name)
	if err != nil {
		return nil, info, err
	}
	f, err := os.Open(filepath.Join(s.dir, "bundles", name+".tar.gz"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, info, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return f, info, err
}

// Delete removes a committed bundle.
func (s *Store) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	meta := filepath.Join(s.dir, "bundles", name+".json")
	if _, err := os.Stat(meta); err != nil {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	link := filepath.Join(s.dir, "sites", name)
	target, _ := os.Readlink(link)
	errs := []error{os.Remove(meta), os.Remove(filepath.Join(s.dir, "bundles", name+".tar.gz")), os.Remove(link)}
	if target != "" {
		errs = append(errs, os.RemoveAll(filepath.Join(s.dir, "sites", target)))
	}
	for i, err := range errs {
		if errors.Is(err, fs.ErrNotExist) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}

// usedLocked returns the bytes counted against MaxStoreSize: committed
// archives, the declared size of every open upload (reserved in Begin,
// released when it commits or aborts), and what partial uploads left on disk
// and not open hold. The partial of upload exclude is not counted. s.mu is
// held.
func (s *Store) usedLocked(exclude string) int64 {
	var n int64
	for _, u := range s.uploads {
		n += u.size
	}
	for _, d := range []string{"bundles", "partial"} {
		ents, _ := os.ReadDir(filepath.Join(s.dir, d))
		for _, e := range ents {
			if id, ok := strings.CutSuffix(e.Name(), ".part"); ok {
				if id == exclude || s.uploads[id] != nil {
					continue
				}
			} else if !strings.HasSuffix(e.Name(), ".tar.gz") {
				continue
			}
			if fi, err := e.Info(); err == nil && !fi.IsDir() {
				n += fi.Size()
			}
		}
	}
	return n
}

// Close fails later uploads and closes open partial files; partial uploads
// stay on disk and resume after the store is opened again.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	open := s.uploads
	s.uploads = map[string]*upload{}
	s.mu.Unlock()
	var errs []error
	for _, u := range open {
		errs = append(errs, u.close())
	}
	return errors.Join(errs...)
}

// newHash returns a SHA-256 whose state can be saved and restored.
func newHash() hash.Hash { return sha256.New() }

func saveHash(h hash.Hash) ([]byte, error) {
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

func loadHash(state []byte) (hash.Hash, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, err
	}
	return h, nil
}

// uploadID derives a stable id from what the publisher declares, so that a
// publisher that restarts finds its partial upload again.
func uploadID(name string, size int64, sum string) string {
	h := sha256.Sum256([]byte(name + "\x00" + strconv.FormatInt(size, 10) + "\x00" + strings.ToLower(sum)))
	return hex.EncodeToString(h[:12])
}

// writeFileAtomic writes b to path through a temporary file and a rename,
// syncing the data first when sync is set.
func writeFileAtomic(path string, b []byte, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

var _ io.ReaderAt = (*os.File)(nil)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
