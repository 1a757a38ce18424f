package peer

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrClosed reports that the connection was closed locally.
	ErrClosed = errors.New("peer: connection closed")

	// ErrRemoteClosed reports that the other peer closed the data channel
	// or the peer connection.
	ErrRemoteClosed = errors.New("peer: closed by the remote peer")

	// ErrICEFailed reports that ICE could not find or keep a working
	// candidate pair.
	ErrICEFailed = errors.New("peer: ICE failed")

	// ErrICEDisconnected reports that ICE stayed disconnected for longer
	// than Options.DisconnectTimeout.
	ErrICEDisconnected = errors.New("peer: ICE disconnected for longer than the grace period")

	// ErrMessageTooLarge reports a message larger than the negotiated
	// maximum message size.
	ErrMessageTooLarge = errors.New("peer: message larger than the maximum message size")

	// ErrProtocol reports that the other peer broke the rules of section 5
	// of PROTOCOL.md: a malformed signal, a message above the size we
	// advertised, an unexpected data channel.
	ErrProtocol = errors.New("peer: protocol violation")

	// ErrNegotiation reports that the offer/answer exchange failed.
	ErrNegotiation = errors.New("peer: negotiation failed")
)
