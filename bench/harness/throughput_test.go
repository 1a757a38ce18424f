package harness

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock advances by step each time it is read.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

// countMover counts what it is asked to move; it fails on call failAt.
type countMover struct {
	calls, bytes int64
	failAt       int64
}

func (m *countMover) Move(_ context.Context, total int64) error {
	m.calls++
	if m.calls == m.failAt {
		return errors.New("boom")
	}
	m.bytes += total
	return nil
}

func (m *countMover) Close() error { return nil }

func TestMoveForRepeatsUntilDurationPassed(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{step: 10 * time.Millisecond}
	m := &countMover{}
	moved, wall, _, err := moveFor(ctx, m, 1000, 35*time.Millisecond, clk.now)
	require.NoError(t, err)
	// The clock reads 10 ms later at each check: after 4 moves 40 ms have
	// passed.
	assert.EqualValues(t, 4, m.calls)
	assert.EqualValues(t, 4000, moved)
	assert.Equal(t, 40*time.Millisecond, wall)

	m = &countMover{}
	moved, _, _, err = moveFor(ctx, m, 1000, 0, clk.now)
	require.NoError(t, err)
	assert.EqualValues(t, 1, m.calls, "no duration: one transfer")
	assert.EqualValues(t, 1000, moved)

	m = &countMover{failAt: 2}
	_, _, _, err = moveFor(ctx, m, 1000, time.Hour, clk.now)
	assert.EqualError(t, err, "boom")
}

func TestThroughputFigureIsAllBytesOverTime(t *testing.T) {
	m := &countMover{}
	c := ThroughputCase{Name: "fake", Setup: func(context.Context, int) (Mover, error) { return m, nil }}
	clk := &fakeClock{step: time.Millisecond}
	cfg := Config{Reps: 3, Bytes: 1 << 20, Duration: 5 * time.Millisecond, CaseTimeout: 10 * time.Second, now: clk.now}.withDefaults()
	rs := measureThroughput(context.Background(), cfg, "throughput", c, 64<<10)
	require.Len(t, rs, 2)
	require.Empty(t, rs[0].Err)
	// Five moves of 1 MiB per repetition, each read of the clock 1 ms on.
	assert.InDelta(t, 5*float64(1<<20)/0.005/1e6, rs[0].Stat.Median, 1e-6)
	assert.Equal(t, 3, rs[0].Stat.N)
	// One warm-up move, then 5 per repetition.
	assert.EqualValues(t, 1+3*5, m.calls)
}

func TestInMemoryCasesHaveAMinimumTime(t *testing.T) {
	for _, name := range []string{"copy", "binchannel pipe", "binchannel pipe request", "rpc pipe"} {
		c, ok := findCase(name)
		require.True(t, ok, name)
		assert.Equal(t, inMemoryMinDuration, measureTime(Config{}, c), name)
		assert.Equal(t, time.Second, measureTime(Config{Duration: time.Second}, c), name)
	}
	for _, name := range []string{"tcp", "websocket", "pion raw tuned", "binchannel pion"} {
		c, ok := findCase(name)
		require.True(t, ok, name)
		assert.Zero(t, measureTime(Config{}, c), name)
		assert.Equal(t, time.Second, measureTime(Config{Duration: time.Second}, c), name)
	}
	cond := throughputTimeCondition(Config{Bytes: 64 << 20})
	assert.Contains(t, cond, "moves 64MiB once")
	assert.Contains(t, cond, "binchannel pipe at least 100ms")
	cond = throughputTimeCondition(Config{Bytes: 64 << 20, Duration: 2 * time.Second})
	assert.Contains(t, cond, "until at least 2s have passed")
	assert.NotContains(t, cond, "binchannel pipe at least")
}

func TestDurationFlag(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	require.NoError(t, Main(context.Background(), []string{"-suites", "throughput", "-cases", "tcp", "-sizes", "64KiB", "-bytes", "256KiB",
		"-reps", "1", "-duration", "1ms", "-out", dir}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "condition: throughput time = each measurement repeats the transfer of 256KiB")

	err := Main(context.Background(), []string{"-duration", "-1s"}, &out, &errb)
	assert.ErrorContains(t, err, "want 0 or more")
	err = Main(context.Background(), []string{"-duration", "30s", "-reps", "5", "-case-timeout", "1m"}, &out, &errb)
	assert.ErrorContains(t, err, "does not fit in -case-timeout")
}
