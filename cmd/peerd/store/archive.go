package store

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Limits bound what Unpack writes. Zero fields take the defaults noted.
type Limits struct {
	// MaxUnpacked caps the total bytes of regular files. Default 8 GiB.
	MaxUnpacked int64
	// MaxEntries caps the number of entries. Default 100,000.
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxUnpacked <= 0 {
		l.MaxUnpacked = 8 << 30
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 100_000
	}
	return l
}

// Unpacked summarises an unpacked archive.
type Unpacked struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Unpack reads a tar.gz stream and writes it under dir, which must exist and
// be empty. It accepts only regular files and directories with relative,
// clean names; links, devices, absolute paths and ".." are rejected with
// ErrUnsafeArchive, and sizes past lim with ErrArchiveBomb. All writes go
// through an os.Root, so nothing lands outside dir even if a check were
// missed. On error, dir may hold a partial tree: the caller removes it.
func Unpack(r io.Reader, dir string, lim Limits) (Unpacked, error) {
	lim = lim.withDefaults()
	var u Unpacked
	zr, err := gzip.NewReader(r)
	if err != nil {
		return u, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return u, err
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	entries := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return u, nil
		}
		if err != nil {
			return u, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		entries++
		if entries > lim.MaxEntries {
			return u, fmt.Errorf("%w: more than %d entries", ErrArchiveBomb, lim.MaxEntries)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return u, err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if name == "." {
				continue
			}
			if err := root.MkdirAll(name, 0o755); err != nil {
				return u, err
			}
		case tar.TypeReg:
			if name == "." {
				return u, fmt.Errorf("%w: file entry with an empty name", ErrUnsafeArchive)
			}
			if h.Size < 0 || h.Size > lim.MaxUnpacked-u.Bytes {
				return u, fmt.Errorf("%w: more than %d bytes", ErrArchiveBomb, lim.MaxUnpacked)
			}
			if dir := path.Dir(name); dir != "." {
				if err := root.MkdirAll(dir, 0o755); err != nil {
					return u, err
				}
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return u, fmt.Errorf("%w: duplicate entry %q", ErrUnsafeArchive, h.Name)
				}
				return u, err
			}
			n, err := io.Copy(f, tr)
			u.Bytes += n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return u, fmt.Errorf("%w: %q: %v", ErrBadArchive, h.Name, err)
			}
			u.Files++
		case tar.TypeXGlobalHeader:
			// PAX global headers carry metadata only.
		default:
			return u, fmt.Errorf("%w: %q has type %q (only regular files and directories are allowed)", ErrUnsafeArchive, h.Name, string(rune(h.Typeflag)))
		}
	}
}

// entryName validates a tar entry name and returns it cleaned, slash-separated
// and relative.
func entryName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("%w: bad name %q", ErrUnsafeArchive, name)
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafeArchive, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q leaves the bundle", ErrUnsafeArchive, name)
		}
	}
	return path.Clean(name), nil
}

// Pack writes src — a directory, or a single regular file — as a tar.gz
// stream to w. The output is deterministic for the same tree (sorted
// entries, zeroed owner fields, no gzip timestamp), so an interrupted
// publish can be resumed against the same archive hash. Symbolic links and
// other special files are skipped and reported in skipped.
func Pack(src string, w io.Writer) (skipped []string, err error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	add := func(p, name string, fi fs.FileInfo) error {
		h := &tar.Header{Name: name, ModTime: fi.ModTime().UTC().Truncate(time.Second), Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o755
			return tw.WriteHeader(h)
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size, h.Mode = tar.TypeReg, fi.Size(), 0o644
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := io.Copy(tw, f)
			if err == nil && n != fi.Size() {
				err = fmt.Errorf("%s changed size while packing", p)
			}
			return err
		}
		skipped = append(skipped, p)
		return nil
	}
	if !info.IsDir() {
		err = add(src, filepath.Base(src), info)
	} else {
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil || rel == "." {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			return add(p, filepath.ToSlash(rel), fi)
		})
	}
	if err != nil {
		return skipped, err
	}
	if err := tw.Close(); err != nil {
		return skipped, err
	}
	return skipped, zw.Close()
}
