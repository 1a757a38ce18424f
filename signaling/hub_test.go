package signaling

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// fakePeer is a pusher that records events; block makes push wait until
// released, to model a slow reader.
type fakePeer struct {
	s       *session
	mu      sync.Mutex // guards events, closed
	events  []*wireEvent
	closed  bool
	block   chan struct{}
	got     chan struct{} // one token per pushed event
	closeMu sync.Once
}

func (f *fakePeer) push(ctx context.Context, ev *wireEvent) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	f.got <- struct{}{}
	return nil
}

func (f *fakePeer) close(string) error {
	f.closeMu.Do(func() {
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		f.s.finish()
	})
	return nil
}

// next waits for the next pushed event.
func (f *fakePeer) next(t *testing.T) *wireEvent {
	t.Helper()
	select {
	case <-f.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := f.events[0]
	f.events = f.events[1:]
	return ev
}

type hubFixture struct {
	opts  ServerOptions
	stats counters
	h     *hub
}

func newHubFixture(o ServerOptions) *hubFixture {
	f := &hubFixture{opts: o.withDefaults()}
	f.h = newHub(&f.opts, &f.stats)
	return f
}

func (f *hubFixture) peer() (*session, *fakePeer) {
	p := &fakePeer{got: make(chan struct{}, 1024)}
	s := newSession(f.h, &f.opts, &f.stats, p, "127.0.0.1")
	p.s = s
	return s, p
}

func TestHubJoinLeave(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{})
	a, pa := f.peer()
	b, _ := f.peer()

	ra, err := f.h.join(a, "r", RolePublisher)
	require.NoError(t, err)
	assert.Empty(t, ra.Members)
	rb, err := f.h.join(b, "r", RoleSubscriber)
	require.NoError(t, err)
	assert.Equal(t, []Member{{ID: ra.ID, Role: RolePublisher}}, rb.Members)
	assert.NotEqual(t, ra.ID, rb.ID)

	ev := pa.next(t)
	assert.Equal(t, &wireEvent{Kind: EventJoin, Seq: 1, Peer: rb.ID, Role: RoleSubscriber}, ev)

	_, err = f.h.join(b, "r", RolePublisher)
	assert.ErrorIs(t, err, ErrAlreadyJoined)

	st := f.stats.snapshot()
	assert.EqualValues(t, 1, st.Rooms)
	assert.EqualValues(t, 2, st.Peers)

	require.NoError(t, f.h.leave(b, ReasonLeft))
	assert.Equal(t, &wireEvent{Kind: EventLeave, Seq: 2, Peer: rb.ID, Reason: ReasonLeft}, pa.next(t))
	assert.ErrorIs(t, f.h.leave(b, ReasonLeft), ErrNotJoined)

	a.finish()
	st = f.stats.snapshot()
	assert.EqualValues(t, 0, st.Rooms)
	assert.EqualValues(t, 0, st.Peers)
}

func TestHubRelay(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{})
	a, _ := f.peer()
	b, pb := f.peer()
	c, _ := f.peer()
	sub, _ := f.peer()
	ra, err := f.h.join(a, "r", RolePublisher)
	require.NoError(t, err)
	rb, err := f.h.join(b, "r", RolePublisher)
	require.NoError(t, err)
	rc, err := f.h.join(c, "other", RolePublisher)
	require.NoError(t, err)
	rs, err := f.h.join(sub, "r", RoleSubscriber)
	require.NoError(t, err)
	_ = rs

	const n = 100
	for i := range n {
		require.NoError(t, f.h.relay(a, rb.ID, jsontext.Value(fmt.Sprintf(`{"n":%d}`, i))))
	}
	for i := range n {
		ev := pb.next(t)
		if ev.Kind != EventSignal {
			ev = pb.next(t) // the subscriber's join
		}
		assert.Equal(t, ra.ID, ev.Peer)
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), string(ev.Payload))
	}
	assert.EqualValues(t, n, f.stats.snapshot().SignalsRelayed)

	tests := []struct {
		name string
		from *session
		to   string
		body string
		want error
	}{
		{"other room", a, rc.ID, `{}`, ErrUnknownPeer},
		{"unknown", a, "nobody", `{}`, ErrUnknownPeer},
		{"self", a, ra.ID, `{}`, ErrBadRequest},
		{"subscriber to itself", sub, rs.ID, `{}`, ErrBadRequest},
		{"subscriber to publisher", sub, ra.ID, `{}`, nil},
		{"too large", a, rb.ID, `"` + string(make([]byte, 40000)) + `"`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.h.relay(tt.from, tt.to, jsontext.Value(tt.body))
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}

	sub2, _ := f.peer()
	rs2, err := f.h.join(sub2, "r", RoleSubscriber)
	require.NoError(t, err)
	assert.ErrorIs(t, f.h.relay(sub, rs2.ID, jsontext.Value(`{}`)), ErrForbidden)

	notJoined, _ := f.peer()
	assert.ErrorIs(t, f.h.relay(notJoined, ra.ID, jsontext.Value(`{}`)), ErrNotJoined)

	// A departed peer is unknown.
	b.finish()
	assert.ErrorIs(t, f.h.relay(a, rb.ID, jsontext.Value(`{}`)), ErrUnknownPeer)
	for _, s := range []*session{a, c, sub, sub2} {
		s.finish()
	}
	for _, s := range []*session{a, b, c, sub, sub2} {
		require.NoError(t, s.flush(context.Background()))
	}
}

func TestHubLimits(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{MaxRooms: 2, MaxPeersPerRoom: 2})
	var all []*session
	join := func(room string) error {
		s, _ := f.peer()
		all = append(all, s)
		_, err := f.h.join(s, room, RolePublisher)
		return err
	}
	require.NoError(t, join("a"))
	require.NoError(t, join("a"))
	assert.ErrorIs(t, join("a"), ErrRoomFull)
	require.NoError(t, join("b"))
	assert.ErrorIs(t, join("c"), ErrTooManyRooms)
	f.h.startShutdown()
	assert.ErrorIs(t, join("b"), ErrShuttingDown)
	for _, s := range all {
		s.finish()
		require.NoError(t, s.flush(context.Background()))
	}
	assert.EqualValues(t, 0, f.stats.snapshot().Rooms)
}

func TestHubUnlimited(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{MaxRooms: -1, MaxPeersPerRoom: -1})
	var all []*session
	for i := range 300 {
		s, _ := f.peer()
		all = append(all, s)
		_, err := f.h.join(s, fmt.Sprint(i%150), RolePublisher)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 150, f.stats.snapshot().Rooms)
	for _, s := range all {
		s.finish()
		require.NoError(t, s.flush(context.Background()))
	}
}

func TestHubSlowConsumer(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{QueueLen: 4})
	a, pa := f.peer()
	b, pb := f.peer()
	pb.block = make(chan struct{}) // b never reads
	_, err := f.h.join(a, "r", RolePublisher)
	require.NoError(t, err)
	rb, err := f.h.join(b, "r", RolePublisher)
	require.NoError(t, err)
	pa.next(t) // b joined

	var err2 error
	for i := 0; i < 10 && err2 == nil; i++ {
		err2 = f.h.relay(a, rb.ID, jsontext.Value(`{}`))
	}
	assert.ErrorIs(t, err2, ErrUnknownPeer)
	ev := pa.next(t)
	assert.Equal(t, EventLeave, ev.Kind)
	assert.Equal(t, ReasonSlow, ev.Reason)
	assert.EqualValues(t, 1, f.stats.snapshot().Errors["slow_consumer"])
	close(pb.block)
	require.NoError(t, b.flush(context.Background()))
	a.finish()
}

func TestHubQueueBytes(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newHubFixture(ServerOptions{QueueBytes: 10000})
	a, _ := f.peer()
	b, pb := f.peer()
	pb.block = make(chan struct{})
	_, err := f.h.join(a, "r", RolePublisher)
	require.NoError(t, err)
	rb, err := f.h.join(b, "r", RolePublisher)
	require.NoError(t, err)
	big := jsontext.Value(`"` + string(make([]byte, 3000)) + `"`)
	var errs []error
	for range 5 {
		errs = append(errs, f.h.relay(a, rb.ID, big))
	}
	assert.ErrorIs(t, errs[len(errs)-1], ErrUnknownPeer)
	close(pb.block)
	require.NoError(t, b.flush(context.Background()))
	a.finish()
	require.NoError(t, a.flush(context.Background()))
}

func TestSessionRateLimit(t *testing.T) {
	f := newHubFixture(ServerOptions{SignalRate: 1, SignalBurst: 3})
	s, _ := f.peer()
	now := time.Unix(100, 0)
	for range 3 {
		require.NoError(t, s.allow(now))
	}
	assert.ErrorIs(t, s.allow(now), ErrRateLimited)
	assert.NoError(t, s.allow(now.Add(time.Second)))
}
