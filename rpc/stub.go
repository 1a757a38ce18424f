package rpc

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// A stub is a Go func of a concrete type made for a handle (see makeStub).
// Stubs cannot be compared, so the handle behind one is found by the
// address of the stub's closure: a func value is a pointer to its closure,
// which the stub's own allocation holds. Each stub is registered by that
// address, in one of two ways:
//
//   - A stub for a handler parameter is held by its entry until the
//     handler returns (releaseScope removes the entry): its address cannot
//     be reused meanwhile, and the common case (a progress callback) costs
//     a map store and delete.
//   - A stub for a result, or a parameter stub whose handle was taken with
//     FuncOf, is held weakly, and a cleanup removes the entry (and releases
//     a result's handle) once the stub is unreachable; the weak pointer
//     tells a live entry from a stale one whose address was reused before
//     its cleanup ran.
var stubs sync.Map // uintptr -> *stubEntry

type stubEntry struct {
	stub    any                // the stub, for an entry that holds it
	closure weak.Pointer[byte] // the stub's closure, otherwise
	f       *Func
}

// closureOf returns the closure pointer of a non-nil func value.
func closureOf(v reflect.Value) unsafe.Pointer {
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return *(*unsafe.Pointer)(p.UnsafePointer())
}

// registerStub records stub as made for f (see stubs).
func registerStub(stub reflect.Value, f *Func) {
	ptr := (*byte)(closureOf(stub))
	addr := uintptr(unsafe.Pointer(ptr))
	if f.scoped {
		e := &stubEntry{stub: stub.Interface(), f: f}
		f.stubAddr, f.stubEntry = addr, e
		stubs.Store(addr, e)
		return
	}
	registerWeak(ptr, f)
}

// registerWeak records the stub whose closure is ptr as made for f without
// holding it, and arranges for stubCollected to run once it is
// unreachable.
func registerWeak(ptr *byte, f *Func) {
	addr := uintptr(unsafe.Pointer(ptr))
	e := &stubEntry{closure: weak.Make(ptr), f: f}
	stubs.Store(addr, e)
	runtime.AddCleanup(ptr, stubCollected, stubRef{addr: addr, e: e})
}

// unregisterScoped removes the entry of f's parameter stub when its handler
// returns, unless FuncOf took the handle (the entry is then weak).
func unregisterScoped(f *Func) {
	if f.stubEntry != nil && !f.claimed.Load() {
		stubs.CompareAndDelete(f.stubAddr, f.stubEntry)
	}
}

// stubRef is what a stub's cleanup gets; it must not reach the stub.
type stubRef struct {
	addr uintptr
	e    *stubEntry
}

// stubCollected runs once a stub is unreachable: nobody can call the
// function through it any more, so a handle that nothing else releases (one
// that came in a result) is released and the owner told. A handle taken
// with FuncOf is left to its taker; one that came in params is released
// when its handler returns.
func stubCollected(r stubRef) {
	stubs.CompareAndDelete(r.addr, r.e)
	f := r.e.f
	if f.claimed.Load() || f.scoped {
		return
	}
	if !f.state.CompareAndSwap(stateLive, stateReleased) {
		return // released or evicted already
	}
	f.c.dropHandle(f)
	f.c.queueUnbind(f.id)
}

// FuncOf returns the handle behind fn when fn is a stub this package made
// for a function of the peer (a func-typed handler parameter or call
// result), or fn itself when it is a *Func; otherwise nil. Through the
// handle a stub's function can be kept (Func.Keep) or released early
// (Func.Unbind).
//
// A stub that came as a result is released automatically once it becomes
// unreachable; taking its handle with FuncOf ends that: from then on the
// handle lives until Unbind or close, as a *Func result does. A parameter
// stub is found while its handler runs, and after that only if FuncOf took
// its handle meanwhile (to keep it): an unkept one is released by then,
// and FuncOf returns nil for it.
func FuncOf(fn any) *Func {
	if f, ok := fn.(*Func); ok {
		return f
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil
	}
	ptr := (*byte)(closureOf(v))
	x, ok := stubs.Load(uintptr(unsafe.Pointer(ptr)))
	if !ok {
		return nil
	}
	e := x.(*stubEntry)
	if e.stub == nil && e.closure.Value() != ptr {
		return nil // a stale entry: fn is another function at a reused address
	}
	if e.f.claimed.CompareAndSwap(false, true) && e.stub != nil {
		// The handle may now outlive its handler: stop holding the stub.
		registerWeak(ptr, e.f)
	}
	return e.f
}

// Unbind releases the handle behind fn, a stub or a *Func (see FuncOf),
// and tells the owner to drop the function; later calls through fn fail
// with ErrReleased. It fails when fn is neither.
func Unbind(ctx context.Context, fn any) error {
	f := FuncOf(fn)
	if f == nil {
		return fmt.Errorf("rpc: Unbind: %T is not a function received from a peer", fn)
	}
	return f.Unbind(ctx)
}

// queueUnbind sends rpc.unbind for id from a goroutine of the Conn (stub
// cleanups must not block on the transport); ids queued meanwhile go in
// the same message.
func (c *Conn) queueUnbind(id string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.unbinds = append(c.unbinds, id)
	start := !c.unbinding
	if start {
		c.unbinding = true
		// Counted among the Conn's goroutines, so Done waits for it;
		// the reader is one of them while the Conn is open, so the
		// count is not zero here.
		c.live.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.flushUnbinds()
	}
}

func (c *Conn) flushUnbinds() {
	defer c.exitLoop()
	for {
		c.mu.Lock()
		ids := c.unbinds
		c.unbinds = nil
		if len(ids) == 0 || c.closed {
			c.unbinding = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		sendIDs(c, "rpc.unbind", ids)
	}
}
