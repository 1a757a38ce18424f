package signaling

import (
	"encoding/json"

	"github.com/go-json-experiment/json/jsontext"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds. EventJoin, EventLeave, EventSignal and EventShutdown come from
// the server; EventReconnect is made by a Client that reconnected on its own
// (see ClientOptions.Reconnect).
const (
	EventJoin      EventKind = "join"      // Peer joined the room, with Role
	EventLeave     EventKind = "leave"     // Peer left; Reason says why
	EventSignal    EventKind = "signal"    // Peer sent Payload to us
	EventShutdown  EventKind = "shutdown"  // the server is stopping; the connection closes soon
	EventReconnect EventKind = "reconnect" // the Client rejoined: Peer is our new id, Peers the room
)

// Leave reasons carried by EventLeave.
const (
	ReasonLeft     = "left"     // the peer called leave
	ReasonClosed   = "closed"   // its connection closed
	ReasonTimeout  = "timeout"  // it stopped answering pings
	ReasonSlow     = "slow"     // it fell too far behind reading events
	ReasonShutdown = "shutdown" // the server is stopping
)

// Event is one notification from the signaling server, in the order the
// server produced it for this peer.
type Event struct {
	Kind    EventKind
	Peer    string          // the peer that joined, left or signalled
	Role    Role            // EventJoin: the peer's role
	Payload json.RawMessage // EventSignal: the payload as sent
	Reason  string          // EventLeave: one of the Reason constants
	Peers   []Member        // EventReconnect: the room's members
}

// Member is one peer of a room.
type Member struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// wireEvent is the params object of the signal.event notification.
type wireEvent struct {
	Kind    EventKind      `json:"kind"`
	Seq     uint64         `json:"seq"`
	Peer    string         `json:"peer,omitempty"`
	Role    Role           `json:"role,omitempty"`
	Payload jsontext.Value `json:"payload,omitzero"`
	Reason  string         `json:"reason,omitempty"`
}

// size approximates the bytes ev holds, for queue accounting.
func (ev *wireEvent) size() int { return 64 + len(ev.Peer) + len(ev.Payload) }

// joinParams is the single parameter of signal.join.
type joinParams struct {
	Room  string `json:"room"`
	Role  Role   `json:"role,omitempty"`
	Token string `json:"token,omitempty"`
}

// JoinResult is the result of a join: our id, our role and the peers that
// were in the room before us.
type JoinResult struct {
	ID      string   `json:"id"`
	Room    string   `json:"room"`
	Role    Role     `json:"role"`
	Members []Member `json:"peers"`
	// Peers lists the ids of Members, for convenience (not on the wire).
	Peers []string `json:"-"`
}

// sendParams is the single parameter of signal.send.
type sendParams struct {
	To      string         `json:"to"`
	Payload jsontext.Value `json:"payload"`
}
