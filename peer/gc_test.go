package peer

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, budget uint64
		want         int
	}{
		{0, 24 * mib, 100},         // nothing measured yet
		{12 * mib, 24 * mib, 100},  // half the budget: the default
		{40 * mib, 24 * mib, 100},  // over the budget: never below 100
		{8 * mib, 24 * mib, 200},   // goal 8*3 = 24
		{6 * mib, 24 * mib, 300},   // goal 6*4 = 24
		{4 * mib, 24 * mib, 500},   // goal 4*6 = 24
		{3 * mib, 24 * mib, 600},   // 700 would put the runtime's minimum heap, 4 MiB*7, above 24
		{1, 24 * mib, 600},         // tiny live heap: the same cap
		{1 * mib, 4 * mib, 100},    // a budget at the minimum heap: the default
		{10 * mib, 1 << 30, 10140}, // a large budget: (1024-10)*100/10, under the 25600 cap
	} {
		assert.Equal(t, c.want, gcPercentFor(c.live, c.budget), "live %d budget %d", c.live, c.budget)
	}
}

// TestTuneGC runs the tuner over a few collections: after each it sets
// GOGC from the live heap; stop restores the GOGC from before, and a
// second TuneGC replaces the first. The hook reads GOGC under the tuner's
// lock, so collections started by other goroutines cannot come between.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(150)
	defer debug.SetGCPercent(old)
	type tuning struct{ pct, gogc int }
	tuned := make(chan tuning, 16)
	gcMu.Lock()
	gcOnTune = func(pct int) {
		select {
		case tuned <- tuning{pct, currentGCPercent()}:
		default:
		}
	}
	gcMu.Unlock()
	defer func() {
		gcMu.Lock()
		gcOnTune = nil
		gcMu.Unlock()
	}()
	next := func() tuning {
		for {
			select {
			case <-tuned: // from an earlier collection
				continue
			default:
			}
			break
		}
		runtime.GC()
		select {
		case tn := <-tuned:
			return tn
		case <-time.After(10 * time.Second):
			t.Fatal("the tuner did not run after a collection")
			return tuning{}
		}
	}

	stop := TuneGC(1 << 30)
	for range 3 {
		tn := next()
		assert.Greater(t, tn.pct, 150, "a small live heap under a 1 GiB budget")
		assert.Equal(t, tn.pct, tn.gogc, "GOGC as set")
	}
	stop()
	assert.Equal(t, 150, currentGCPercent(), "stop restores GOGC")
	stop() // idempotent
	assert.Equal(t, 150, currentGCPercent())

	stop1 := TuneGC(1 << 30)
	stop2 := TuneGC(2 << 20) // a budget below the minimum heap: 100
	for range 2 {
		assert.Equal(t, tuning{100, 100}, next(), "the second tuner alone runs")
	}
	stop1() // already replaced: no effect
	assert.Equal(t, 100, currentGCPercent())
	stop2()
	assert.Equal(t, 150, currentGCPercent(), "restored to what the second found")
	runtime.GC() // the stopped tuners' finalizers return without re-arming
}
