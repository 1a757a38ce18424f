package peer

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultGCBudget is the heap size TuneGC lets a program reach before
// collecting, as the peerd command uses it.
const DefaultGCBudget = 24 << 20

// TuneGC makes the garbage collector let the heap grow to budget bytes
// before it runs, for a program that moves bulk data over Pion. Pion
// allocates for every SCTP packet of about 1.2 KB, so a channel at 70 MB/s
// allocates several hundred MB/s while the live heap stays at a few MB;
// with GOGC=100 the collector then runs dozens of times a second. After
// every collection TuneGC sets GOGC so that the next heap goal is budget,
// never below 100: a live heap above half the budget is collected as with
// the default, so a process holding much live memory behaves as before.
// (GOGC alone multiplies the live heap at every size; GOMEMLIMIT makes the
// collector run continuously once the live heap nears the limit.)
//
// The setting is the process's, not a connection's, which is why Options
// does not hold it: the program decides. Stop ends the tuning and restores
// the GOGC in effect before; only one tuning may run at a time (a second
// call stops the first). doc.go has the measurement.
func TuneGC(budget int) (stop func()) {
	gcMu.Lock()
	defer gcMu.Unlock()
	if gcCurrent != nil {
		gcCurrent.stopLocked()
	}
	t := &gcTuner{
		budget:  uint64(max(budget, 0)), //nolint:gosec // not negative
		samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
		pct:     -1,
		prev:    currentGCPercent(),
	}
	gcCurrent = t
	t.arm()

	return func() {
		gcMu.Lock()
		defer gcMu.Unlock()
		t.stopLocked()
	}
}

var (
	gcMu      sync.Mutex // guards gcCurrent and every tuner's state
	gcCurrent *gcTuner
	gcOnTune  func(pct int) // tests only; called under gcMu
)

// currentGCPercent reads GOGC as the runtime holds it (-1: off).
func currentGCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	if p := s[0].Value.Uint64(); p <= 1<<30 {
		return int(p)
	}

	return -1
}

// gcTuner runs after each collection, from a finalizer on an object that
// it re-arms every time until stopped.
type gcTuner struct {
	budget  uint64
	samples []metrics.Sample
	pct     int // last GOGC set, -1 before the first
	prev    int // GOGC before TuneGC
	stopped bool
}

// sentinel is the object whose finalizer runs after each collection (it
// holds a pointer, so it is never one of the runtime's combined tiny
// allocations, whose finalizers may not run).
type sentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.tune() {
			s.t.arm()
		}
	})
}

func (t *gcTuner) stopLocked() {
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.prev)
	if gcCurrent == t {
		gcCurrent = nil
	}
}

// tune sets GOGC from the live heap; it reports whether to keep going.
func (t *gcTuner) tune() bool {
	gcMu.Lock()
	defer gcMu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.samples)
	if t.samples[0].Value.Kind() != metrics.KindUint64 {
		return true
	}
	pct := gcPercentFor(t.samples[0].Value.Uint64(), t.budget)
	if pct != t.pct {
		t.pct = pct
		debug.SetGCPercent(pct)
	}
	if gcOnTune != nil {
		gcOnTune(pct)
	}

	return true
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

	return int(min(hi, (budget-live)*100/live)) //nolint:gosec // at most budget*25
}
