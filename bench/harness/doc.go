// Package harness measures peerd's throughput, latency, memory and CPU cost
// next to baselines measured in the same run. It backs both `go run ./bench`
// and `peerd bench`.
//
// Every figure that claims a speed-up is a ratio against a baseline measured
// in the same run, because shared machines are noisy: each measurement is
// repeated (Config.Reps) and reported as median, min and max, and the ratio
// is taken between medians. The publish suite's ratio is instead the
// median of per-publish ratios, each publish against the raw runs right
// before and after it. The signaling suite's idle measurement repeats at
// most 3 times; the table says so (its n column holds each figure's
// count).
//
// Suites: throughput (by transport and payload size), latency (small round
// trips), memory (peak heap and RSS of a large transfer, each repetition in
// fresh processes: sender and receiver apart over Pion, both ends together
// over the in-memory pipe), cpu (CPU seconds per GiB), twoproc (the bench
// program started again as the receiving process, os.Executable with an
// environment variable naming its job), signaling (idle connections held by
// a server whose clients live in another process, and relay latency at a
// paced rate) and publish (the peerd daemon and `peerd publish` as two
// processes). Pion cases use the peer package's benchmarking options
// (Options.Raw, Options.PionDefaults); nothing here imports Pion.
//
// All traffic stays on loopback and every measurement is bounded in time by
// the context passed to Run.
package harness
