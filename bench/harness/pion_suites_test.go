package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPionAndSignalingSuitesSmoke runs every Pion case, the twoproc suite
// and the signaling suite once at tiny sizes: each must produce figures,
// and the charts of the new suites must be written.
func TestPionAndSignalingSuitesSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts WebRTC connections and child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := Config{
		Suites:         []string{"throughput", "latency", "memory", "cpu", "twoproc", "signaling"},
		Cases:          []string{"pion", "signaling", "relay"},
		Sizes:          []int{64 << 10},
		Reps:           1,
		Bytes:          512 << 10,
		RoundTrips:     20,
		MemoryBytes:    2 << 20,
		SignalingConns: 20,
		SignalingRooms: 4,
		RelaySignals:   20,
		CaseTimeout:    30 * time.Second,
	}
	rep, err := Run(ctx, cfg)
	require.NoError(t, err)

	got := map[string]Result{}
	for _, r := range rep.Results {
		assert.Empty(t, r.Err, "%s %s %s %s", r.Suite, r.Case, r.Param, r.Metric)
		got[r.Suite+"|"+r.Case+"|"+r.Metric] = r
	}
	for _, k := range []string{
		"throughput|pion raw default|throughput", "throughput|pion raw tuned|throughput",
		"throughput|binchannel pion|throughput", "throughput|rpc pion|throughput",
		"latency|pion ping-pong|p50", "latency|rpc pion|p99",
		"memory|binchannel pion (two processes)|peak heap sender", "memory|binchannel pion (two processes)|peak RSS receiver",
		"cpu|binchannel pion|cpu",
		"twoproc|pion raw default|throughput", "twoproc|pion raw tuned|cpu", "twoproc|binchannel pion tuned|throughput",
		"signaling|signaling idle|heap/conn", "signaling|signaling relay|p99", "signaling|websocket relay|p50",
	} {
		r, ok := got[k]
		if assert.True(t, ok, k) {
			assert.Positive(t, r.Stat.Median, k)
		}
	}
	assert.Equal(t, "pion raw default", got["throughput|pion raw tuned|throughput"].Baseline)
	assert.Positive(t, got["twoproc|pion raw tuned|throughput"].Ratio)
	assert.Positive(t, got["signaling|signaling relay|p50"].Ratio)
	assert.Contains(t, rep.Conditions, "pion raw default")

	dir := t.TempDir()
	_, err = rep.WriteFiles(dir)
	require.NoError(t, err)
	for _, f := range []string{"throughput.svg", "latency.svg", "twoproc-throughput.svg", "twoproc-cpu.svg", "signaling-relay.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if assert.NoError(t, err, f) {
			assert.Contains(t, string(b), "</svg>", f)
		}
	}
}

func TestChildJobsRejectBadInput(t *testing.T) {
	t.Setenv(twoprocEnv, `{"config":"nope","total":1,"timeout":1}`)
	_, ok, err := childJob()
	assert.True(t, ok)
	assert.Error(t, err)
	t.Setenv(idleClientsEnv, `{"conns":-1}`)
	_, ok, err = idleChildJob()
	assert.True(t, ok)
	assert.Error(t, err)
}

func TestCallsSuite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Suites: []string{"calls"}, Reps: 1, RoundTrips: 10, CaseTimeout: 10 * time.Second})
	require.NoError(t, err)
	require.Len(t, rep.Results, len(callsCases)*len(callers))
	for _, r := range rep.Results {
		assert.Empty(t, r.Err, "%s %s", r.Case, r.Param)
		assert.Positive(t, r.Stat.Median, "%s %s", r.Case, r.Param)
	}
	assert.Positive(t, rep.Results[len(rep.Results)-1].Ratio)
}
