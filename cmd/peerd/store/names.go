package store

import (
	"fmt"
	"regexp"
)

// namePattern is what a bundle name may look like: lower-case letters,
// digits, '.', '_' and '-', starting with a letter or digit, at most 64
// characters. Names are used as path components and URL segments.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName returns nil when name is a usable bundle name.
func ValidName(name string) error {
	if !namePattern.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("%w %q: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit", ErrBadName, name)
	}
	return nil
}
