package main

import (
	"os"

	"github.com/peerd/peerd/peer"
)

// The garbage collector's budget.
//
// Pion allocates for every SCTP packet of about 1.2 KB, so a transfer at
// 60-80 MB/s allocates several hundred MB/s while the live heap stays at
// 3-10 MB; with GOGC=100 the collector runs about 80 times a second in
// each process. peerd therefore lets the heap grow to gcBudget before
// collecting (peer.TuneGC: GOGC is set after each collection so that the
// next goal is the budget, never below 100).
//
// Measured with a 256 MiB publish between two processes on loopback
// (GODEBUG=gctrace=1): 187 collections in `peerd publish` and 76 in the
// daemon, against 317 and 328 with GOGC=100. The publish suite (go run
// ./bench -suites publish -publish-bytes 512MiB -reps 4, each build in
// turn): 1.02x of raw two-process Pion with a 24 MiB budget, 1.03x with
// 32 MiB, 0.92x without; peak RSS of sender and receiver 50.6 and 49.3 MiB
// with 24 MiB, 58.4 and 57.4 with 32 MiB, 49.9 and 37.0 without. 24 MiB
// keeps the gain well inside the 64 MiB a side that a 1 GiB publish may
// use.
//
// Setting GOGC in the environment turns the budget off (the runtime then
// uses that value).
const gcBudget = peer.DefaultGCBudget

// stopGCTuner ends the budget (peerd bench measures as go run ./bench
// does, the budget only where a case asks for it).
var stopGCTuner = func() {}

// startGCTuner applies the budget for the life of the process, unless GOGC
// is set in the environment.
func startGCTuner() {
	if os.Getenv("GOGC") == "" {
		stopGCTuner = peer.TuneGC(gcBudget)
	}
}
