package peer

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func gogc(t *testing.T) int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	require.Equal(t, metrics.KindUint64, s[0].Value.Kind())

	return int(s[0].Value.Uint64()) //nolint:gosec // a percentage
}

// TestTuneGC runs the tuner over a few collections: after each it sets
// GOGC from the live heap; stop restores the GOGC from before, and a
// second TuneGC replaces the first.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(150)
	defer debug.SetGCPercent(old)
	tuned := make(chan int, 16)
	gcMu.Lock()
	gcOnTune = func(pct int) {
		select {
		case tuned <- pct:
		default:
		}
	}
	gcMu.Unlock()
	defer func() {
		gcMu.Lock()
		gcOnTune = nil
		gcMu.Unlock()
	}()
	next := func() int {
		runtime.GC()
		select {
		case pct := <-tuned:
			return pct
		case <-time.After(10 * time.Second):
			t.Fatal("the tuner did not run after a collection")
			return 0
		}
	}

	stop := TuneGC(1 << 30)
	for range 3 {
		pct := next()
		assert.Greater(t, pct, 150, "a small live heap under a 1 GiB budget")
		assert.Equal(t, pct, gogc(t), "GOGC as set")
	}
	stop()
	assert.Equal(t, 150, gogc(t), "stop restores GOGC")
	stop() // idempotent
	assert.Equal(t, 150, gogc(t))

	stop1 := TuneGC(1 << 30)
	stop2 := TuneGC(2 << 20) // a budget below the minimum heap: 100
	for range 2 {
		assert.Equal(t, 100, next(), "the second tuner alone runs")
	}
	stop1() // already replaced: no effect
	assert.Equal(t, 100, gogc(t))
	stop2()
	assert.Equal(t, 150, gogc(t), "restored to what the second found")
	runtime.GC() // the stopped tuners' finalizers return without re-arming
}
