package peer

// State is the life stage of a Conn.
type State int32

const (
	// StateConnecting: offer/answer and ICE are under way.
	StateConnecting State = iota
	// StateConnected: the data channel is open.
	StateConnected
	// StateDisconnected: ICE lost the path; the connection closes with
	// ErrICEDisconnected unless it recovers within DisconnectTimeout.
	StateDisconnected
	// StateClosed: the connection is closed; Err tells why.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	default:
		return "unknown"
	}
}
