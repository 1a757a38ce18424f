package endpoint

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (check
// with errors.Is); errors reported by the remote JSON-RPC server are
// *rpc.Error values.
var (
	// ErrMessageTooLarge is returned for a line, frame or body over the
	// configured size limit.
	ErrMessageTooLarge = errors.New("endpoint: message too large")

	// ErrClosed is returned by operations on a closed Client, Server or
	// stream.
	ErrClosed = errors.New("endpoint: closed")

	// ErrScheme is returned by Dial for a URL scheme it does not know.
	ErrScheme = errors.New("endpoint: unsupported URL scheme")

	// ErrHTTPStatus is wrapped by client errors for an HTTP answer that
	// carries no JSON-RPC response (a status other than 200 and 204).
	ErrHTTPStatus = errors.New("endpoint: unexpected HTTP status")

	// ErrBadResponse is returned when a server's answer is not the
	// JSON-RPC response that was expected.
	ErrBadResponse = errors.New("endpoint: malformed response")

	// ErrNotSupported is returned for an operation the carrier cannot do,
	// such as passing a Go func as an argument over HTTP.
	ErrNotSupported = errors.New("endpoint: not supported over this carrier")

	// ErrTextOnly is reported when a WebSocket peer sends a binary frame.
	ErrTextOnly = errors.New("endpoint: websocket carries text frames only")
)
