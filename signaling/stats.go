package signaling

import (
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Connections      int64  // WebSocket connections open now
	ConnectionsTotal uint64 // connections accepted since start
	Rooms            int64  // rooms that exist now
	Peers            int64  // peers joined to a room now
	SignalsRelayed   uint64 // signals accepted and queued to their recipient
	// Errors counts errors by kind: the kinds of the error codes
	// ("bad_request", "unauthorized", "forbidden", "unknown_peer",
	// "not_joined", "already_joined", "too_large", "room_full",
	// "too_many_rooms", "rate_limited", "shutting_down") and connection-level
	// ones ("origin", "conn_limit", "upgrade", "flood", "timeout",
	// "slow_consumer", "malformed" for frames the binchannel layer dropped,
	// "protocol" for problems the rpc layer reported).
	Errors map[string]uint64
}

// counters holds a Server's live counters.
type counters struct {
	conns, connsTotal, rooms, peers, signals atomic.Int64

	mu     sync.Mutex // guards errors
	errors map[string]uint64
}

func (c *counters) addError(kind string) {
	c.mu.Lock()
	if c.errors == nil {
		c.errors = make(map[string]uint64)
	}
	c.errors[kind]++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Connections:      c.conns.Load(),
		ConnectionsTotal: uint64(c.connsTotal.Load()),
		Rooms:            c.rooms.Load(),
		Peers:            c.peers.Load(),
		SignalsRelayed:   uint64(c.signals.Load()),
		Errors:           make(map[string]uint64),
	}
	c.mu.Lock()
	for k, v := range c.errors {
		s.Errors[k] = v
	}
	c.mu.Unlock()
	return s
}
