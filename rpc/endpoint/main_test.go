package endpoint

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain also checks for leaks after the examples and fuzz seeds, which
// have no per-test check.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
