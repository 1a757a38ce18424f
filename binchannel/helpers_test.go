package binchannel

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newPair returns two Channels joined by a pipe; both are closed when the
// test ends.
func newPair(t testing.TB, po PipeOptions, o Options) (*Channel, *Channel) {
	t.Helper()
	ta, tb := NewPipe(po)
	a := NewWithOptions(ta, o)
	b := NewWithOptions(tb, o)
	t.Cleanup(func() {
		_ = a.Close()
		_ = b.Close()
	})
	return a, b
}

// recTransport records written messages; hooks can fail or re-enter writes.
type recTransport struct {
	max int

	mu     sync.Mutex // guards msgs, writes
	msgs   [][][]byte
	writes int

	// before runs before each write, outside mu, with the write's index;
	// a non-nil error fails that write.
	before func(ctx context.Context, n int) error
}

func (r *recTransport) WriteMessage(ctx context.Context, parts ...[]byte) error {
	r.mu.Lock()
	n := r.writes
	r.writes++
	r.mu.Unlock()
	if r.before != nil {
		if err := r.before(ctx, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, parts)
	r.mu.Unlock()
	return nil
}

func (r *recTransport) ReadMessage(ctx context.Context) ([][]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (r *recTransport) MaxMessageSize() int {
	if r.max == 0 {
		return 1 << 20
	}
	return r.max
}

func (r *recTransport) Close() error { return nil }

// flat returns the recorded messages, each joined into one slice.
func (r *recTransport) flat() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = bytes.Join(m, nil)
	}
	return out
}

// errorLog collects errors reported through Options.OnError.
type errorLog struct {
	mu   sync.Mutex // guards errs
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorLog) take() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.errs
	l.errs = nil
	return e
}

// fakeClock is a manual Clock: timers fire inside Advance.
type fakeClock struct {
	mu     sync.Mutex // guards now, timers
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves time forward and runs the timers that fall due, in order,
// on the calling goroutine; each runs with the clock at its due time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.done && !t.at.After(end) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		due.done = true
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.mu.Unlock()
		due.f()
	}
}

// armed reports how many timers are waiting.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}
