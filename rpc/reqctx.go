package rpc

import (
	"context"
	"sync"
	"time"
)

// reqCtx is the context a handler receives. It ends when the peer cancels
// the request (rpc.cancel), when the handler returns, or when the Conn
// shuts down. It replaces a context.WithCancel child of the Conn's context,
// which cost two allocations and a registration with the parent per
// request: the Conn already keeps its requests in a list, so shutdown
// cancels them from there, and the Done channel is only made when a
// handler asks for it. It carries the Conn for ConnFromContext and no
// other values. It implements the AfterFunc method that the context
// package uses, so contexts a handler derives from it need no goroutine.
type reqCtx struct {
	c *Conn

	mu     sync.Mutex
	done   chan struct{} // made by Done or cancel
	err    error
	afters []*afterFunc
}

type afterFunc struct{ f func() }

// closedChan is the Done channel of a context cancelled before anyone
// asked for its channel.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (x *reqCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (x *reqCtx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
	}
	return x.done
}

func (x *reqCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *reqCtx) Value(key any) any {
	if _, ok := key.(connKey); ok {
		return x.c
	}
	return nil
}

// AfterFunc arranges for f to run in its own goroutine once x is
// cancelled; stop unregisters it, reporting whether it had not run yet.
// context.AfterFunc and the WithCancel family use it.
func (x *reqCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	x.afters = append(x.afters, a)
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		for i, b := range x.afters {
			if b == a {
				x.afters = append(x.afters[:i], x.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel ends x with context.Canceled; later calls do nothing.
func (x *reqCtx) cancel() {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		return
	}
	x.err = context.Canceled
	if x.done == nil {
		x.done = closedChan
	} else {
		close(x.done)
	}
	afters := x.afters
	x.afters = nil
	x.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}

func (x *reqCtx) String() string { return "rpc.request" }

// requestList is the Conn's intrusive list of requests between routing and
// the end of their handler (queued ones included), guarded by Conn.mu.
type requestList struct{ head *request }

func (l *requestList) push(r *request) {
	r.next = l.head
	if l.head != nil {
		l.head.prev = r
	}
	l.head = r
	r.listed = true
}

func (l *requestList) remove(r *request) {
	if !r.listed {
		return
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		l.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	}
	r.prev, r.next, r.listed = nil, nil, false
}
