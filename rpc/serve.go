package rpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
)

// handlePacket parses one incoming packet and routes its messages. It runs
// on the read loop and never blocks on a handler.
func (c *Conn) handlePacket(p binchannel.Packet) {
	defer func() {
		// A bug here must not take the process down; the message is lost.
		if r := recover(); r != nil {
			c.report(fmt.Errorf("rpc: internal error handling a message: %v", r))
		}
	}()
	env, err := parseEnvelope(c.msgBuf, p.JSON, c.opts.MaxBatch)
	defer func() {
		// Reuse the slice for the next packet; nothing keeps a pointer
		// into it (requests copy their message).
		clear(env.Msgs)
		if cap(env.Msgs) <= 64 {
			c.msgBuf = env.Msgs[:0]
		}
	}()
	if err != nil {
		c.report(fmt.Errorf("%w: %w", ErrBadEnvelope, err))
		c.sendReply(AppendResponse(nil, false, nil, nil, asError(err)), nil)
		return
	}
	var b *batch
	if env.Batch {
		b = &batch{c: c, pending: 1}
	}
	var whole *Error // an error answering a whole batch this side sent
	for i := range env.Msgs {
		m := &env.Msgs[i]
		switch m.Kind {
		case KindResponse:
			if e := c.deliver(m, p.Bins); e != nil {
				whole = e
			}
		case KindInvalid:
			c.report(fmt.Errorf("%w: invalid object (id %s)", ErrBadEnvelope, m.ID))
			c.replyTo(b, b.reserve(), AppendResponse(nil, m.V1, m.ID, nil, m.Invalid), nil)
		case KindRequest:
			c.serveRequest(m, &p, b)
		}
	}
	b.done()
	if whole != nil {
		// After the packet's other responses: they answer calls of the
		// batch by id, and only the calls left wait in vain.
		c.failBatch(whole)
	}
}

// sendReply sends one response (or batch array) packet.
func (c *Conn) sendReply(buf []byte, bins []binchannel.Binary) {
	if err := c.send(c.ctx, binchannel.Packet{JSON: buf, Bins: bins}); err != nil && c.ctx.Err() == nil {
		c.report(fmt.Errorf("rpc: sending response: %w", err))
	}
}

// deliver hands a response to its waiting call. An error response with a
// null id matches no call: it answers a whole message, a batch the peer
// refused, and is returned for failBatch.
func (c *Conn) deliver(m *Message, bins []binchannel.Binary) *Error {
	id, err := strconv.ParseUint(string(m.ID), 10, 64)
	var cl *call
	if err == nil {
		c.mu.Lock()
		if cl = c.calls[id]; cl != nil {
			delete(c.calls, id)
			c.order.remove(&cl.node)
			c.releaseScopeLocked(cl)
		}
		c.mu.Unlock()
	}
	if cl == nil {
		switch {
		case m.Error != nil && isNull(m.ID):
			return m.Error
		case m.Error != nil:
			c.report(fmt.Errorf("rpc: peer reported an error for id %s: %w", m.ID, m.Error))
		default:
			c.report(fmt.Errorf("rpc: response for unknown id %s", m.ID))
		}
		return nil
	}
	cl.done <- reply{msg: *m, bins: bins}
	return nil
}

// serveRequest routes one request of packet p.
func (c *Conn) serveRequest(m *Message, p *binchannel.Packet, b *batch) {
	if strings.HasPrefix(m.Method, "rpc.") {
		c.serveExtension(m, p, b)
		return
	}
	meth := c.local.Lookup(m.Method)
	if meth == nil {
		meth = c.opts.Registry.Lookup(m.Method)
	}
	if meth == nil {
		c.replyError(m, b, ErrMethodNotFound)
		return
	}
	c.dispatch(m, p, b, meth, 0)
}

// replyError answers m with e unless m is a notification.
func (c *Conn) replyError(m *Message, b *batch, e *Error) {
	if m.IsNotification() {
		return
	}
	c.replyTo(b, b.reserve(), AppendResponse(nil, m.V1, m.ID, nil, e), nil)
}

// replyNull answers m with a null result unless m is a notification.
func (c *Conn) replyNull(m *Message, b *batch) {
	if m.IsNotification() {
		return
	}
	c.replyTo(b, b.reserve(), AppendResponse(nil, m.V1, m.ID, nil, nil), nil)
}

// serveExtension handles the rpc.* methods.
func (c *Conn) serveExtension(m *Message, p *binchannel.Packet, b *batch) {
	switch m.Method {
	case "rpc.cancel":
		var ids []jsontext.Value
		if err := json.Unmarshal(m.Params, &ids); err != nil {
			c.replyError(m, b, invalidParams(err))
			return
		}
		// A linear scan: cancellations are rare and the list holds at
		// most the running and queued requests.
		c.mu.Lock()
		var cancels []*request
		for r := c.running.head; r != nil; r = r.next {
			if r.msg.ID != nil && slices.ContainsFunc(ids, func(id jsontext.Value) bool { return string(id) == string(r.msg.ID) }) {
				cancels = append(cancels, r)
			}
		}
		c.mu.Unlock()
		for _, r := range cancels {
			r.ctx.cancel()
		}
		c.replyNull(m, b)
	case "rpc.unbind", "rpc.keep":
		var ids []string
		if err := json.Unmarshal(m.Params, &ids); err != nil {
			c.replyError(m, b, invalidParams(err))
			return
		}
		c.mu.Lock()
		for _, id := range ids {
			cb, ok := c.callbacks[id]
			if !ok {
				continue
			}
			if m.Method == "rpc.keep" {
				cb.scope = 0
			} else {
				delete(c.callbacks, id)
				c.order.remove(&cb.node)
			}
		}
		c.mu.Unlock()
		c.replyNull(m, b)
	case "rpc.evicted":
		var ids []string
		if err := json.Unmarshal(m.Params, &ids); err != nil {
			c.replyError(m, b, invalidParams(err))
			return
		}
		c.evictHandles(ids)
		c.replyNull(m, b)
	case "rpc.callback":
		c.serveCallback(m, p, b)
	case "rpc.discover":
		c.dispatch(m, p, b, c.discoverMethod(), 0)
	default:
		c.replyError(m, b, ErrMethodNotFound)
	}
}

// serveCallback runs a stored local function for rpc.callback.
func (c *Conn) serveCallback(m *Message, p *binchannel.Packet, b *batch) {
	id, ok := firstString(m.Params)
	if !ok {
		c.replyError(m, b, ErrInvalidParams.withMessage(`Invalid params: want ["<function id>", args...]`))
		return
	}
	c.mu.Lock()
	cb := c.callbacks[id]
	evicted := c.evicted.has(id)
	c.mu.Unlock()
	if cb == nil {
		switch {
		case evicted && c.opts.IgnoreEvicted:
			c.replyNull(m, b)
		case evicted:
			c.replyError(m, b, ErrHandleEvicted.withMessage("Function handle evicted: "+id))
		default:
			c.replyError(m, b, ErrHandleNotFound.withMessage("Function handle not found: "+id))
		}
		return
	}
	meth := cb.method()
	if meth == nil {
		c.replyError(m, b, ErrInternal)
		return
	}
	c.dispatch(m, p, b, meth, 1)
}

// method adapts the callback's function once.
func (cb *callback) method() *Method {
	cb.once.Do(func() { cb.m, _ = newMethodValue(cb.fn, nil) })
	return cb.m
}

// firstString returns the first element of a params array when it is a
// string.
func firstString(params jsontext.Value) (string, bool) {
	if params.Kind() != '[' {
		return "", false
	}
	p := getParser(params)
	defer p.release()
	dec := p.dec
	if _, err := dec.ReadToken(); err != nil {
		return "", false
	}
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '"' {
		return "", false
	}
	return tok.String(), true
}

// dispatch runs meth for m, a request of packet p, on a handler slot, or
// queues it, or refuses it when the queue is full (MaxQueue requests, or
// MaxQueueBytes held).
func (c *Conn) dispatch(m *Message, p *binchannel.Packet, b *batch, meth *Method, skip int) {
	task := &request{msg: *m, bins: p.Bins, b: b, slot: -1, meth: meth, skip: uint8(skip)}
	m = &task.msg
	task.ctx.c = c
	c.mu.Lock()
	if c.ctx.Err() != nil {
		task.ctx.err, task.ctx.done = context.Canceled, closedChan
	} else {
		c.running.push(task)
	}
	c.mu.Unlock()
	if !m.IsNotification() {
		task.slot = b.reserve()
	}
	slot := task.slot
	c.smu.Lock()
	switch {
	case c.inline == nil && c.workers < c.opts.MaxConcurrency:
		// The reader runs this one itself once the packet is routed,
		// keeping the reader role unless the handler runs long (see
		// runInline): a short handler starts and ends without any
		// goroutine being woken.
		c.workers++
		c.smu.Unlock()
		c.inline = task
	case len(c.idle) > 0:
		ch := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		c.smu.Unlock()
		ch <- task // buffered: never blocks
	case c.workers < c.opts.MaxConcurrency:
		c.workers++
		c.live.Add(1)
		c.smu.Unlock()
		go c.loop(task)
	case len(c.queue) < c.opts.MaxQueue && c.chargeQueueLocked(task, p):
		c.queue = append(c.queue, task)
		c.smu.Unlock()
	default:
		c.smu.Unlock()
		c.endRequest(task)
		if slot >= 0 {
			c.replyTo(b, slot, AppendResponse(nil, m.V1, m.ID, nil, ErrOverloaded), nil)
		}
	}
}

// readerRole, sent to a parked worker or given to a new goroutine, makes it
// the reader.
var readerRole = new(request)

// ranTask, returned by readLoop, makes the goroutine a worker whose task
// has already run.
var ranTask = new(request)

// States of Conn.inlineRun.
const (
	inlineIdle int32 = iota
	inlineHeld
	inlineHandedOff
)

// inlineHandoff bounds how long the reader runs a handler itself before
// the reader role goes to another goroutine, so that the Conn goes on
// reading while a handler blocks. A Call on the Conn hands it off at once.
const inlineHandoff = 50 * time.Microsecond

// inlineTick is the period of the check behind inlineHandoff: a run still
// held at two successive ticks is handed off, so after one to two ticks.
const inlineTick = inlineHandoff / 2

// runInline runs t on the reader, which keeps the reader role unless the
// handler outlives inlineHandoff or calls the peer through this Conn; then
// the role goes to a parked worker or a new goroutine. It reports whether
// this goroutine still holds the role (else it goes on as a worker). The
// caller counted t as a running worker; a kept role ends that count.
//
// Runs are watched by one ticking timer, armed by the first run after an
// idle tick, rather than a timer set and stopped around every run: those
// two timer operations cost more than a short handler.
func (c *Conn) runInline(t *request) bool {
	c.inlineSeq.Add(1)
	c.inlineRun.Store(inlineHeld)
	if !c.inlineArmed.Load() && c.inlineArmed.CompareAndSwap(false, true) {
		c.armInlineTick()
	}
	c.run(t)
	if !c.inlineRun.CompareAndSwap(inlineHeld, inlineIdle) {
		// Handed off meanwhile: another goroutine reads now.
		return false
	}
	c.smu.Lock()
	if len(c.queue) > 0 {
		// Requests queued behind this one while it held the last
		// handler slot: the slot passes to a worker that runs them, so
		// they neither wait for the next packet nor fall behind it.
		next := c.popQueueLocked()
		c.live.Add(1)
		c.smu.Unlock()
		go c.loop(next)
		return true
	}
	c.workers--
	c.smu.Unlock()
	return true
}

// armInlineTick starts the next tick; only the holder of inlineArmed
// calls it, so the timer is made once and never armed twice.
func (c *Conn) armInlineTick() {
	c.inlineMu.Lock()
	defer c.inlineMu.Unlock()
	if c.inlineTimer == nil {
		c.inlineTimer = time.AfterFunc(inlineTick, c.inlineTickFired)
		return
	}
	c.inlineTimer.Reset(inlineTick)
}

// inlineTickFired hands off a run that was already held at the previous
// tick and keeps ticking while runs go on; a tick that finds the reader
// idle disarms.
func (c *Conn) inlineTickFired() {
	if c.inlineRun.Load() == inlineHeld {
		if s := c.inlineSeq.Load(); c.inlineSeen.Swap(s) == s {
			c.releaseInline()
		}
		c.armInlineTick()
		return
	}
	c.inlineSeen.Store(0)
	c.inlineArmed.Store(false)
	// A run that began before the store above found the timer armed and
	// left it alone: arm it for that run.
	if c.inlineRun.Load() == inlineHeld && c.inlineArmed.CompareAndSwap(false, true) {
		c.armInlineTick()
	}
}

// releaseInline hands the reader role on when the reader is running a
// handler itself; otherwise it does nothing. Safe from any goroutine: a
// late timer or a Call that finds the state held by a later inline run
// only hands that one off early.
func (c *Conn) releaseInline() {
	if c.inlineRun.CompareAndSwap(inlineHeld, inlineHandedOff) {
		c.handoffReader()
	}
}

// loop is the body of every Conn goroutine: it holds the reader role or
// runs handlers, switching between the two.
func (c *Conn) loop(task *request) {
	defer c.exitLoop()
	var p parking
	defer p.stop()
	for task != nil {
		if task == readerRole {
			task = c.readLoop()
			continue
		}
		task = c.worker(task, &p)
	}
}

// exitLoop ends one of the Conn's goroutines; the last one closes Done.
// The reader is among the goroutines until the Conn shuts down, so the
// count only reaches zero after that; cancel is called again so that Done
// never precedes the end of handler contexts, even when another goroutine
// is still inside shutdown.
func (c *Conn) exitLoop() {
	if c.live.Add(-1) == 0 {
		c.cancel()
		c.inlineMu.Lock()
		if c.inlineTimer != nil {
			c.inlineTimer.Stop() // no run is left to watch
		}
		c.inlineMu.Unlock()
		close(c.done)
	}
}

// parking is a goroutine's means to wait as a parked worker, made once.
type parking struct {
	ch    chan *request
	timer *time.Timer
}

func (p *parking) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// handoffReader gives the reader role to a parked worker, or to a new
// goroutine when none is parked.
func (c *Conn) handoffReader() {
	c.smu.Lock()
	if n := len(c.idle); n > 0 {
		ch := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.workers-- // it stops being a worker
		c.smu.Unlock()
		ch <- readerRole
		return
	}
	c.live.Add(1)
	c.smu.Unlock()
	go c.loop(readerRole)
}

// worker runs task, then queued tasks; when none is left it parks (up to
// Options.IdleWorkers parked workers, reused without growing a new stack)
// or exits (nil). A parked worker may be handed the reader role, which it
// returns.
func (c *Conn) worker(task *request, p *parking) *request {
	if p.ch == nil {
		p.ch = make(chan *request, 1)
	}
	ch := p.ch
	for {
		if task != ranTask {
			c.run(task)
		}
		c.smu.Lock()
		if len(c.queue) > 0 {
			task = c.popQueueLocked()
			c.smu.Unlock()
			continue
		}
		if len(c.idle) >= c.opts.IdleWorkers || c.ctx.Err() != nil {
			c.workers--
			c.smu.Unlock()
			return nil
		}
		c.idle = append(c.idle, ch)
		c.smu.Unlock()
		if testHookParking != nil {
			testHookParking(c, ch)
		}
		if p.timer == nil {
			p.timer = time.NewTimer(c.opts.IdleTimeout)
		} else {
			p.timer.Reset(c.opts.IdleTimeout)
		}
		select {
		case task = <-ch:
			p.timer.Stop()
		case <-c.ctx.Done():
			// A dispatcher may have taken ch just before the shutdown:
			// its task was read from the peer and must still run.
			p.timer.Stop()
			if c.leaveIdle(ch) {
				return nil
			}
			task = <-ch
		case <-p.timer.C:
			if c.leaveIdle(ch) {
				return nil
			}
			task = <-ch // a dispatcher took ch just before: its task is coming
		}
		if task == readerRole {
			return task
		}
	}
}

// testHookParking, when set by a test, runs on a worker that has joined the
// idle list and is about to wait on its channel.
var testHookParking func(c *Conn, ch chan *request)

// popQueueLocked takes the oldest queued request; c.smu is held and the
// queue is not empty.
func (c *Conn) popQueueLocked() *request {
	r := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	c.unchargeQueueLocked(r)
	return r
}

// chargeQueueLocked counts in c.queueBytes the memory t holds while it
// waits, the size of its packet p (JSON text and binaries), and reports
// false, counting nothing, when that would pass Options.MaxQueueBytes.
// Requests keep their packet alive (their params point into it), so the
// requests of one batch share one charge, taken by the first of them to
// wait and returned by the last to leave the queue. A request that finds
// nothing counted waits whatever its size, so that a message larger than
// the bound is not refused for ever. c.smu is held.
func (c *Conn) chargeQueueLocked(t *request, p *binchannel.Packet) bool {
	b := t.b
	if b != nil && b.queued > 0 {
		b.queued++ // its packet is counted already
		return true
	}
	n := len(p.JSON)
	for _, bin := range p.Bins {
		n += int(bin.Len())
	}
	if limit := c.opts.MaxQueueBytes; limit > 0 && c.queueBytes > 0 && c.queueBytes+n > limit {
		return false
	}
	c.queueBytes += n
	if b != nil {
		b.queued, b.queuedBytes = 1, n
	} else {
		t.queuedBytes = n
	}
	return true
}

// unchargeQueueLocked returns what chargeQueueLocked counted for r, which
// left the queue. c.smu is held.
func (c *Conn) unchargeQueueLocked(r *request) {
	if b := r.b; b != nil {
		if b.queued--; b.queued == 0 {
			c.queueBytes -= b.queuedBytes
			b.queuedBytes = 0
		}
		return
	}
	c.queueBytes -= r.queuedBytes
	r.queuedBytes = 0
}

// leaveIdle removes a parked worker's channel from the idle list; false
// when a dispatcher already took it.
func (c *Conn) leaveIdle(ch chan *request) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	for i, x := range c.idle {
		if x == ch {
			c.idle = append(c.idle[:i], c.idle[i+1:]...)
			c.workers--
			return true
		}
	}
	return false
}

func (c *Conn) endRequest(r *request) {
	r.ctx.cancel()
	c.mu.Lock()
	c.running.remove(r)
	c.mu.Unlock()
}

// request is one incoming request on its way to a handler.
type request struct {
	ctx   reqCtx
	msg   Message
	bins  []binchannel.Binary
	b     *batch
	slot  int
	meth  *Method
	scope reqScope

	prev, next *request // in Conn.running
	listed     bool
	skip       uint8 // leading params that are not the handler's (0 or 1)
	// queuedBytes is what a request of no batch counts in Conn.queueBytes
	// while it is queued (see chargeQueueLocked); guarded by Conn.smu.
	queuedBytes int
}

// run decodes the params, calls the handler and answers.
func (c *Conn) run(r *request) {
	defer c.endRequest(r)
	var ctx context.Context = &r.ctx
	m, bins, b, slot, meth, skip := &r.msg, r.bins, r.b, r.slot, r.meth, int(r.skip)
	sc := &r.scope
	sc.notification = m.IsNotification()
	d := decoder{c: c, bins: bins, scope: sc}
	res, err := c.invoke(ctx, meth, &d, m.Params, skip)
	released := c.releaseScope(sc)
	if sc.notification {
		if len(released) > 0 {
			ids := make([]any, len(released))
			for i, id := range released {
				ids[i] = id
			}
			if err := c.notify(c.ctx, "rpc.unbind", "", ids); err != nil && c.ctx.Err() == nil {
				c.report(err)
			}
		}
		if err != nil {
			c.report(fmt.Errorf("rpc: notification %s: %w", m.Method, err))
		}
		return
	}
	c.replyResult(b, slot, m, res, err)
}

// invoke calls meth, turning a panic into an internal error.
// Decoding (which may run user unmarshalers) is covered too.
func (c *Conn) invoke(ctx context.Context, meth *Method, d *decoder, params jsontext.Value, skip int) (res reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.panicError(r)
		}
	}()
	if meth.raw != nil {
		return invokeRaw(ctx, meth.raw, params, skip)
	}
	args, err := d.args(meth, params, skip)
	if err != nil {
		return reflect.Value{}, err
	}
	if meth.hasCtx {
		args[0] = reflect.ValueOf(ctx) // d.args left the slot free
	}
	var out []reflect.Value
	if meth.variadic {
		out = meth.fn.CallSlice(args)
	} else {
		out = meth.fn.Call(args)
	}
	if meth.result != nil {
		res = out[0]
	}
	if meth.hasErr {
		if e := out[len(out)-1]; !e.IsNil() {
			err = e.Interface().(error)
		}
	}
	return res, err
}

// invokeRaw calls a RawHandler with the params undecoded.
func invokeRaw(ctx context.Context, fn RawHandler, params jsontext.Value, skip int) (reflect.Value, error) {
	if skip > 0 {
		// Stored callbacks are never raw; refuse rather than pass a
		// params array that still holds the function id.
		return reflect.Value{}, ErrInternal
	}
	out, err := fn(ctx, params)
	if err != nil {
		return reflect.Value{}, err
	}
	if out == nil {
		out = jsontext.Value("null")
	}
	return reflect.ValueOf(out), nil
}

func (c *Conn) panicError(r any) *Error {
	if !c.opts.ExposeDetails {
		return ErrInternal
	}
	data, _ := json.Marshal(map[string]string{"panic": fmt.Sprint(r), "stack": string(debug.Stack())})
	return ErrInternal.withData(data)
}

// wireError converts a handler's error for the wire.
func (c *Conn) wireError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e) && e != nil:
		return e
	case errors.Is(err, context.Canceled):
		return ErrRemoteCancel
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeTimeout, Message: "Deadline exceeded"}
	}
	e = &Error{Code: CodeServerError}
	if c.opts.HideErrors {
		e.Message = hiddenErrorMessage
	} else {
		e.Message = err.Error()
	}
	if c.opts.ExposeDetails {
		e.Data, _ = json.Marshal(map[string]string{"type": fmt.Sprintf("%T", err)})
	}
	return e
}

// hiddenErrorMessage replaces a plain handler error's text under
// Options.HideErrors.
const hiddenErrorMessage = "Server error"

// batch collects the responses to one incoming message. A nil *batch is a
// single message: replies go out at once.
type batch struct {
	c *Conn
	// queued counts the batch's requests in the Conn's queue, which hold
	// its packet; queuedBytes is the packet's size, counted once in
	// Conn.queueBytes while queued > 0 (see chargeQueueLocked). Both are
	// guarded by Conn.smu.
	queued, queuedBytes int
	// mu guards the fields below. Encoding a result happens under it so
	// that binary indices number the whole batch; it is private to this
	// batch, so user marshalers cannot re-enter it.
	mu      sync.Mutex
	parts   [][]byte
	bins    []binchannel.Binary
	pending int // reserved slots not yet filled, +1 while routing
}

// reserve claims a response slot.
func (b *batch) reserve() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.parts = append(b.parts, nil)
	b.pending++
	return len(b.parts) - 1
}

// replyTo fills a batch slot with an encoded response, or sends it when b
// is nil.
func (c *Conn) replyTo(b *batch, slot int, buf []byte, bins []binchannel.Binary) {
	if b == nil {
		c.sendReply(buf, bins)
		return
	}
	b.mu.Lock()
	b.parts[slot] = buf
	b.bins = append(b.bins, bins...)
	b.mu.Unlock()
	b.done()
}

// done releases one pending count and sends the batch when none is left.
func (b *batch) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.pending--
	if b.pending > 0 {
		b.mu.Unlock()
		return
	}
	parts, bins := b.parts, b.bins
	b.mu.Unlock()
	if len(parts) == 0 {
		return // all notifications: nothing to send
	}
	size := 1
	for _, p := range parts {
		size += len(p) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, p := range parts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, p...)
	}
	buf = append(buf, ']')
	b.c.sendReply(buf, bins)
}

// replyResult encodes a handler's outcome into slot (or sends it).
func (c *Conn) replyResult(b *batch, slot int, m *Message, res reflect.Value, herr error) {
	if b != nil {
		b.mu.Lock()
	}
	e := encoder{c: c}
	if b != nil && len(b.bins) > 0 {
		e.state().bins = b.bins // number on from the batch's binaries
	}
	var out []byte
	if herr == nil {
		var err error
		if out, err = e.appendResult(nil, res); err != nil {
			c.dropCallbacks(e.cbs())
			herr = ErrInternal
			if c.opts.ExposeDetails {
				herr = ErrInternal.withMessage("Internal error: encoding result: " + err.Error())
			}
			if e.st != nil {
				e.st.bins = b.binsOrNil()
			}
		}
	}
	var we *Error
	if herr != nil {
		we = c.wireError(herr)
		out = nil
	}
	buf := AppendResponse(nil, m.V1, m.ID, out, we)
	if b == nil {
		c.sendReply(buf, e.bins())
		return
	}
	b.parts[slot] = buf
	b.bins = e.bins()
	b.mu.Unlock()
	b.done()
}

func (b *batch) binsOrNil() []binchannel.Binary {
	if b == nil {
		return nil
	}
	return b.bins
}
