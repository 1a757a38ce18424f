package binchannel

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBufClass(t *testing.T) {
	for _, n := range []int{1, 100, minPooledBuf - 1, minPooledBuf, minPooledBuf + 1, 20000, 65536, 65537, 200026, 1 << 20, 1<<20 + 26, 3<<20 + 5} {
		c := bufClass(n)
		assert.GreaterOrEqual(t, c, n, "n=%d", n)
		if n > minPooledBuf {
			assert.Less(t, c-n, n/4, "n=%d: class %d wastes too much", n, c)
		}
		assert.Equal(t, c, bufClass(c), "a class is its own class")
	}
}

// TestRecvBufsNeverShareLiveBuffers: a buffer still referenced, even by a
// view into its middle, is never handed out again; once dropped it comes
// back for reuse.
func TestRecvBufsNeverShareLiveBuffers(t *testing.T) {
	const n = 100000
	held := recvBufs.get(n)[:n]
	for i := range held {
		held[i] = byte(i)
	}
	view := held[n/2:]
	held = nil
	for range 3 {
		runtime.GC()
	}
	var got [][]byte
	for range 8 {
		b := recvBufs.get(n)
		require.GreaterOrEqual(t, cap(b), n)
		require.Len(t, b, 0)
		b = b[:n]
		for i := range b {
			b[i] = 0xee
		}
		got = append(got, b)
	}
	for i := range view {
		if view[i] != byte(n/2+i) {
			t.Fatalf("byte %d of a live view overwritten", i)
		}
	}
	runtime.KeepAlive(view)
	runtime.KeepAlive(got)
}

// TestRecvBufsRecycle: a dropped buffer returns to the free list.
func TestRecvBufsRecycle(t *testing.T) {
	const n = 300000
	c := bufClass(n + 1)
	free := func() int {
		recvBufs.mu.Lock()
		defer recvBufs.mu.Unlock()
		return len(recvBufs.free[c])
	}
	b := recvBufs.get(n + 1)
	require.Equal(t, c, cap(b))
	before := free()
	b = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		return free() > before
	}, 10*time.Second, time.Millisecond)
	got := recvBufs.get(n + 1)
	assert.Equal(t, c, cap(got))
	assert.Equal(t, before, free(), "the recycled buffer was handed out")
	runtime.KeepAlive(b)
}
