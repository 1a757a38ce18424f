package peer

// runChildIfRequested runs the second process of a two-process benchmark
// when the test binary was started for that; see twoproc_test.go.
func runChildIfRequested() bool { return false }
