package rpc

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks, on top of the per-test checks, that no goroutine
// outlives the package's tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
