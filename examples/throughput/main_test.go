package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	c := config{Size: 2 << 20, Chunk: 100 << 10, Window: 4}
	raw, calls, err := run(ctx, &out, c)
	require.NoError(t, err, out.String())
	assert.Equal(t, c.Size, raw.Bytes)
	assert.Equal(t, c.Size, calls.Bytes, "the receiver counted every byte of every call")
	assert.Positive(t, raw.Elapsed)
	assert.Positive(t, calls.Elapsed)
	got := out.String()
	assert.Contains(t, got, "two Go peers, one WebRTC data channel on loopback, 2 MiB per mode:\n")
	assert.Regexp(t, `(?m)^  raw writes \(\d+ KiB messages\) +\d+\.\d MB/s$`, got)
	assert.Regexp(t, `(?m)^  rpc calls \(100 KiB \[\]byte each, 4 in flight\) +\d+\.\d MB/s  \d+\.\d\dx raw$`, got)
}

func TestSizeString(t *testing.T) {
	assert.Equal(t, "32 MiB", sizeString(32<<20))
	assert.Equal(t, "255 KiB", sizeString(255<<10))
	assert.Equal(t, "1000 B", sizeString(1000))
}
