package binchannel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepUntilError advances the clock one second at a time until an error is
// reported and returns how far it advanced.
func stepUntilError(t *testing.T, clock *fakeClock, log *errorLog, limit time.Duration) (time.Duration, []error) {
	t.Helper()
	for d := time.Duration(0); d <= limit; d += time.Second {
		if errs := log.take(); len(errs) > 0 {
			return d, errs
		}
		clock.Advance(time.Second)
	}
	t.Fatalf("no error within %v", limit)
	return 0, nil
}

func TestPendingTTL(t *testing.T) {
	const ttl = 16 * time.Second // sweeps every 2s
	clock := newFakeClock()
	log := &errorLog{}
	c := NewWithOptions(&recTransport{}, Options{Clock: clock, PendingTTL: ttl, OnError: log.add})
	defer c.Close()
	handle := func(m []byte) {
		_, ok, err := c.handle([][]byte{m})
		require.NoError(t, err)
		require.False(t, ok)
	}

	handle(openMsg(1, 1, 10, ph))
	assert.Equal(t, 1, clock.armed())
	clock.Advance(5 * time.Second)
	handle(openMsg(2, 1, 10, ph)) // starts at 5s

	// Packet 1 goes between TTL and TTL plus one sweep after it started.
	d, errs := stepUntilError(t, clock, log, 2*ttl)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrExpired)
	assert.Contains(t, errs[0].Error(), "packet 1,")
	age := 5*time.Second + d
	assert.GreaterOrEqual(t, age, ttl)
	assert.LessOrEqual(t, age, ttl+ttl/8)
	assert.Equal(t, 1, clock.armed(), "still sweeping for packet 2")

	// The tail of the expired packet is ignored quietly.
	_, ok, err := c.handle([][]byte{binMsg(1, 0, 1, 0, "x")})
	assert.NoError(t, err)
	assert.False(t, ok)

	d2, errs := stepUntilError(t, clock, log, 2*ttl)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "packet 2,")
	age2 := d + d2
	assert.GreaterOrEqual(t, age2, ttl)
	assert.LessOrEqual(t, age2, ttl+ttl/8)
	assert.Equal(t, 0, clock.armed(), "no sweeping with nothing pending")
	assert.Zero(t, c.pendingB)

	// A packet completed in time reports nothing.
	handle(openMsg(3, 1, 10, ph))
	clock.Advance(ttl - time.Second)
	p, ok, err := c.handle([][]byte{binMsg(3, 0, 1, 0, "x")})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "x", string(p.Bins[0].Bytes()))
	clock.Advance(time.Hour)
	assert.Empty(t, log.take())
	assert.Equal(t, 0, clock.armed())
}

func TestPendingTTLDisabled(t *testing.T) {
	clock := newFakeClock()
	c := NewWithOptions(&recTransport{}, Options{Clock: clock, PendingTTL: -1})
	_, _, err := c.handle([][]byte{openMsg(1, 1, 10, ph)})
	require.NoError(t, err)
	assert.Equal(t, 0, clock.armed())
	clock.Advance(24 * time.Hour)
	assert.Len(t, c.pending, 1)
	require.NoError(t, c.Close())
}

func TestCloseStopsTimer(t *testing.T) {
	clock := newFakeClock()
	log := &errorLog{}
	c := NewWithOptions(&recTransport{}, Options{Clock: clock, OnError: log.add})
	_, _, err := c.handle([][]byte{openMsg(1, 1, 10, ph)})
	require.NoError(t, err)
	assert.Equal(t, 1, clock.armed())
	require.NoError(t, c.Close())
	assert.Equal(t, 0, clock.armed())
	clock.Advance(time.Hour)
	assert.Empty(t, log.take())
}
