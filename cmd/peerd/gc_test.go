package main

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

// TestGCTuner runs the tuner for a few collections: after each it sets
// GOGC from the live heap, as the runtime reports.
func TestGCTuner(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tuned := make(chan int, 16)
	tn := newGCTuner(1 << 30)
	tn.onTune = func(pct int) {
		select {
		case tuned <- pct:
		default:
		}
	}
	tn.arm()
	defer func() {
		tn.stop()
		runtime.GC() // the finalizer now returns without re-arming
	}()

	for range 3 {
		runtime.GC()
		select {
		case pct := <-tuned:
			assert.Greater(t, pct, 100, "a small live heap under a 1 GiB budget")
			s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
			metrics.Read(s)
			require.Equal(t, metrics.KindUint64, s[0].Value.Kind())
			assert.Equal(t, uint64(pct), s[0].Value.Uint64(), "GOGC as set")
		case <-time.After(10 * time.Second):
			t.Fatal("the tuner did not run after a collection")
		}
	}
}
