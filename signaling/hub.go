package signaling

import (
	"crypto/rand"
	"fmt"
	"sort"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// hub is the registry of rooms and their members. It is safe for concurrent
// use. Lock order: hub.mu, then room.mu, then session.mu.
type hub struct {
	opts  *ServerOptions
	stats *counters

	mu      sync.Mutex // guards rooms, closing
	rooms   map[string]*room
	closing bool
}

// room is one room. Every event about the room is queued to its members
// while holding room.mu, so all members see the room's events in one order.
type room struct {
	name    string
	mu      sync.Mutex // guards members
	members map[string]member
}

type member struct {
	s    *session
	role Role
}

func newHub(opts *ServerOptions, stats *counters) *hub {
	return &hub{opts: opts, stats: stats, rooms: make(map[string]*room)}
}

// newID returns a fresh random peer id: 16 characters of base64url.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// join adds s to room name with role, tells the other members and returns
// the members that were there before.
func (h *hub) join(s *session, name string, role Role) (JoinResult, error) {
	var slow []*session
	defer func() { killAll(slow, ReasonSlow) }()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return JoinResult{}, ErrShuttingDown
	}
	s.mu.Lock()
	joined, closed := s.room != nil, s.closed
	s.mu.Unlock()
	if closed {
		return JoinResult{}, ErrClosed
	}
	if joined {
		return JoinResult{}, ErrAlreadyJoined
	}
	r := h.rooms[name]
	if r == nil {
		if over(len(h.rooms), h.opts.MaxRooms) {
			return JoinResult{}, ErrTooManyRooms
		}
		r = &room{name: name, members: make(map[string]member)}
		h.rooms[name] = r
		h.stats.rooms.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if over(len(r.members), h.opts.MaxPeersPerRoom) {
		return JoinResult{}, ErrRoomFull
	}
	id := newID()
	res := JoinResult{ID: id, Room: name, Role: role, Members: make([]Member, 0, len(r.members))}
	for mid, m := range r.members {
		res.Members = append(res.Members, Member{ID: mid, Role: m.role})
		if m.s.enqueue(&wireEvent{Kind: EventJoin, Peer: id, Role: role}) == queueFull {
			slow = append(slow, m.s)
		}
	}
	sort.Slice(res.Members, func(i, j int) bool { return res.Members[i].ID < res.Members[j].ID })
	r.members[id] = member{s: s, role: role}
	s.mu.Lock()
	s.id, s.role, s.room = id, role, r
	s.mu.Unlock()
	h.stats.peers.Add(1)
	return res, nil
}

// leave removes s from its room and tells the remaining members why.
func (h *hub) leave(s *session, reason string) error {
	var slow []*session
	defer func() { killAll(slow, ReasonSlow) }()

	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	r, id := s.room, s.id
	s.room, s.id, s.role = nil, "", ""
	s.mu.Unlock()
	if r == nil {
		return ErrNotJoined
	}
	r.mu.Lock()
	delete(r.members, id)
	for _, m := range r.members {
		if m.s.enqueue(&wireEvent{Kind: EventLeave, Peer: id, Reason: reason}) == queueFull {
			slow = append(slow, m.s)
		}
	}
	empty := len(r.members) == 0
	r.mu.Unlock()
	if empty {
		delete(h.rooms, r.name)
		h.stats.rooms.Add(-1)
	}
	h.stats.peers.Add(-1)
	return nil
}

// relay queues payload from s to peer to in the same room.
func (h *hub) relay(s *session, to string, payload jsontext.Value) error {
	if len(payload) > h.opts.MaxPayloadSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), h.opts.MaxPayloadSize)
	}
	s.mu.Lock()
	r, id, role := s.room, s.id, s.role
	s.mu.Unlock()
	if r == nil {
		return ErrNotJoined
	}
	if to == id {
		return fmt.Errorf("%w: a peer cannot signal itself", ErrBadRequest)
	}
	r.mu.Lock()
	if r.members[id].s != s {
		r.mu.Unlock()
		return ErrNotJoined
	}
	dst, ok := r.members[to]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q is not in room %q", ErrUnknownPeer, to, r.name)
	}
	if role == RoleSubscriber && dst.role != RolePublisher {
		r.mu.Unlock()
		return fmt.Errorf("%w: a subscriber may signal publishers only", ErrForbidden)
	}
	res := dst.s.enqueue(&wireEvent{Kind: EventSignal, Peer: id, Payload: payload})
	r.mu.Unlock()
	switch res {
	case queueFull:
		dst.s.kill(ReasonSlow)
		return fmt.Errorf("%w: %q fell behind and was disconnected", ErrUnknownPeer, to)
	case queueClosed:
		return fmt.Errorf("%w: %q is leaving", ErrUnknownPeer, to)
	}
	h.stats.signals.Add(1)
	return nil
}

// startShutdown refuses every later join.
func (h *hub) startShutdown() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
}

func killAll(ss []*session, reason string) {
	for _, s := range ss {
		s.kill(reason)
	}
}
