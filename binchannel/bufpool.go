package binchannel

import (
	"math/bits"
	"runtime"
	"sync"
	"unsafe"
)

// Receive buffers. A transport that reads a message into memory of its own
// allocates that memory fresh for every message, because the message is
// handed up and belongs to the receiver from then on. On a fast link that
// costs more than the reading itself: the runtime returns freed pages to
// the kernel and every new buffer faults them back in. recvBufs keeps
// large buffers warm instead: each one it hands out carries a finalizer
// that, once the receiver has dropped every view of it, puts it back on a
// bounded free list rather than letting it go. Nothing is reused while any
// view is reachable, so the ownership rules do not change.
//
// Buffers are rounded up to one of four sizes per power of two, so a
// buffer's capacity exceeds the size asked for by less than a quarter.
//
// The free lists are shared by every transport in the process and bounded
// by maxPooledBytes; what does not fit is left to the garbage collector.

const (
	// minPooledBuf is the smallest buffer worth recycling; smaller ones
	// come from the runtime's size classes at little cost.
	minPooledBuf = 16 << 10
	// maxPooledBytes bounds the memory parked on the free lists, for the
	// whole process.
	maxPooledBytes = 16 << 20
)

type bufPool struct {
	// mu guards free and bytes.
	mu    sync.Mutex
	free  map[int][]*byte // capacity -> bases of free buffers
	bytes int
}

var recvBufs = &bufPool{free: make(map[int][]*byte)}

// bufClass rounds n up to a pooled capacity.
func bufClass(n int) int {
	if n <= minPooledBuf {
		return minPooledBuf
	}
	// Multiples of an eighth of the next power of two: four classes in
	// each octave above minPooledBuf.
	step := 1 << (bits.Len(uint(n-1)) - 3)
	return (n + step - 1) / step * step
}

// get returns a zero-length buffer of capacity at least n. Its contents
// are not zeroed when it is a recycled one: callers read into it.
func (p *bufPool) get(n int) []byte {
	if n < minPooledBuf {
		return make([]byte, 0, n)
	}
	c := bufClass(n)
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		base := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
		p.bytes -= c
		p.mu.Unlock()
		runtime.SetFinalizer(base, p.reclaimer(c))
		return unsafe.Slice(base, c)[:0]
	}
	p.mu.Unlock()
	b := make([]byte, c)
	runtime.SetFinalizer(&b[0], p.reclaimer(c))
	return b[:0]
}

// reclaimer returns the finalizer for a buffer of capacity c: it parks the
// buffer on the free list, or lets it go when the list is full.
func (p *bufPool) reclaimer(c int) func(*byte) {
	return func(base *byte) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.bytes+c > maxPooledBytes {
			return
		}
		p.free[c] = append(p.free[c], base)
		p.bytes += c
	}
}
