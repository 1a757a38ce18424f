package binchannel

import "errors"

// Sentinel errors. Errors returned or reported by this package wrap one of
// these with %w; check them with errors.Is.
var (
	// ErrClosed is returned by operations on a closed Channel or Pipe end.
	ErrClosed = errors.New("binchannel: closed")
	// ErrMessageTooLarge is returned by a Transport asked to send, or
	// reporting to have received, a message over its maximum size.
	ErrMessageTooLarge = errors.New("binchannel: message too large")
	// ErrMessageSizeTooSmall is returned by SendPacket when the transport's
	// maximum message size leaves no room for data after a header.
	ErrMessageSizeTooSmall = errors.New("binchannel: transport max message size too small")
	// ErrPacketTooLarge is returned by SendPacket for a packet over
	// MaxPacketSize and reported for a received packet that claims more.
	ErrPacketTooLarge = errors.New("binchannel: packet too large")

	// ErrMalformed is wrapped by every receive-side framing error below.
	ErrMalformed = errors.New("binchannel: malformed input")
	// ErrTruncated reports a message shorter than its header.
	ErrTruncated = wrapMalformed("truncated header")
	// ErrUnknownKind reports a message whose kind byte is not defined.
	ErrUnknownKind = wrapMalformed("unknown message kind")
	// ErrUnknownPacket reports a continuation for a packet id that is not
	// being received.
	ErrUnknownPacket = wrapMalformed("chunk for unknown packet")
	// ErrDuplicatePacket reports an OPEN for a packet id already pending.
	ErrDuplicatePacket = wrapMalformed("duplicate packet id")
	// ErrOutOfRange reports a binary index at or beyond the declared count.
	ErrOutOfRange = wrapMalformed("index out of range")
	// ErrDuplicateChunk reports a chunk that repeats bytes already received.
	ErrDuplicateChunk = wrapMalformed("duplicate chunk")
	// ErrOutOfOrder reports a chunk that skips ahead (a gap) or a binary
	// chunk before the skeleton is complete.
	ErrOutOfOrder = wrapMalformed("chunk out of order")
	// ErrLength reports a chunk carrying more bytes than its packet or
	// binary declared, an empty chunk, or totals that change mid-value.
	ErrLength = wrapMalformed("length mismatch")
	// ErrMissingBinary reports a skeleton placeholder naming a binary the
	// packet does not carry, or a malformed placeholder.
	ErrMissingBinary = wrapMalformed("placeholder references a missing binary")
	// ErrTooManyPending reports a new packet refused because
	// MaxPendingPackets or MaxPendingBytes would be exceeded.
	ErrTooManyPending = errors.New("binchannel: too many half-received packets")
	// ErrExpired reports a half-received packet dropped after PendingTTL.
	ErrExpired = errors.New("binchannel: half-received packet expired")
)

type malformedError struct{ msg string }

func (e *malformedError) Error() string { return "binchannel: " + e.msg }
func (e *malformedError) Unwrap() error { return ErrMalformed }
func wrapMalformed(msg string) error    { return &malformedError{msg: msg} }
