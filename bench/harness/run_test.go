package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The twoproc and signaling suites start this binary again as their
	// receiver or client process.
	_, child := os.LookupEnv(twoprocEnv)
	_, idle := os.LookupEnv(idleClientsEnv)
	if child || idle {
		if err := Main(context.Background(), nil, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	childArgs = []string{"-test.run=^$"}
	goleak.VerifyTestMain(m)
}

func tinyConfig() Config {
	return Config{
		Sizes:       []int{1 << 10, 64 << 10},
		Reps:        2,
		Bytes:       256 << 10,
		RoundTrips:  20,
		MemoryBytes: 1 << 20,
		CaseTimeout: 20 * time.Second,
	}
}

func TestRunBaselinesAndWriteFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := tinyConfig()
	cfg.Suites = []string{"throughput", "latency"}
	cfg.Cases = []string{"copy", "tcp", "websocket", "net/rpc"}
	rep, err := Run(ctx, cfg)
	require.NoError(t, err)

	byKey := map[string]Result{}
	for _, r := range rep.Results {
		assert.Empty(t, r.Err, "%s %s %s", r.Case, r.Param, r.Metric)
		byKey[r.Suite+"|"+r.Case+"|"+r.Param+"|"+r.Metric] = r
	}
	for _, k := range []string{
		"throughput|copy|1KiB|throughput", "throughput|tcp|64KiB|throughput", "throughput|websocket|64KiB|cpu",
		"latency|net/rpc pipe|100B|p50", "latency|net/rpc tcp|100B|p99", "latency|tcp ping-pong|100B|p90",
		"latency|websocket ping-pong|100B|p50",
	} {
		r, ok := byKey[k]
		if assert.True(t, ok, k) {
			assert.Equal(t, 2, r.Stat.N, k)
			assert.LessOrEqual(t, r.Stat.Min, r.Stat.Median, k)
			assert.LessOrEqual(t, r.Stat.Median, r.Stat.Max, k)
		}
	}
	assert.Greater(t, byKey["throughput|tcp|64KiB|throughput"].Stat.Median, 0.0)
	p50, p99 := byKey["latency|net/rpc tcp|100B|p50"], byKey["latency|net/rpc tcp|100B|p99"]
	assert.LessOrEqual(t, p50.Stat.Median, p99.Stat.Median)

	dir := t.TempDir()
	paths, err := rep.WriteFiles(dir)
	require.NoError(t, err)
	assert.Len(t, paths, 4)
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, len(rep.Results), len(back.Results))
	svg, err := os.ReadFile(filepath.Join(dir, "throughput.svg"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(svg, []byte("<svg")))
	assert.Contains(t, string(svg), "websocket")

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "machine: ")
	assert.Contains(t, table.String(), "net/rpc pipe")
}

func TestRatiosCompareMediansOfSameParam(t *testing.T) {
	rs := []Result{
		{Suite: "throughput", Case: "base", Param: "1KiB", Metric: "throughput", Stat: Stat{Median: 100}},
		{Suite: "throughput", Case: "x", Param: "1KiB", Metric: "throughput", Stat: Stat{Median: 150}, Baseline: "base"},
		{Suite: "throughput", Case: "x", Param: "2KiB", Metric: "throughput", Stat: Stat{Median: 150}, Baseline: "base"},
		{Suite: "throughput", Case: "y", Param: "1KiB", Metric: "throughput", Err: "boom", Baseline: "base"},
	}
	rs = append(rs,
		Result{Suite: "throughput", Case: "other", Param: "1KiB", Metric: "throughput", Stat: Stat{Median: 300}},
		Result{Suite: "throughput", Case: "z", Param: "1KiB", Metric: "throughput", Stat: Stat{Median: 150}, Baseline: "base",
			Also: []RatioTo{{Baseline: "other"}, {Baseline: "missing"}}},
	)
	setRatios(rs)
	assert.InDelta(t, 1.5, rs[5].Ratio, 1e-9)
	assert.InDelta(t, 0.5, rs[5].Also[0].Ratio, 1e-9)
	assert.Zero(t, rs[5].Also[1].Ratio, "no such case")
	assert.InDelta(t, 1.5, rs[1].Ratio, 1e-9)
	assert.Zero(t, rs[2].Ratio, "no baseline at 2KiB")
	assert.Zero(t, rs[3].Ratio)
}

func TestUnknownSuite(t *testing.T) {
	_, err := Run(context.Background(), Config{Suites: []string{"nope"}})
	require.ErrorContains(t, err, `unknown suite "nope"`)
}

func TestCancelledRunStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := tinyConfig()
	cfg.Suites = []string{"throughput"}
	_, err := Run(ctx, cfg)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int]string{1: "1B", 1000: "1000B", 1024: "1KiB", 64 << 10: "64KiB", 16 << 20: "16MiB", 1 << 30: "1GiB"} {
		assert.Equal(t, want, sizeName(n))
	}
}
