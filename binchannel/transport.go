package binchannel

import "context"

// Transport is the lower edge of a Channel: a reliable, ordered carrier of
// whole binary messages with a maximum message size. A WebRTC data channel,
// a WebSocket connection and the in-memory Pipe all satisfy it.
//
// Concurrency: a Channel calls WriteMessage from one goroutine at a time and
// ReadMessage from one goroutine at a time; the two may run concurrently.
// MaxMessageSize may be called from any goroutine at any time. Close may be
// called from any goroutine and unblocks both.
type Transport interface {
	// WriteMessage sends one message whose content is the concatenation of
	// parts, in order, keeping message boundaries. It may block while the
	// transport applies backpressure, until ctx is done. The transport may
	// hand the parts' backing arrays to the receiver without copying, and
	// may keep the parts slice itself, so the caller must modify neither
	// afterwards. A Transport must not modify the parts.
	WriteMessage(ctx context.Context, parts ...[]byte) error

	// ReadMessage returns the next message as one or more parts whose
	// concatenation is the message. The returned slices belong to the
	// caller; the transport never reuses them.
	ReadMessage(ctx context.Context) ([][]byte, error)

	// MaxMessageSize reports the largest message, in bytes, that the other
	// side accepts. It may change over the transport's life (for example
	// after negotiation), so callers read it before each send.
	MaxMessageSize() int

	// Close releases the transport; pending and later reads and writes fail.
	Close() error
}
