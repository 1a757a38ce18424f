package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The garbage collector's budget.
//
// Pion allocates for every SCTP packet of about 1.2 KB, so a transfer at
// 60-80 MB/s allocates several hundred MB/s while the live heap stays at
// 3-10 MB. With GOGC=100 the heap goal is then 6-20 MB and the collector
// runs about 80 times a second in each process. peerd lets the heap grow
// to gcBudget before collecting: after every collection it sets GOGC so
// that the next goal is gcBudget, never below 100, so a live heap above
// half the budget is collected exactly as with the default. A transfer
// gets fewer collections; a process holding much live memory behaves as
// before. The runtime's own knobs cannot say this: GOGC alone multiplies
// the live heap at every size, and GOMEMLIMIT makes the collector run
// continuously once the live heap nears the limit.
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
const gcBudget = 24 << 20

// gcTuner keeps the heap goal near budget. It runs after each collection,
// from a finalizer on an object that it re-arms every time, until stopped.
type gcTuner struct {
	budget  uint64
	samples []metrics.Sample
	pct     int
	stopped atomic.Bool
	onTune  func(pct int) // tests only; may be nil
}

var startGCTunerOnce sync.Once

// startGCTuner starts the tuner for the life of the process, unless GOGC
// is set in the environment.
func startGCTuner() {
	if os.Getenv("GOGC") != "" {
		return
	}
	startGCTunerOnce.Do(func() { newGCTuner(gcBudget).arm() })
}

func newGCTuner(budget uint64) *gcTuner {
	return &gcTuner{budget: budget, samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, pct: -1}
}

// sentinel is the object whose finalizer runs after each collection (it
// holds a pointer, so it is never one of the runtime's combined tiny
// allocations, whose finalizers may not run).
type sentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.tune()
		s.t.arm()
	})
}

// stop ends the tuning after the next collection; GOGC keeps its last value.
func (t *gcTuner) stop() { t.stopped.Store(true) }

func (t *gcTuner) tune() {
	metrics.Read(t.samples)
	if t.samples[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	pct := gcPercentFor(t.samples[0].Value.Uint64(), t.budget)
	if pct != t.pct {
		t.pct = pct
		debug.SetGCPercent(pct)
	}
	if t.onTune != nil {
		t.onTune(pct)
	}
}

// gcPercentFor is the GOGC that puts the next heap goal, live*(1+p/100),
// at budget, and at least 100. The runtime never sets a goal below its
// minimum heap, 4 MiB*p/100, so p stays at most budget/4 MiB*100: a small
// live heap must not raise the goal past the budget.
func gcPercentFor(live, budget uint64) int {
	const lo, minHeap = 100, 4 << 20
	hi := max(lo, budget*100/minHeap)
	if live == 0 || budget <= 2*live {
		return lo
	}

	return int(min(hi, (budget-live)*100/live))
}
