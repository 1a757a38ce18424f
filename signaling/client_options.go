package signaling

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// ClientOptions configures Dial. The zero value is a working default.
type ClientOptions struct {
	// Header is sent with the WebSocket upgrade (an Origin, a cookie).
	Header http.Header
	// Dialer makes the WebSocket connection. Default: a dialer with small
	// buffers and a 10 s handshake timeout.
	Dialer *websocket.Dialer

	// Token and Role are sent with Join. Token is required when the server
	// has a secret; Role empty means "what the token grants" (publisher in
	// an open room).
	Token string
	Role  Role

	// MaxMessageSize is the largest WebSocket message accepted from the
	// server and sent to it (keep it equal to the server's). Default 65536.
	MaxMessageSize int
	// EventBuffer bounds events received and not yet read from Events; a
	// reader further behind loses the connection (as the server would drop
	// it anyway). Default 1024.
	EventBuffer int
	// PingInterval and PongTimeout make the client ping the server and
	// close the connection when it stops answering. Defaults 20s and 10s;
	// a negative PingInterval disables client pings (the server's pings
	// are always answered).
	PingInterval time.Duration
	PongTimeout  time.Duration

	// Reconnect makes the client redial after it loses the connection
	// (not after Close or a refused upgrade), with exponential backoff from
	// ReconnectMin (default 250ms) to ReconnectMax (default 10s), at most
	// ReconnectAttempts times in a row (0: until Close). After a reconnect
	// the client rejoins its room and emits EventReconnect with its new id.
	// It gives up at once when the origin, token or role is refused. While
	// it reconnects, calls fail with errors matching ErrClosed.
	Reconnect         bool
	ReconnectMin      time.Duration
	ReconnectMax      time.Duration
	ReconnectAttempts int

	// Logger receives reconnect attempts and dropped events. Nil: silent.
	Logger *slog.Logger
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  4096,
			WriteBufferPool:  writeBufferPool,
		}
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 65536
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 1024
	}
	if o.PingInterval == 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = 10 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 250 * time.Millisecond
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
