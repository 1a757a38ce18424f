package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/peerd/peerd/binchannel"
)

// Batch collects calls and notifications sent to the peer together, as one
// JSON-RPC batch (one array, one packet); the answers are matched to the
// calls by id. Build it with Conn.Batch, add calls, then Send once. It is
// the counterpart of the batches the endpoint clients send.
//
// Each entry is what Call, CallNamed or Notify would send on its own:
// functions among its arguments are stored for the peer (a call's until
// its own response), binaries travel raw over a binchannel, numbered
// across the whole batch.
//
// Concurrency: a Batch is used by one goroutine.
type Batch struct {
	c     *Conn
	items []*BatchCall
	sent  bool
}

// BatchCall is one entry of a Batch. A call's result is decoded into the
// result pointer given to Batch.Call; Err tells how it went once Send
// returned.
type BatchCall struct {
	method  string
	args    []any
	named   any
	isNamed bool
	result  any
	notify  bool
	id      uint64
	cl      *call // while the call waits
	err     error
}

// Err returns the entry's error after Send: nil on success (and always for
// a notification that was sent), the peer's *Error, or why no answer
// came (as Conn.Call's errors).
func (bc *BatchCall) Err() error { return bc.err }

// Batch starts an empty batch on c.
func (c *Conn) Batch() *Batch { return &Batch{c: c} }

// Call adds a call with positional args; its result is decoded into result
// (a non-nil pointer, or nil to discard it).
func (b *Batch) Call(method string, result any, args ...any) *BatchCall {
	return b.add(&BatchCall{method: method, args: args, result: result})
}

// CallNamed adds a call with named params (see Conn.CallNamed).
func (b *Batch) CallNamed(method string, result any, params any) *BatchCall {
	return b.add(&BatchCall{method: method, named: params, isNamed: true, result: result})
}

// Notify adds a notification.
func (b *Batch) Notify(method string, args ...any) *BatchCall {
	return b.add(&BatchCall{method: method, args: args, notify: true})
}

func (b *Batch) add(bc *BatchCall) *BatchCall {
	b.items = append(b.items, bc)
	return bc
}

// Len returns the number of entries.
func (b *Batch) Len() int { return len(b.items) }

// outBatch is a batch this side sent whose calls may still wait; an error
// response with a null id (the peer refused the whole batch) fails them
// (see failBatch).
type outBatch struct {
	ids []uint64 // of its calls
}

// Send sends the batch as one message and waits for the answers to its
// calls. It returns nil when every call was answered, each answer (a
// result or the peer's *Error) then being in its entry's Err. Otherwise it
// returns why not, as Conn.Call would (encoding, sending, the peer's error
// answering the whole batch, ctx or Options.CallTimeout, close, eviction),
// and the entries it concerns have it in their Err too. An empty batch
// sends nothing; a batch is sent once.
//
// When ctx or the timeout ends the wait, the peer is sent rpc.cancel for
// the calls still waiting, and the calls already answered keep their
// outcome.
func (b *Batch) Send(ctx context.Context) error {
	if b.sent {
		return errors.New("rpc: batch already sent")
	}
	b.sent = true
	if len(b.items) == 0 {
		return nil
	}
	c := b.c
	if err := c.closedErrOrNil(); err != nil {
		return b.failAll(err)
	}
	calls := 0
	for i, bc := range b.items {
		if bc.notify {
			continue
		}
		calls++
		if bc.result != nil {
			if rv := reflect.ValueOf(bc.result); rv.Kind() != reflect.Pointer || rv.IsNil() {
				return b.failAll(fmt.Errorf("rpc: batch entry %d (%s): result must be a non-nil pointer or nil, got %T", i, bc.method, bc.result))
			}
		}
	}
	if calls > 0 && c.opts.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return b.failAll(ctxError("batch", err))
	}

	buf, bins, cbs, err := b.encode()
	if err != nil {
		c.dropCallbacks(cbs)
		return b.failAll(err)
	}
	ob := &outBatch{ids: make([]uint64, 0, calls)}
	c.mu.Lock()
	if err := c.closedErrLocked(); err != nil {
		c.mu.Unlock()
		c.dropCallbacks(cbs)
		return b.failAll(err)
	}
	var evs []evictions
	for _, bc := range b.items {
		if bc.notify {
			continue
		}
		cl := bc.cl
		c.calls[cl.id] = cl
		cl.node.owner = cl
		if ev := c.addPendingLocked(&cl.node); len(ev.ids) > 0 {
			evs = append(evs, ev)
		}
		ob.ids = append(ob.ids, cl.id)
	}
	if calls > 0 {
		c.outBatches = append(c.outBatches, ob)
	}
	c.mu.Unlock()
	for _, ev := range evs {
		c.afterEvict(ev)
	}
	defer c.forgetBatch(ob)

	if err := c.send(ctx, binchannel.Packet{JSON: buf, Bins: bins}); err != nil {
		if !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("rpc: sending batch: %w", err)
		}
		for _, bc := range b.items {
			if bc.notify {
				bc.err = err
			} else if c.forgetCall(bc.cl) {
				c.putCall(bc.cl)
				bc.cl, bc.err = nil, err
			}
		}
		c.dropCallbacks(cbs) // those of notifications; calls' went with them
		// Calls closed or evicted meanwhile wait below for that answer.
		if calls == 0 {
			return err
		}
	}

	if c.inlineRun.Load() == inlineHeld {
		c.releaseInline() // as in Call: the answers must be read
	}
	var first error // the first failure that is not an answer
	var cancelled []uint64
	for _, bc := range b.items {
		cl := bc.cl
		if cl == nil {
			if first == nil {
				first = bc.err
			}
			continue
		}
		bc.cl = nil
		r, ok := c.awaitReply(ctx, cl)
		if !ok {
			bc.err = ctxError(bc.method, ctx.Err())
			cancelled = append(cancelled, bc.id)
			if first == nil {
				first = bc.err
			}
			continue
		}
		bc.err = c.resultOf(r, bc.method, bc.result)
		if r.err != nil && first == nil {
			first = r.err
		}
	}
	if len(cancelled) > 0 {
		c.sendCancel(cancelled...)
	}
	return first
}

// encode writes the batch array, numbering the calls and storing their
// functions. cbs holds every function stored, to drop if the batch is not
// sent; each call's own are in its call record.
func (b *Batch) encode() (buf []byte, bins []binchannel.Binary, cbs []string, err error) {
	c := b.c
	buf = append(make([]byte, 0, 64*len(b.items)), '[')
	for i, bc := range b.items {
		if i > 0 {
			buf = append(buf, ',')
		}
		e := encoder{c: c}
		if !bc.notify {
			bc.id = c.seq.Add(1)
			e.scope = bc.id
		}
		if len(bins) > 0 {
			e.state().bins = bins // number on across the batch
		}
		buf = append(buf, `{"jsonrpc":"2.0","method":`...)
		buf = appendString(buf, bc.method)
		switch {
		case bc.isNamed:
			if bc.named == nil {
				err = fmt.Errorf("rpc: named params must encode as a JSON object, got nil")
				break
			}
			buf = append(buf, `,"params":`...)
			buf, err = e.appendNamed(buf, bc.named)
		case len(bc.args) > 0:
			buf = append(buf, `,"params":`...)
			buf, err = e.appendArgs(buf, "", bc.args)
		}
		cbs = append(cbs, e.cbs()...)
		if err != nil {
			return nil, nil, cbs, fmt.Errorf("rpc: batch entry %d (%s): %w", i, bc.method, err)
		}
		if !bc.notify {
			buf = append(buf, `,"id":`...)
			buf = strconv.AppendUint(buf, bc.id, 10)
			cl := callPool.Get().(*call)
			cl.id, cl.cbs = bc.id, e.cbs()
			bc.cl = cl
		}
		buf = append(buf, '}')
		bins = e.bins()
	}
	return append(buf, ']'), bins, cbs, nil
}

// failAll sets err on every entry and returns it; call records made by
// encode go back to the pool.
func (b *Batch) failAll(err error) error {
	for _, bc := range b.items {
		if bc.cl != nil {
			b.c.putCall(bc.cl)
			bc.cl = nil
		}
		bc.err = err
	}
	return err
}

// failBatch fails the calls still waiting of the oldest batch this side
// sent that has any, with e: the peer answered a whole batch with one error
// (a null id), which only a batch as a whole gets from a peer that reads
// it. Without such a batch, e is reported.
func (c *Conn) failBatch(e *Error) {
	c.mu.Lock()
	var failed []*call
	for _, ob := range c.outBatches {
		for _, id := range ob.ids {
			if cl := c.calls[id]; cl != nil {
				delete(c.calls, id)
				c.order.remove(&cl.node)
				c.releaseScopeLocked(cl)
				failed = append(failed, cl)
			}
		}
		if len(failed) > 0 {
			break
		}
	}
	c.mu.Unlock()
	if len(failed) == 0 {
		c.report(fmt.Errorf("rpc: peer reported an error for id null: %w", e))
		return
	}
	for _, cl := range failed {
		cl.done <- reply{err: e}
	}
}

// forgetBatch removes ob from the batches in flight.
func (c *Conn) forgetBatch(ob *outBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.outBatches {
		if x == ob {
			c.outBatches = append(c.outBatches[:i], c.outBatches[i+1:]...)
			return
		}
	}
}
