package rpc

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"

	"github.com/go-json-experiment/json/jsontext"
)

// Handle states.
const (
	stateLive int32 = iota
	stateKept
	stateReleased
	stateEvicted // the owner evicted the function (rpc.evicted)
)

// Func is a handle to a function that lives on the other side of a Conn: a
// function the peer passed as an argument, or one it returned. Calling it
// runs the peer's function.
//
// A handle that arrived in a request's params is released automatically
// when the handler returns, unless the handler called Keep; a handle that
// arrived in a result lives until Unbind or close. A handler parameter or a
// result of a concrete func type gets a stub of that type wrapping the same
// handle: FuncOf returns the handle behind a stub, to keep or release it,
// and a stub that came as a result is also released once it is unreachable.
//
// When the owner evicts the function (its Options.MaxPending), it says so
// and the handle is dropped from Stats at once: Evicted reports true, and
// a call still reaches the owner, which answers with an error matching
// ErrEvicted (or a null result when it ignores evicted functions).
//
// A Func is safe for concurrent use.
type Func struct {
	c     *Conn
	id    string
	state atomic.Int32
	next  *Func // the next live handle with the same id, in Conn.handles
	// scoped is true for a handle that came in a request's params: its
	// handler's return releases it unless kept.
	scoped bool
	// claimed is set by FuncOf: the handle's taker owns its lifetime.
	claimed atomic.Bool
	// stubEntry and stubAddr register a parameter stub made for the
	// handle until its handler returns (see registerStub).
	stubEntry *stubEntry
	stubAddr  uintptr
	// inCall is true for a handle that came in the params of a call (not a
	// notification): keeping it must tell the owner, which otherwise drops
	// the function when the call returns.
	inCall bool
}

// ID returns the function id the peer assigned.
func (f *Func) ID() string { return f.id }

// Released reports whether the handle can no longer be called.
func (f *Func) Released() bool { return f.state.Load() == stateReleased }

// Evicted reports whether the owner announced that it evicted the function
// (see Options.MaxPending).
func (f *Func) Evicted() bool { return f.state.Load() == stateEvicted }

func (f *Func) check() error {
	if f == nil || f.c == nil {
		return fmt.Errorf("%w: nil handle", ErrReleased)
	}
	if f.state.Load() == stateReleased {
		return fmt.Errorf("%w: function %s", ErrReleased, f.id)
	}
	return nil
}

// Call runs the remote function with args and decodes its result into
// result (nil to discard it). Errors are as for Conn.Call; calling a
// released handle fails with ErrReleased without sending anything.
func (f *Func) Call(ctx context.Context, result any, args ...any) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.c.call(ctx, "rpc.callback", f.id, result, args)
}

// Notify runs the remote function without waiting for it.
func (f *Func) Notify(ctx context.Context, args ...any) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.c.notify(ctx, "rpc.callback", f.id, args)
}

// Keep stops the automatic release of a handle received as an argument, so
// it outlives its handler (a subscription); it then lives until Unbind or
// close. It must be called before the handler returns and tells the owner
// with an rpc.keep notification. It is a no-op on a handle that is already
// kept, came in a result, or whose function the owner evicted (calls on it
// get the owner's answer for an evicted function).
func (f *Func) Keep(ctx context.Context) error {
	if err := f.check(); err != nil {
		return err
	}
	if !f.state.CompareAndSwap(stateLive, stateKept) || !f.inCall {
		return nil
	}
	return f.c.notify(ctx, "rpc.keep", "", []any{f.id})
}

// Unbind releases the handle and tells the owner (rpc.unbind) to drop the
// function. Later calls fail with ErrReleased. Unbinding twice is a no-op,
// and so is unbinding a handle whose function the owner evicted, apart from
// marking it released.
func (f *Func) Unbind(ctx context.Context) error {
	if f == nil || f.c == nil {
		return nil
	}
	switch f.state.Swap(stateReleased) {
	case stateReleased, stateEvicted:
		return nil // the owner no longer holds the function
	}
	f.c.dropHandle(f)
	return f.c.notify(ctx, "rpc.unbind", "", []any{f.id})
}

// CallFunc calls the remote function behind f and returns its result as T.
func CallFunc[T any](ctx context.Context, f *Func, args ...any) (T, error) {
	var out T
	err := f.Call(ctx, &out, args...)
	return out, err
}

// newHandle records a handle to the peer's function id.
func (c *Conn) newHandle(id string, sc *reqScope) (*Func, error) {
	f := &Func{c: c, id: id, scoped: sc != nil}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.closedErrOrNil()
	}
	if len(c.peerEvicted.set) > 0 && c.peerEvicted.has(id) {
		// The owner evicted it while sending it (see evictHandles).
		f.state.Store(stateEvicted)
	} else {
		f.next = c.handles[id]
		c.handles[id] = f
		c.nHandles++
	}
	c.mu.Unlock()
	if sc != nil {
		f.inCall = !sc.notification
		sc.handles = append(sc.handles, f)
	}
	return f, nil
}

func (c *Conn) closedErrOrNil() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedErrLocked()
}

func (c *Conn) dropHandle(f *Func) {
	c.mu.Lock()
	c.unlinkHandleLocked(f)
	c.mu.Unlock()
}

// unlinkHandleLocked removes f from c.handles; a handle not there (already
// dropped) is left alone.
func (c *Conn) unlinkHandleLocked(f *Func) {
	head := c.handles[f.id]
	switch {
	case head == nil:
		return
	case head == f:
		if f.next == nil {
			delete(c.handles, f.id)
		} else {
			c.handles[f.id] = f.next
		}
	default:
		p := head
		for p.next != nil && p.next != f {
			p = p.next
		}
		if p.next == nil {
			return
		}
		p.next = f.next
	}
	f.next = nil
	c.nHandles--
}

// evictHandles drops the handles to functions the peer evicted
// (rpc.evicted); handles being released meanwhile keep that state. An id
// with no handle is remembered: the owner may have evicted a function while
// sending the message that carries it, and a handle made from that message
// then starts out evicted. Ids are never reused, so remembering one that
// was released instead costs only its place in the bounded record.
func (c *Conn) evictHandles(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, id := range ids {
		h := c.handles[id]
		if h == nil {
			c.peerEvicted.add(id)
			continue
		}
		delete(c.handles, id)
		for h != nil {
			next := h.next
			h.next = nil
			c.nHandles--
			if !h.state.CompareAndSwap(stateLive, stateEvicted) {
				h.state.CompareAndSwap(stateKept, stateEvicted)
			}
			h = next
		}
	}
}

// reqScope collects the handles decoded from one request's params.
type reqScope struct {
	notification bool
	handles      []*Func
}

// release drops the scope's handles that were not kept and returns their
// ids.
func (c *Conn) releaseScope(sc *reqScope) []string {
	var ids []string
	for _, f := range sc.handles {
		unregisterScoped(f)
		if f.state.CompareAndSwap(stateLive, stateReleased) {
			c.dropHandle(f)
			ids = append(ids, f.id)
		}
	}
	return ids
}

// storeCallback keeps fn for the peer to call and returns its id. scope is
// the id of the call fn is passed with (0: unscoped).
func (c *Conn) storeCallback(fn reflect.Value, scope uint64) (string, error) {
	id := strconv.FormatUint(c.seq.Add(1), 10)
	cb := &callback{id: id, fn: fn, scope: scope}
	c.mu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return "", err
	}
	c.callbacks[id] = cb
	cb.node.owner = cb
	ev := c.addPendingLocked(&cb.node)
	c.mu.Unlock()
	c.afterEvict(ev)
	return id, nil
}

// appendPlaceholder writes {"$fn":"id"}.
func appendPlaceholder(dst []byte, id string) []byte {
	dst = append(dst, `{"$fn":`...)
	dst = appendString(dst, id)
	return append(dst, '}')
}

// parsePlaceholder reads {"$fn":"id"}; ok is false for anything else.
func parsePlaceholder(v jsontext.Value) (id string, ok bool) {
	if v.Kind() != '{' {
		return "", false
	}
	p := getParser(v)
	defer p.release()
	dec := p.dec
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", false
	}
	name, err := dec.ReadToken()
	if err != nil || name.Kind() != '"' || name.String() != "$fn" {
		return "", false
	}
	val, err := dec.ReadToken()
	if err != nil || val.Kind() != '"' {
		return "", false
	}
	id = val.String() // tokens are voided by the next read
	if end, err := dec.ReadToken(); err != nil || end.Kind() != '}' {
		return "", false
	}
	return id, true
}

// makeStub builds a function of type ft that calls the handle f. A leading
// context.Context parameter is used for the call; without one the call runs
// until answered or the Conn closes. A failure is returned through a
// trailing error result when ft has one, else reported to Options.OnError.
func makeStub(f *Func, ft reflect.Type) reflect.Value {
	hasCtx := ft.NumIn() > 0 && ft.In(0) == ctxType
	var resT reflect.Type
	hasErr := false
	switch ft.NumOut() {
	case 1:
		if ft.Out(0) == errType {
			hasErr = true
		} else {
			resT = ft.Out(0)
		}
	case 2:
		resT, hasErr = ft.Out(0), ft.Out(1) == errType
	}
	stub := reflect.MakeFunc(ft, func(in []reflect.Value) []reflect.Value {
		ctx := context.Background()
		if hasCtx {
			if c, ok := in[0].Interface().(context.Context); ok && c != nil {
				ctx = c
			}
			in = in[1:]
		}
		args := make([]any, 0, len(in))
		for i, a := range in {
			if ft.IsVariadic() && i == len(in)-1 {
				for j := 0; j < a.Len(); j++ {
					args = append(args, a.Index(j).Interface())
				}
				break
			}
			args = append(args, a.Interface())
		}
		var resPtr reflect.Value
		var res any
		if resT != nil {
			resPtr = reflect.New(resT)
			res = resPtr.Interface()
		}
		err := f.Call(ctx, res, args...)
		out := make([]reflect.Value, 0, 2)
		if resT != nil {
			out = append(out, resPtr.Elem())
		}
		for i := len(out); i < ft.NumOut(); i++ {
			if hasErr && i == ft.NumOut()-1 {
				ev := reflect.New(errType).Elem()
				if err != nil {
					ev.Set(reflect.ValueOf(err))
				}
				out = append(out, ev)
			} else {
				out = append(out, reflect.Zero(ft.Out(i)))
			}
		}
		if err != nil && !hasErr {
			f.c.report(fmt.Errorf("rpc: stub for function %s: %w", f.id, err))
		}
		return out
	})
	registerStub(stub, f)
	return stub
}
