package signaling

import "errors"

// Sentinel errors. Errors returned by the Server to a client travel as
// JSON-RPC errors with the code listed in Code; the Go client turns them back
// into errors that match these sentinels with errors.Is.
var (
	// ErrBadRequest reports parameters the server could not accept (missing
	// room, malformed peer id, payload that is not JSON, wrong types).
	ErrBadRequest = errors.New("signaling: bad request")
	// ErrUnauthorized reports a missing, malformed, forged or expired token.
	ErrUnauthorized = errors.New("signaling: unauthorized")
	// ErrForbidden reports a valid token used for another room or role, or a
	// signal a subscriber may not send.
	ErrForbidden = errors.New("signaling: forbidden")
	// ErrUnknownPeer reports a signal addressed to a peer that is not (or no
	// longer) in the sender's room.
	ErrUnknownPeer = errors.New("signaling: unknown peer")
	// ErrNotJoined reports a signal or leave from a connection that has not
	// joined a room.
	ErrNotJoined = errors.New("signaling: not joined")
	// ErrAlreadyJoined reports a second join on the same connection.
	ErrAlreadyJoined = errors.New("signaling: already joined")
	// ErrRoomFull reports a join to a room that has MaxPeersPerRoom members.
	ErrRoomFull = errors.New("signaling: room full")
	// ErrTooManyRooms reports a join that would create a room beyond MaxRooms.
	ErrTooManyRooms = errors.New("signaling: too many rooms")
	// ErrTooLarge reports a signal payload larger than MaxPayloadSize.
	ErrTooLarge = errors.New("signaling: payload too large")
	// ErrRateLimited reports a request over the connection's token bucket.
	ErrRateLimited = errors.New("signaling: rate limited")
	// ErrShuttingDown reports a join refused because the server is stopping.
	ErrShuttingDown = errors.New("signaling: shutting down")
	// ErrClosed reports use of a closed Client or Server.
	ErrClosed = errors.New("signaling: closed")
	// ErrTokenExpired reports a token past its expiry; it also matches
	// ErrUnauthorized.
	ErrTokenExpired = &wrapped{msg: "signaling: token expired", base: ErrUnauthorized}
	// ErrTokenMalformed reports a token that cannot be parsed; it also
	// matches ErrUnauthorized.
	ErrTokenMalformed = &wrapped{msg: "signaling: malformed token", base: ErrUnauthorized}
	// ErrTokenSignature reports a token whose signature does not verify; it
	// also matches ErrUnauthorized.
	ErrTokenSignature = &wrapped{msg: "signaling: bad token signature", base: ErrUnauthorized}
)

// wrapped is a sentinel that also matches a broader sentinel.
type wrapped struct {
	msg  string
	base error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.base }

// Error codes carried in JSON-RPC error objects sent by the Server. They are
// outside the range JSON-RPC reserves (-32768..-32000).
const (
	CodeBadRequest   = 4000
	CodeUnauthorized = 4001
	CodeForbidden    = 4003
	CodeUnknownPeer  = 4004
	CodeNotJoined    = 4005
	CodeAlreadyJoin  = 4009
	CodeTooLarge     = 4013
	CodeRoomFull     = 4020
	CodeTooManyRooms = 4021
	CodeRateLimited  = 4029
	CodeShuttingDown = 5003
)

// errorKinds maps each sentinel to its wire code and the short kind name used
// in Stats.Errors and in the error's data member.
var errorKinds = []struct {
	err  error
	code int
	kind string
}{
	{ErrBadRequest, CodeBadRequest, "bad_request"},
	{ErrForbidden, CodeForbidden, "forbidden"},
	{ErrUnauthorized, CodeUnauthorized, "unauthorized"},
	{ErrUnknownPeer, CodeUnknownPeer, "unknown_peer"},
	{ErrNotJoined, CodeNotJoined, "not_joined"},
	{ErrAlreadyJoined, CodeAlreadyJoin, "already_joined"},
	{ErrTooLarge, CodeTooLarge, "too_large"},
	{ErrRoomFull, CodeRoomFull, "room_full"},
	{ErrTooManyRooms, CodeTooManyRooms, "too_many_rooms"},
	{ErrRateLimited, CodeRateLimited, "rate_limited"},
	{ErrShuttingDown, CodeShuttingDown, "shutting_down"},
}

// classify returns the wire code and kind of err, or ok=false when err is
// none of the sentinels above.
func classify(err error) (code int, kind string, ok bool) {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.code, k.kind, true
		}
	}
	return 0, "", false
}

// sentinelForCode is the inverse of classify, used by the client.
func sentinelForCode(code int) error {
	for _, k := range errorKinds {
		if k.code == code {
			return k.err
		}
	}
	return nil
}
