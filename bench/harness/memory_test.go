package harness

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryPipeFreshProcessPerRep runs the one-process memory case: every
// repetition is a child process of its own that reports its own peaks.
func TestMemoryPipeFreshProcessPerRep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Suites: []string{"memory"}, Cases: []string{"binchannel pipe"}, Reps: 2, MemoryBytes: 3 << 20, CaseTimeout: 20 * time.Second})
	require.NoError(t, err)
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		assert.Empty(t, r.Err, r.Metric)
		assert.Equal(t, "binchannel pipe (one process)", r.Case)
		assert.Equal(t, "3MiB", r.Param)
		assert.Equal(t, 2, r.Stat.N, r.Metric)
		assert.Positive(t, r.Stat.Min, r.Metric)
	}
	assert.Equal(t, "peak RSS", rep.Results[0].Metric)
	assert.Equal(t, "peak heap", rep.Results[1].Metric)
}

func TestMemoryCaseSides(t *testing.T) {
	assert.Equal(t, []string{" sender", " receiver"}, memoryCases[0].sides())
	assert.Equal(t, []string{""}, memoryCases[1].sides())
	for _, c := range memoryCases {
		if c.twoproc != "" {
			_, ok := twoprocJob{Config: c.twoproc}.config()
			assert.True(t, ok, c.twoproc)
		}
	}
}

func TestChildJobRoles(t *testing.T) {
	for js, valid := range map[string]bool{
		`{"config":"pion raw tuned","total":1,"timeout":1}`:                        true,
		`{"role":"send","config":"pion raw tuned","total":1,"size":1,"timeout":1}`: true,
		`{"role":"send","config":"pion raw tuned","total":1,"timeout":1}`:          false,
		`{"role":"pipe","total":1,"size":1,"timeout":1,"memory":true}`:             true,
		`{"role":"pipe","total":1,"timeout":1}`:                                    false,
		`{"role":"other","config":"pion raw tuned","total":1,"timeout":1}`:         false,
	} {
		t.Setenv(twoprocEnv, js)
		_, ok, err := childJob()
		assert.True(t, ok)
		assert.Equal(t, valid, err == nil, js)
	}
}

func TestTableNamesRepetitionsThatDiffer(t *testing.T) {
	rep := &Report{Config: Config{Reps: 5}, Results: []Result{
		{Suite: "throughput", Case: "tcp", Param: "1KiB", Metric: "throughput", Unit: "MB/s", Stat: Stat{Median: 1, Min: 1, Max: 1, N: 5}},
		{Suite: "publish", Case: "peerd publish", Param: "1GiB", Metric: "throughput", Unit: "MB/s", Stat: Stat{Median: 1, Min: 1, Max: 1, N: 1}},
		{Suite: "publish", Case: "peerd publish", Param: "1GiB", Metric: "peak RSS sender", Unit: "MiB", Stat: Stat{Median: 1, Min: 1, Max: 1, N: 1}},
		{Suite: "signaling", Case: "signaling idle", Param: "5 conns", Metric: "heap/conn", Unit: "KiB", Stat: Stat{Median: 1, Min: 1, Max: 1, N: 3}},
		{Suite: "memory", Case: "m", Metric: "peak RSS", Err: "boom"},
	}}
	var b bytes.Buffer
	require.NoError(t, rep.WriteTable(&b))
	assert.Contains(t, b.String(), "repetitions: 5 per figure (median, min, max), except publish peerd publish: 1, signaling signaling idle: 3 (column n)")

	rep.Results = rep.Results[:1]
	b.Reset()
	require.NoError(t, rep.WriteTable(&b))
	assert.Contains(t, b.String(), "repetitions: 5 per figure (median, min, max); ")
}

// TestMemoryChildFailureIsReported starts a receiver with a configuration
// it does not know: it ends at once, and its complaint comes back.
func TestMemoryChildFailureIsReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	exe, err := os.Executable()
	require.NoError(t, err)
	_, err = memoryOnce(ctx, exe, memoryCase{name: "x", twoproc: "nope"}, "ws://127.0.0.1:1", "room", 1<<20, 10*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "receiver not ready")
	assert.Contains(t, err.Error(), "bad job")
}
