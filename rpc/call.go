package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
)

// Call calls the peer's method with positional args and decodes the result
// into result (a non-nil pointer, or nil to discard it). A Go func among
// args is passed as a function the peer can call until Call returns (or
// longer if its handler keeps it); a result of type *Func or of a func
// type receives a function the peer returned.
//
// The error is a *Error from the peer; or wraps ErrTimeout or ErrCancelled
// (with the ctx error) when ctx or Options.CallTimeout ends the wait, in
// which case the peer is sent rpc.cancel; or wraps ErrClosed when the Conn
// is or gets closed; or wraps ErrEvicted.
func (c *Conn) Call(ctx context.Context, method string, result any, args ...any) error {
	return c.call(ctx, method, "", result, args)
}

// Call calls the peer's method on c and returns the result as T.
func Call[T any](ctx context.Context, c *Conn, method string, args ...any) (T, error) {
	var out T
	err := c.call(ctx, method, "", &out, args)
	return out, err
}

// CallNamed is Call with named params: params must encode as a JSON object
// (a struct or a map). The members of a map[string]any are encoded one by
// one as arguments are, so a Go func or a binary among them crosses as a
// parameter; other values are encoded whole (a func nested in them needs
// Options.NestedFuncs).
func (c *Conn) CallNamed(ctx context.Context, method string, result any, params any) error {
	if params == nil {
		return fmt.Errorf("rpc: named params must encode as a JSON object, got nil")
	}
	return c.callEncoded(ctx, method, result, "", nil, params, nil, false)
}

// Notify sends a notification: the peer runs method and answers nothing.
// Notify returns once the message is handed to the transport; it is never
// timed out by Options.CallTimeout. A Go func among args stays callable until
// the peer unbinds it or the Conn closes.
func (c *Conn) Notify(ctx context.Context, method string, args ...any) error {
	return c.notify(ctx, method, "", args)
}

// CallRaw calls method with params already encoded (a JSON array or object,
// or nil) and returns the raw result. Functions and binaries are not
// processed.
func (c *Conn) CallRaw(ctx context.Context, method string, params jsontext.Value) (jsontext.Value, error) {
	if params != nil && !params.IsValid() {
		return nil, fmt.Errorf("rpc: invalid raw params")
	}
	var out jsontext.Value
	err := c.callEncoded(ctx, method, &out, "", nil, nil, params, true)
	return out, err
}

func (c *Conn) call(ctx context.Context, method, prefix string, result any, args []any) error {
	return c.callEncoded(ctx, method, result, prefix, args, nil, nil, false)
}

// callPool recycles call records with their channels.
var callPool = sync.Pool{New: func() any { return &call{done: make(chan reply, 1)} }}

// callEncoded sends a request whose params are [prefix?, args...], or the
// object named (when there are no args), or raw when isRaw (nil raw: no
// params member), and waits for the answer.
func (c *Conn) callEncoded(ctx context.Context, method string, result any,
	prefix string, args []any, named any, raw jsontext.Value, isRaw bool) error {
	c.mu.Lock()
	err := c.closedErrLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if c.opts.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return ctxError(method, err)
	}
	if result != nil {
		if rv := reflect.ValueOf(result); rv.Kind() != reflect.Pointer || rv.IsNil() {
			return fmt.Errorf("rpc: result must be a non-nil pointer or nil, got %T", result)
		}
	}

	id := c.seq.Add(1)
	e := encoder{c: c, scope: id}
	buf := make([]byte, 0, 64+len(method)+len(raw))
	buf = append(buf, `{"jsonrpc":"2.0","method":`...)
	buf = appendString(buf, method)
	switch {
	case isRaw && raw != nil:
		buf = append(buf, `,"params":`...)
		buf = append(buf, raw...)
	case !isRaw && (prefix != "" || len(args) > 0):
		buf = append(buf, `,"params":`...)
		if buf, err = e.appendArgs(buf, prefix, args); err != nil {
			c.dropCallbacks(e.cbs())
			return err
		}
	case named != nil:
		buf = append(buf, `,"params":`...)
		if buf, err = e.appendNamed(buf, named); err != nil {
			c.dropCallbacks(e.cbs())
			return err
		}
	}
	buf = append(buf, `,"id":`...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, '}')

	cl := callPool.Get().(*call)
	cl.id, cl.cbs = id, e.cbs()
	c.mu.Lock()
	if err := c.closedErrLocked(); err != nil {
		c.mu.Unlock()
		c.dropCallbacks(e.cbs())
		callPool.Put(cl)
		return err
	}
	c.calls[id] = cl
	cl.node.owner = cl
	ev := c.addPendingLocked(&cl.node)
	c.mu.Unlock()
	c.afterEvict(ev)

	if err := c.send(ctx, binchannel.Packet{JSON: buf, Bins: e.bins()}); err != nil {
		if c.forgetCall(cl) {
			c.putCall(cl)
			if errors.Is(err, ErrClosed) {
				return err
			}
			return fmt.Errorf("rpc: sending %s: %w", method, err)
		}
		// Closed or evicted meanwhile: report that instead.
	}

	// The response can only be read while the reader is not busy
	// running a handler itself (this call may come from that handler).
	if c.inlineRun.Load() == inlineHeld {
		c.releaseInline()
	}
	r, ok := c.awaitReply(ctx, cl)
	if !ok {
		c.sendCancel(id)
		return ctxError(method, ctx.Err())
	}
	return c.resultOf(r, method, result)
}

// awaitReply waits for cl's reply or for ctx. When ctx ends first the call
// is forgotten and ok is false, unless its reply arrived meanwhile. cl goes
// back to the pool either way: nobody sends on cl.done again once the call
// has left the pending set.
func (c *Conn) awaitReply(ctx context.Context, cl *call) (r reply, ok bool) {
	select {
	case r = <-cl.done:
	case <-ctx.Done():
		if c.forgetCall(cl) {
			c.putCall(cl)
			return reply{}, false
		}
		r = <-cl.done // answered or failed meanwhile
	}
	c.putCall(cl)
	return r, true
}

// resultOf is the outcome of a call of method answered by r: the failure
// that ended it, the peer's error, or nil with the result decoded into
// result (unless result is nil).
func (c *Conn) resultOf(r reply, method string, result any) error {
	if r.err != nil {
		return r.err
	}
	if r.msg.Error != nil {
		return r.msg.Error
	}
	if result == nil {
		return nil
	}
	d := decoder{c: c, bins: r.bins}
	if err := d.unmarshal(r.msg.Result, result); err != nil {
		return fmt.Errorf("rpc: decoding result of %s: %w", method, err)
	}
	return nil
}

func (c *Conn) putCall(cl *call) {
	*cl = call{done: cl.done}
	callPool.Put(cl)
}

// forgetCall removes a waiting call and its scoped functions; false when it
// was already removed (answered, failed or evicted).
func (c *Conn) forgetCall(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.calls[cl.id]; !ok {
		return false
	}
	delete(c.calls, cl.id)
	c.order.remove(&cl.node)
	c.releaseScopeLocked(cl)
	return true
}

// dropCallbacks forgets functions stored for a message that was not sent.
func (c *Conn) dropCallbacks(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		if cb, ok := c.callbacks[id]; ok {
			delete(c.callbacks, id)
			c.order.remove(&cb.node)
		}
	}
	c.mu.Unlock()
}

// sendCancel tells the peer to cancel requests ids. Best effort: a failure
// means the connection is going away anyway.
func (c *Conn) sendCancel(ids ...uint64) { sendIDs(c, "rpc.cancel", ids) }

// sendIDs sends the notification method with the ids as its params (the
// rpc.cancel, rpc.unbind and rpc.evicted notices). Best effort: a failure
// is reported unless the Conn is shutting down.
func sendIDs[T uint64 | string](c *Conn, method string, ids []T) {
	buf := make([]byte, 0, 48+len(method)+16*len(ids))
	buf = append(buf, `{"jsonrpc":"2.0","method":`...)
	buf = appendString(buf, method)
	buf = append(buf, `,"params":[`...)
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		switch v := any(id).(type) {
		case uint64:
			buf = strconv.AppendUint(buf, v, 10)
		case string:
			buf = appendString(buf, v)
		}
	}
	buf = append(buf, "]}"...)
	if err := c.send(c.ctx, binchannel.Packet{JSON: buf}); err != nil && c.ctx.Err() == nil {
		c.report(fmt.Errorf("rpc: sending %s: %w", method, err))
	}
}

func ctxError(method string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, method, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrCancelled, method, err)
}

func (c *Conn) notify(ctx context.Context, method, prefix string, args []any) error {
	c.mu.Lock()
	err := c.closedErrLocked()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	e := encoder{c: c}
	buf := make([]byte, 0, 96)
	buf = append(buf, `{"jsonrpc":"2.0","method":`...)
	buf = appendString(buf, method)
	if prefix != "" || len(args) > 0 {
		buf = append(buf, `,"params":`...)
		if buf, err = e.appendArgs(buf, prefix, args); err != nil {
			c.dropCallbacks(e.cbs())
			return err
		}
	}
	buf = append(buf, '}')
	if err := c.send(ctx, binchannel.Packet{JSON: buf, Bins: e.bins()}); err != nil {
		c.dropCallbacks(e.cbs())
		if errors.Is(err, ErrClosed) {
			return err
		}
		return fmt.Errorf("rpc: sending %s: %w", method, err)
	}
	return nil
}
