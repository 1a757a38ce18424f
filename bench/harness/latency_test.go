package harness

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRPCPipeLatencyNextToPipePingPong selects rpc pipe: its baseline
// (net/rpc pipe) and its further comparison (pipe ping-pong, the raw
// in-memory pipe's echo) run too, and both ratios are filled and printed.
func TestRPCPipeLatencyNextToPipePingPong(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Suites: []string{"latency"}, Cases: []string{"rpc pipe"}, Reps: 2, RoundTrips: 20, CaseTimeout: 10 * time.Second})
	require.NoError(t, err)
	byKey := map[string]Result{}
	var order []string
	for _, r := range rep.Results {
		assert.Empty(t, r.Err, "%s %s", r.Case, r.Metric)
		byKey[r.Case+"|"+r.Metric] = r
		if r.Metric == "p50" {
			order = append(order, r.Case)
		}
	}
	assert.Equal(t, []string{"net/rpc pipe", "pipe ping-pong", "rpc pipe"}, order)
	ping := byKey["pipe ping-pong|p50"]
	assert.Equal(t, 2, ping.Stat.N)
	assert.Positive(t, ping.Stat.Median)
	assert.Empty(t, ping.Baseline)

	r := byKey["rpc pipe|p50"]
	assert.Equal(t, "net/rpc pipe", r.Baseline)
	assert.Positive(t, r.Ratio)
	require.Len(t, r.Also, 1)
	assert.Equal(t, "pipe ping-pong", r.Also[0].Baseline)
	assert.InDelta(t, r.Stat.Median/ping.Stat.Median, r.Also[0].Ratio, 1e-9)

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "× pipe ping-pong")
	assert.Contains(t, rep.Conditions["rpc pipe latency"], "no binchannel framing")
}

func TestPipePingEchoes(t *testing.T) {
	pg, err := setupPipePing(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 100 {
		require.NoError(t, pg.RoundTrip(ctx))
	}
	require.NoError(t, pg.Close())
}
