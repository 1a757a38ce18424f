package rpc

import (
	"log/slog"
	"time"
)

// Options configures a Conn. The zero value is the default for every field.
type Options struct {
	// Registry holds methods shared by many Conns. The Conn's own methods
	// (Conn.Register) are looked up first. Default: none.
	Registry *Registry

	// MaxConcurrency bounds the handlers running at once on this Conn.
	// Default 64.
	MaxConcurrency int
	// IdleWorkers is how many handler goroutines stay parked for reuse
	// when there is no work. Default 16 (capped to MaxConcurrency); a
	// negative value parks none: every request starts a goroutine that
	// exits when no work is queued, the cheapest choice for Conns that are
	// idle most of the time.
	IdleWorkers int
	// IdleTimeout is how long a parked handler goroutine waits for work
	// before it exits, so that an idle Conn holds none. Default 2s.
	IdleTimeout time.Duration
	// MaxQueue bounds the requests waiting for a handler slot; past it a
	// request is answered with CodeOverloaded at once. Default 1024.
	MaxQueue int
	// MaxQueueBytes bounds the memory held by the requests waiting for a
	// handler slot: each counts the size of the message it came in (JSON
	// text plus binary parts), and the requests of one batch count their
	// message once. A request that would pass the bound is answered with
	// CodeOverloaded at once, as past MaxQueue; one that finds no other
	// waiting is queued whatever its size. Running requests are bound by
	// MaxConcurrency instead. Default 16 MiB; a negative value sets no
	// bound.
	MaxQueueBytes int
	// MaxBatch bounds the elements of one incoming batch. Default 1000.
	MaxBatch int

	// MaxPending bounds the pending entries: calls waiting for a response
	// plus local functions stored for the peer to call. Past it the oldest
	// entry is evicted: a waiting call fails with ErrEvicted (and the peer
	// is sent rpc.cancel), a stored function is dropped, the peer is told
	// (rpc.evicted) so that it drops its handle, and a later rpc.callback
	// on it is answered with CodeHandleEvicted. Default 10,000.
	MaxPending int
	// OnEvict, if set, is called with the ids of evicted entries (call ids
	// in decimal, function ids as sent). It runs outside all locks, on the
	// goroutine that caused the eviction; it must not block for long.
	OnEvict func(ids []string)
	// IgnoreEvicted answers rpc.callback on an evicted function with a null
	// result instead of an error (notifications are ignored either way).
	IgnoreEvicted bool

	// CallTimeout bounds every Call (not Notify) in addition to its ctx.
	// Default 0: no timeout beyond the ctx.
	CallTimeout time.Duration

	// NestedFuncs lets functions inside structs, maps and slices cross the
	// wire, in arguments and results, both ways. Default off: only a
	// function that is itself an argument or the result crosses; a nested
	// one fails to encode.
	NestedFuncs bool

	// ExposeDetails puts internals in error data sent to the peer: a
	// panic's value and stack, a returned error's Go type. Default off,
	// right for anything reachable from a network: a panic is answered
	// with a bare -32603 "Internal error".
	ExposeDetails bool

	// HideErrors answers a handler's plain error (one that is not, and
	// does not wrap, an *Error) with -32000 and the generic message
	// "Server error" instead of the error's text, which may name files,
	// hosts or queries. An *Error the handler returns on purpose still
	// goes out with its code, message and data, and so do the package's
	// own errors (invalid params, cancelled, ...). Default off: a
	// data-channel peer sends the text, which is what its peer, usually
	// the same application, wants to see. Servers open to any client
	// should turn it on: rpc/endpoint's servers do, unless their
	// ExposeErrors option is set. ExposeDetails still adds the error's Go
	// type when both are set.
	HideErrors bool

	// ServiceName and ServiceVersion fill the info object of the
	// rpc.discover document. Defaults "peerd" and "0.0.0".
	ServiceName, ServiceVersion string

	// Logger, if set, receives debug records for problems no caller sees:
	// unmatched responses, failed response sends, invalid peer messages.
	// The package never logs otherwise.
	Logger *slog.Logger
	// OnError, if set, is called with the same problems as Logger, outside
	// all locks.
	OnError func(error)
}

// DefaultMaxQueueBytes is the default of Options.MaxQueueBytes.
const DefaultMaxQueueBytes = 16 << 20

func (o Options) withDefaults() Options {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 64
	}
	switch {
	case o.IdleWorkers == 0:
		o.IdleWorkers = 16
	case o.IdleWorkers < 0:
		o.IdleWorkers = 0 // none parked
	}
	o.IdleWorkers = min(o.IdleWorkers, o.MaxConcurrency)
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Second
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1024
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 10000
	}
	return o
}
