package harness

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"4096": 4096, "64KiB": 64 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "10B": 10}
	for in, want := range good {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1KiB", "KiB", "1.5MiB", "99999999999GiB", "12XB"} {
		_, err := ParseSize(in)
		assert.Error(t, err, in)
	}
}

func TestRunTinyWritesTable(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	err := Main(context.Background(), []string{"-suites", "latency", "-cases", "tcp ping", "-reps", "1", "-roundtrips", "10", "-out", dir}, &out, &errb)
	require.NoError(t, err, errb.String())
	assert.Contains(t, out.String(), "tcp ping-pong")
	assert.Contains(t, out.String(), "wrote "+dir)
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Error(t, Main(context.Background(), []string{"-sizes", "big"}, &out, &errb))
	assert.Error(t, Main(context.Background(), []string{"-nope"}, &out, &errb))
}
