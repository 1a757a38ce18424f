package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Service exposes a Store as rpc methods. Register it under a namespace
// (the daemon uses "store"); every method takes the caller's ctx first.
//
// Authorize, when set, is asked before every method; write is true for
// methods that change the store. It typically checks a publisher token
// recorded on the caller's connection.
type Service struct {
	Store *Store
	// MaxRead caps one Read, in bytes. Default 1 MiB.
	MaxRead int
	// MaxPublish caps the one-call Publish, in bytes. Default 64 MiB.
	MaxPublish int64
	// MaxAhead is how far past the current offset a windowed Write may
	// arrive and wait for its turn. Default 64 MiB.
	MaxAhead int64
	// Authorize, if set, vets each call.
	Authorize func(ctx context.Context, write bool) error
}

// ErrReadTooLarge is returned for a Read longer than Service.MaxRead.
var ErrReadTooLarge = errors.New("store: read longer than the limit")

func (s *Service) auth(ctx context.Context, write bool) error {
	if s.Authorize == nil {
		return nil
	}
	return s.Authorize(ctx, write)
}

// ParamNames gives the parameter names of each method for discovery.
var ParamNames = map[string][]string{
	"Begin":   {"name", "size", "sha256", "mtime"},
	"Write":   {"id", "offset", "data"},
	"Commit":  {"id"},
	"Abort":   {"id"},
	"Publish": {"name", "mtime", "archive"},
	"List":    {},
	"Stat":    {"name"},
	"Read":    {"name", "offset", "length"},
	"Delete":  {"name"},
}

// Begin starts or resumes an upload; see Store.Begin.
func (s *Service) Begin(ctx context.Context, name string, size int64, sha256 string, mtime time.Time) (UploadInfo, error) {
	if err := s.auth(ctx, true); err != nil {
		return UploadInfo{}, err
	}
	return s.Store.Begin(name, size, sha256, mtime)
}

// Write stores data at offset of an upload and returns the new offset.
// Writes may be pipelined: one that arrives ahead of its turn waits for the
// writes before it.
func (s *Service) Write(ctx context.Context, id string, offset int64, data []byte) (int64, error) {
	if err := s.auth(ctx, true); err != nil {
		return 0, err
	}
	ahead := s.MaxAhead
	if ahead <= 0 {
		ahead = 64 << 20
	}
	return s.Store.WriteOrdered(ctx, id, offset, data, ahead)
}

// Commit verifies and publishes a complete upload.
func (s *Service) Commit(ctx context.Context, id string) (Info, error) {
	if err := s.auth(ctx, true); err != nil {
		return Info{}, err
	}
	return s.Store.Commit(id)
}

// Abort drops an upload.
func (s *Service) Abort(ctx context.Context, id string) error {
	if err := s.auth(ctx, true); err != nil {
		return err
	}
	return s.Store.Abort(id)
}

// Publish publishes a whole tar.gz archive in one call (for bundles small
// enough to travel as one binary argument).
func (s *Service) Publish(ctx context.Context, name string, mtime time.Time, archive []byte) (Info, error) {
	if err := s.auth(ctx, true); err != nil {
		return Info{}, err
	}
	max := s.MaxPublish
	if max <= 0 {
		max = 64 << 20
	}
	if int64(len(archive)) > max {
		return Info{}, fmt.Errorf("%w: %d bytes in one call (limit %d; use begin/write/commit)", ErrTooLarge, len(archive), max)
	}
	sum := sha256Hex(archive)
	up, err := s.Store.Begin(name, int64(len(archive)), sum, mtime)
	if err != nil {
		return Info{}, err
	}
	if up.Offset != 0 {
		// A resumable upload of the same archive exists; finish it from here.
		archive = archive[up.Offset:]
	}
	if _, err := s.Store.Write(up.ID, up.Offset, archive); err != nil {
		return Info{}, err
	}
	return s.Store.Commit(up.ID)
}

// List returns the published bundles.
func (s *Service) List(ctx context.Context) ([]Info, error) {
	if err := s.auth(ctx, false); err != nil {
		return nil, err
	}
	list, err := s.Store.List()
	if list == nil {
		list = []Info{}
	}
	return list, err
}

// Stat describes one bundle.
func (s *Service) Stat(ctx context.Context, name string) (Info, error) {
	if err := s.auth(ctx, false); err != nil {
		return Info{}, err
	}
	return s.Store.Stat(name)
}

// Read returns up to length bytes of a bundle's archive from offset; fewer
// at the end, none past it.
func (s *Service) Read(ctx context.Context, name string, offset int64, length int) ([]byte, error) {
	if err := s.auth(ctx, false); err != nil {
		return nil, err
	}
	max := s.MaxRead
	if max <= 0 {
		max = 1 << 20
	}
	if length < 0 || length > max || offset < 0 {
		return nil, fmt.Errorf("%w: offset %d, length %d (limit %d)", ErrReadTooLarge, offset, length, max)
	}
	f, info, err := s.Store.OpenArchive(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if offset >= info.Size {
		return []byte{}, nil
	}
	buf := make([]byte, min(int64(length), info.Size-offset))
	n, err := f.ReadAt(buf, offset)
	if err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// Delete removes a bundle.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.auth(ctx, true); err != nil {
		return err
	}
	return s.Store.Delete(name)
}
