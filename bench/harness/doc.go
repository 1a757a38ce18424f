// Package harness measures peerd's throughput, latency, memory and CPU cost
// next to baselines measured in the same run. It backs both `go run ./bench`
// and `peerd bench`.
//
// Every figure that claims a speed-up is a ratio against a baseline measured
// in the same run, because shared machines are noisy: each measurement is
// repeated (Config.Reps) and reported as median, min and max, and the ratio
// is taken between medians.
//
// All traffic stays on loopback and every measurement is bounded in time by
// the context passed to Run.
package harness
