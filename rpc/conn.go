package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerd/peerd/binchannel"
)

// Conn is one end of an RPC pair. Both ends are equal: each serves its
// registered methods to the other and calls the other's.
//
// Concurrency: all methods are safe for concurrent use. One goroutine at a
// time reads the transport; handlers run at most Options.MaxConcurrency at
// once, the first on the reading goroutine itself, which hands reading on
// when that handler runs long or calls the peer. Hooks (OnEvict, OnError)
// and handlers are never called with a lock held.
type Conn struct {
	t       Transport
	opts    Options
	local   *Registry
	rawBins bool // binaries travel as binchannel parts

	ctx    context.Context // cancelled when the Conn shuts down
	cancel context.CancelFunc
	done   chan struct{} // closed by the last of the Conn's goroutines to end
	// live counts the Conn's goroutines (reader, workers, parked ones).
	// The reader role is always held by one of them until the Conn shuts
	// down, so live reaches 0 only after that.
	live atomic.Int32

	seq atomic.Uint64 // call and function ids

	msgBuf []Message // reused by the reader only
	inline *request  // set by dispatch, run by the reader itself (see runInline)

	// inlineRun is inlineHeld while the reader runs a handler itself with
	// the reader role still its own; whoever swaps it to inlineHandedOff
	// hands the role to another goroutine (see releaseInline).
	inlineRun atomic.Int32
	// inlineSeq counts inline runs; inlineSeen is the run the last tick
	// found held; inlineArmed is set while a tick is pending. The ticking
	// inlineTimer (guarded by inlineMu) hands the role off when an inline
	// handler runs long (see runInline).
	inlineSeq   atomic.Uint64
	inlineSeen  atomic.Uint64
	inlineArmed atomic.Bool
	inlineMu    sync.Mutex
	inlineTimer *time.Timer

	// mu guards the pending state below and closed/cause.
	mu        sync.Mutex
	closed    bool
	cause     error
	calls     map[uint64]*call
	callbacks map[string]*callback
	order     pendingList      // pending entries, oldest first
	handles   map[string]*Func // live handles to the peer's functions, by id (chained by Func.next)
	evicted   idRing           // recently evicted local function ids
	running   requestList      // requests routed and not yet ended

	// smu guards the handler workers and queue.
	smu     sync.Mutex
	workers int             // worker goroutines alive
	idle    []chan *request // parked workers, each waiting on its channel
	queue   []*request      // requests waiting for a worker
	// queueBytes is the size of the packets the queued requests hold,
	// bound by Options.MaxQueueBytes (see chargeQueueLocked).
	queueBytes int

	// sessMu guards session.
	sessMu  sync.Mutex
	session map[any]any

	// Also guarded by mu, and used by less common paths.
	nHandles int // handles in c.handles
	// peerEvicted holds ids the peer said it evicted (rpc.evicted) before
	// any handle to them arrived: the placeholder may still be on its way.
	peerEvicted idRing
	outBatches  []*outBatch // batches sent whose calls may still wait, oldest first
	unbinds     []string    // ids of collected stubs' handles to unbind (see queueUnbind)
	unbinding   bool        // a goroutine sends unbinds
}

// call is a request waiting for its response.
type call struct {
	id   uint64
	done chan reply
	cbs  []string // functions passed with the call, released on return
	node pendingNode
}

// reply is what a waiting call receives.
type reply struct {
	msg  Message
	bins []binchannel.Binary
	err  error
}

// callback is a local function the peer may call.
type callback struct {
	id    string
	fn    reflect.Value
	once  sync.Once
	m     *Method // adapted lazily by method()
	scope uint64  // id of the call it was passed with; 0 once kept or when returned
	node  pendingNode
}

const maxEvictedRecords = 1024

// New starts a Conn over t with default Options.
func New(t Transport) *Conn { return NewWithOptions(t, Options{}) }

// NewWithOptions starts a Conn over t: it begins reading and serving at
// once. Register methods before the peer may call them (a call to an
// unknown method is answered with -32601), or share a Registry.
func NewWithOptions(t Transport, o Options) *Conn {
	c := &Conn{
		t:         t,
		opts:      o.withDefaults(),
		local:     NewRegistry(),
		rawBins:   true,
		done:      make(chan struct{}),
		calls:     make(map[uint64]*call),
		callbacks: make(map[string]*callback),
		handles:   make(map[string]*Func),
	}
	if j, ok := t.(JSONOnly); ok && j.JSONOnly() {
		c.rawBins = false
	}
	c.order.init()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.live.Add(1)
	go c.loop(readerRole)
	return c
}

// Register serves fn under name on this Conn only (see Registry.Register).
func (c *Conn) Register(name string, fn any, paramNames ...string) error {
	return c.local.Register(name, fn, paramNames...)
}

// RegisterMethod serves an adapted Method under name on this Conn only (see
// Registry.RegisterMethod).
func (c *Conn) RegisterMethod(name string, m *Method) error {
	return c.local.RegisterMethod(name, m)
}

// RegisterService serves v's exported methods under namespace on this Conn
// only (see Registry.RegisterService).
func (c *Conn) RegisterService(namespace string, v any) error {
	return c.local.RegisterService(namespace, v)
}

// Close shuts the Conn down: the transport is closed, every waiting call
// fails with ErrClosed, handler contexts are cancelled, stored functions and
// handles are dropped. It does not wait for handlers to return; Done does.
// Close is idempotent and returns nil.
func (c *Conn) Close() error {
	c.shutdown(ErrClosed)
	return nil
}

// Done is closed once the Conn has shut down and its read loop, all its
// handlers and its other goroutines have returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the Conn shut down (ErrClosed after Close, else the
// transport's error), or nil while it runs.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Stats is a snapshot of a Conn's live state.
type Stats struct {
	// Waiting counts calls sent and not yet answered.
	Waiting int
	// Callbacks counts local functions stored for the peer to call.
	Callbacks int
	// Handles counts live handles to the peer's functions.
	Handles int
	// Running counts handlers running; Queued those waiting for a slot.
	Running, Queued int
	// QueuedBytes is the size of the messages the queued requests hold,
	// as bound by Options.MaxQueueBytes (a batch counts once).
	QueuedBytes int
}

// Pending is Waiting + Callbacks: the entries bound by Options.MaxPending.
func (s Stats) Pending() int { return s.Waiting + s.Callbacks }

// Stats returns a consistent snapshot of the counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	s := Stats{Waiting: len(c.calls), Callbacks: len(c.callbacks), Handles: c.nHandles}
	c.mu.Unlock()
	c.smu.Lock()
	s.Running, s.Queued, s.QueuedBytes = c.workers-len(c.idle), len(c.queue), c.queueBytes
	c.smu.Unlock()
	return s
}

// closedErrLocked returns the error for operations after close.
func (c *Conn) closedErrLocked() error {
	if !c.closed {
		return nil
	}
	if errors.Is(c.cause, ErrClosed) {
		return c.cause
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.cause)
}

// readLoop reads and routes packets while this goroutine holds the reader
// role. It returns nil when the Conn shuts down, or ranTask when the role
// went to another goroutine while this one ran a handler (see runInline).
func (c *Conn) readLoop() *request {
	for {
		// Close unblocks RecvPacket (a Transport's contract), and the
		// Conn's ctx only ends with Close, so the read needs no ctx of
		// its own: a ctx that can end costs some transports a deadline
		// hook per read.
		p, err := c.t.RecvPacket(context.Background())
		if err != nil {
			c.shutdown(err)
			return nil
		}
		c.handlePacket(p)
		if t := c.inline; t != nil {
			c.inline = nil
			if !c.runInline(t) {
				return ranTask
			}
		}
	}
}

// shutdown closes everything once, failing waiting calls with cause.
func (c *Conn) shutdown(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cause = cause
	failErr := c.closedErrLocked()
	calls := c.calls
	c.calls = make(map[uint64]*call)
	clear(c.callbacks)
	for _, h := range c.handles {
		for ; h != nil; h = h.next {
			h.state.Store(stateReleased)
		}
	}
	clear(c.handles)
	c.nHandles = 0
	c.order.init()
	c.mu.Unlock()

	c.cancel()
	// Every request routed before now ends too; one routed later finds
	// c.ctx ended and starts cancelled (see dispatch).
	c.mu.Lock()
	var running []*request
	for r := c.running.head; r != nil; r = r.next {
		running = append(running, r)
	}
	c.mu.Unlock()
	for _, r := range running {
		r.ctx.cancel()
	}
	_ = c.t.Close()
	for _, cl := range calls {
		cl.done <- reply{err: failErr}
	}
	// Queued requests still run, with their contexts already ended: every
	// message read is handled (a response that can no longer be sent is
	// dropped; the caller's side fails with the closed transport).
}

// report hands an asynchronous problem to the Logger and OnError hook.
func (c *Conn) report(err error) {
	if c.opts.Logger != nil {
		c.opts.Logger.Debug("rpc", "err", err)
	}
	if c.opts.OnError != nil {
		c.opts.OnError(err)
	}
}

// send writes one packet. A transport that reports itself closed shuts
// the Conn down, and the error then wraps ErrClosed.
func (c *Conn) send(ctx context.Context, p binchannel.Packet) error {
	err := c.t.SendPacket(ctx, p)
	if err != nil && isClosedErr(err) {
		c.shutdown(err)
		return c.closedErrOrNil()
	}
	return err
}

// isClosedErr reports whether err says the transport is gone for good.
func isClosedErr(err error) bool {
	return errors.Is(err, binchannel.ErrClosed) || errors.Is(err, ErrPipeClosed) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, ErrClosed)
}

// evictions is what addPendingLocked evicted, acted on by afterEvict once
// c.mu is released.
type evictions struct {
	ids    []string // for OnEvict: call ids in decimal, function ids
	failed []*call  // calls to fail with ErrEvicted
	fns    []string // function ids to announce to the peer (rpc.evicted)
}

// addPendingLocked appends an entry to the eviction order and evicts the
// oldest entries over the bound.
func (c *Conn) addPendingLocked(n *pendingNode) evictions {
	c.order.pushBack(n)
	var ev evictions
	for c.order.len() > c.opts.MaxPending {
		front := c.order.front()
		c.order.remove(front)
		switch x := front.owner.(type) {
		case *call:
			delete(c.calls, x.id)
			c.releaseScopeLocked(x)
			ev.ids = append(ev.ids, strconv.FormatUint(x.id, 10))
			ev.failed = append(ev.failed, x)
		case *callback:
			delete(c.callbacks, x.id)
			c.recordEvictedLocked(x.id)
			ev.ids = append(ev.ids, x.id)
			ev.fns = append(ev.fns, x.id)
		}
	}
	return ev
}

func (c *Conn) recordEvictedLocked(id string) { c.evicted.add(id) }

// idRing is a set of the last maxEvictedRecords ids added. The zero value
// is empty and ready.
type idRing struct {
	set   map[string]struct{}
	order []string // insertion order
}

func (r *idRing) add(id string) {
	if r.set == nil {
		r.set = make(map[string]struct{})
	}
	r.set[id] = struct{}{}
	r.order = append(r.order, id)
	if len(r.order) > maxEvictedRecords {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *idRing) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

// afterEvict fails evicted calls, tells the peer which functions were
// dropped and runs the hook; call without locks.
func (c *Conn) afterEvict(ev evictions) {
	for _, cl := range ev.failed {
		id := cl.id // cl is recycled once the reply is taken
		cl.done <- reply{err: fmt.Errorf("%w: call %d", ErrEvicted, id)}
		c.sendCancel(id) // free the peer's handler too
	}
	if len(ev.fns) > 0 {
		c.sendEvicted(ev.fns) // free the peer's handles too
	}
	if len(ev.ids) > 0 && c.opts.OnEvict != nil {
		c.opts.OnEvict(ev.ids)
	}
}

// sendEvicted tells the peer that functions it holds handles to were
// evicted, so that it drops them. Best effort, as sendCancel.
func (c *Conn) sendEvicted(ids []string) { sendIDs(c, "rpc.evicted", ids) }

// releaseScopeLocked drops the functions passed with cl that the peer did
// not keep.
func (c *Conn) releaseScopeLocked(cl *call) {
	for _, id := range cl.cbs {
		if cb, ok := c.callbacks[id]; ok && cb.scope == cl.id {
			delete(c.callbacks, id)
			c.order.remove(&cb.node)
		}
	}
}
