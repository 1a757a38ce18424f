package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// ServerOptions configures a Server. The zero value is a working default:
// open rooms, same-origin and localhost browsers allowed, the limits below.
// A negative limit means unlimited where stated.
type ServerOptions struct {
	// Secret signs and verifies room tokens (see NewToken). Nil: rooms are
	// open and any token is ignored, unless Authorize is set.
	Secret []byte
	// Authorize, if set, decides every join instead of the token check. It
	// returns the role granted; a join that asked for another role is
	// refused with ErrForbidden. Errors it returns should wrap
	// ErrUnauthorized or ErrForbidden; others are reported as ErrForbidden.
	// It may call VerifyToken itself. A connection's requests are served
	// one at a time, so while it runs that connection waits (others do not).
	Authorize func(ctx context.Context, req AuthRequest) (Role, error)

	// AllowedOrigins lists browser origins ("https://app.example:8443") that
	// may connect in addition to the default: requests without an Origin
	// header, same-origin requests and origins on localhost, 127.0.0.1 or
	// [::1]. "*" allows every origin.
	AllowedOrigins []string
	// CheckOrigin, if set, replaces the origin check entirely.
	CheckOrigin func(r *http.Request) bool

	// MaxRooms bounds rooms that exist at once. Default 10000; <0 unlimited.
	MaxRooms int
	// MaxPeersPerRoom bounds members of one room. Default 64; <0 unlimited.
	MaxPeersPerRoom int
	// MaxConnsPerAddr bounds open connections from one remote address (see
	// RemoteAddr). Default 64; <0 unlimited. Excess upgrades get HTTP 429.
	MaxConnsPerAddr int
	// RemoteAddr extracts the address MaxConnsPerAddr counts by. Default:
	// the host part of r.RemoteAddr (set it to read a trusted proxy header).
	RemoteAddr func(r *http.Request) string

	// MaxMessageSize is the largest WebSocket message accepted; a larger
	// one closes the connection (close code 1009). Default 65536.
	MaxMessageSize int
	// MaxPayloadSize bounds one signal's payload in bytes of JSON. Default
	// 32768; must fit in MaxMessageSize with the envelope.
	MaxPayloadSize int
	// SignalRate and SignalBurst are the token bucket every request on a
	// connection draws from; a request over it gets ErrRateLimited.
	// Defaults 20/s and 50.
	SignalRate  rate.Limit
	SignalBurst int
	// MessageRate and MessageBurst bound inbound WebSocket messages of any
	// kind (including malformed ones); a connection over it is closed.
	// Defaults 100/s and 200.
	MessageRate  rate.Limit
	MessageBurst int

	// QueueLen and QueueBytes bound events waiting to be pushed to one peer;
	// a peer that falls further behind is disconnected as a slow consumer.
	// Defaults 256 events and 1 MiB.
	QueueLen   int
	QueueBytes int
	// WriteTimeout bounds pushing one event to a peer. Default 10s.
	WriteTimeout time.Duration

	// PingInterval is the time between WebSocket pings; a connection that
	// sends neither a pong nor any message within PongTimeout of a ping is
	// closed and its room told. Defaults 20s and 10s.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// HandshakeTimeout bounds the WebSocket upgrade. Default 10s.
	HandshakeTimeout time.Duration

	// Logger receives connection-level events (rejections, disconnections)
	// at debug and info levels. Nil: silent.
	Logger *slog.Logger
	// Clock returns the current time for token expiry. Default time.Now.
	Clock func() time.Time
}

// AuthRequest is what ServerOptions.Authorize decides on.
type AuthRequest struct {
	Room       string
	Role       Role   // the role asked for; empty when the client left it out
	Token      string // as sent by the client, possibly empty
	RemoteAddr string
	Origin     string
	Header     http.Header // the upgrade request's headers
}

func (o ServerOptions) withDefaults() ServerOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxRooms, 10000)
	def(&o.MaxPeersPerRoom, 64)
	def(&o.MaxConnsPerAddr, 64)
	def(&o.MaxMessageSize, 65536)
	def(&o.MaxPayloadSize, 32768)
	def(&o.SignalBurst, 50)
	def(&o.MessageBurst, 200)
	def(&o.QueueLen, 256)
	def(&o.QueueBytes, 1<<20)
	if o.SignalRate == 0 {
		o.SignalRate = 20
	}
	if o.MessageRate == 0 {
		o.MessageRate = 100
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&o.WriteTimeout, 10*time.Second)
	dur(&o.PingInterval, 20*time.Second)
	dur(&o.PongTimeout, 10*time.Second)
	dur(&o.HandshakeTimeout, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.RemoteAddr == nil {
		o.RemoteAddr = hostOf
	}
	return o
}

// over reports whether n reaches limit, a negative limit being unlimited.
func over(n, limit int) bool { return limit >= 0 && n >= limit }
