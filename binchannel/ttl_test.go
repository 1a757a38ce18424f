package binchannel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPendingTTL(t *testing.T) {
	clock := newFakeClock()
	log := &errorLog{}
	c := NewWithOptions(&recTransport{}, Options{Clock: clock, PendingTTL: 10 * time.Second, OnError: log.add})
	defer c.Close()
	handle := func(m []byte) {
		_, ok, err := c.handle([][]byte{m})
		require.NoError(t, err)
		require.False(t, ok)
	}

	handle(openMsg(1, 1, 10, ph))
	assert.Equal(t, 1, clock.armed())
	clock.Advance(9 * time.Second)
	assert.Empty(t, log.take())
	handle(openMsg(2, 1, 10, ph)) // due at 19s
	clock.Advance(time.Second)    // 10s: packet 1 is due
	errs := log.take()
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrExpired)
	assert.Contains(t, errs[0].Error(), "packet 1 ")
	assert.Equal(t, 1, clock.armed(), "re-armed for packet 2")

	// The tail of the expired packet is ignored quietly.
	_, ok, err := c.handle([][]byte{binMsg(1, 0, 1, 0, "x")})
	assert.NoError(t, err)
	assert.False(t, ok)

	clock.Advance(9 * time.Second)
	errs = log.take()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "packet 2 ")
	assert.Equal(t, 0, clock.armed())
	assert.Zero(t, c.pendingB)

	// A packet completed in time reports nothing when its timer fires.
	handle(openMsg(3, 1, 10, ph))
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
