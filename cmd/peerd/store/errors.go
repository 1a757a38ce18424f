package store

import "errors"

// Sentinel errors; callers match them with errors.Is.
var (
	ErrBadName       = errors.New("store: invalid bundle name")
	ErrNotFound      = errors.New("store: no such bundle")
	ErrNoUpload      = errors.New("store: no such upload")
	ErrOffset        = errors.New("store: write at wrong offset")
	ErrTooLarge      = errors.New("store: bundle exceeds size quota")
	ErrStoreFull     = errors.New("store: store quota exceeded")
	ErrIncomplete    = errors.New("store: upload incomplete")
	ErrChecksum      = errors.New("store: SHA-256 mismatch")
	ErrUnsafeArchive = errors.New("store: unsafe archive entry")
	ErrArchiveBomb   = errors.New("store: archive unpacks beyond the limit")
	ErrBadArchive    = errors.New("store: malformed archive")
	ErrClosed        = errors.New("store: closed")
)
