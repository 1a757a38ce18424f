package rpc

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (check
// with errors.Is); errors that came from the remote side are *Error values.
var (
	// ErrClosed is returned by calls on a closed Conn and wraps the failure
	// of every call pending when the connection closed. The close cause is
	// wrapped beside it.
	ErrClosed = errors.New("rpc: connection closed")

	// ErrTimeout is returned when a call's timeout (Options.CallTimeout or a
	// ctx deadline) expires before the response arrives.
	ErrTimeout = errors.New("rpc: call timed out")

	// ErrCancelled is returned when a call's ctx is cancelled before the
	// response arrives.
	ErrCancelled = errors.New("rpc: call cancelled")

	// ErrEvicted is returned by a waiting call evicted because the pending
	// bound (Options.MaxPending) was reached, and by calls on a handle whose
	// remote function was evicted.
	ErrEvicted = errors.New("rpc: pending entry evicted")

	// ErrReleased is returned by calls on a handle that was released with
	// Unbind or automatically when the call that delivered it returned.
	ErrReleased = errors.New("rpc: function handle released")

	// ErrBadMethod is returned by Register for a name or function that
	// cannot be registered.
	ErrBadMethod = errors.New("rpc: invalid method")

	// ErrBinaryUnsupported is returned by a JSON-only transport asked to
	// carry raw binary values.
	ErrBinaryUnsupported = errors.New("rpc: transport carries no raw binaries")

	// ErrMessageTooLarge is returned by a JSON stream transport for a
	// message over its size limit.
	ErrMessageTooLarge = errors.New("rpc: message too large")

	// ErrBadEnvelope is wrapped by envelope parse failures.
	ErrBadEnvelope = errors.New("rpc: malformed envelope")
)

// ErrPipeClosed is returned by the ends of NewPipe and NewStreamPipe after
// either end was closed.
var ErrPipeClosed = errors.New("rpc: pipe closed")
