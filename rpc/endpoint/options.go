package endpoint

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/peerd/peerd/rpc"
)

// Defaults of Options and ClientOptions.
const (
	DefaultMaxMessageSize    = 1 << 20
	DefaultClientMaxMessage  = 16 << 20
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultMaxConns          = 1000
	DefaultMaxHTTPRequests   = 64
	DefaultHTTPQueueTimeout  = 5 * time.Second
)

// Options configures a Server. The zero value is the default for every
// field.
type Options struct {
	// RPC configures the rpc.Conn serving each TCP and WebSocket connection
	// and each HTTP request. Its Registry field is replaced by the
	// Server's registry. Its limits (MaxConcurrency, MaxQueue,
	// MaxQueueBytes, MaxBatch) apply per connection and per HTTP request. Its HideErrors is turned
	// on unless ExposeErrors is set; its ExposeDetails stays off unless
	// set.
	RPC rpc.Options
	// ExposeErrors sends a handler's plain error (one that is not, and
	// does not wrap, an *rpc.Error) to the client with its own text, as a
	// data-channel peer does. Default off: such an error is answered with
	// -32000 and the message "Server error" (rpc.Options.HideErrors on
	// every Conn the Server runs), because its text may name files, hosts
	// or queries, and a network endpoint answers any client. An *rpc.Error
	// a handler returns on purpose, and the rpc package's own errors
	// (invalid params, method not found, ...), go out unchanged either
	// way. It is the counterpart of RPC.ExposeDetails, which adds a
	// panic's value and stack and an error's Go type and is also off by
	// default; RPC.HideErrors set to true hides the text whatever
	// ExposeErrors says.
	ExposeErrors bool

	// MaxMessageSize bounds one incoming message: a TCP line (without its
	// newline), a WebSocket frame, an HTTP body. Default 1 MiB.
	MaxMessageSize int
	// IdleTimeout bounds the wait for the first byte of the next message
	// on a TCP or WebSocket connection (and the idle time between HTTP
	// requests on a server started by ServeHTTP). Default 5 minutes; < 0
	// disables it.
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of one message once its first byte
	// arrived (TCP line, WebSocket frame, HTTP body), against slow-loris
	// clients. Default 30 seconds; < 0 disables it.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of one message (an HTTP response on
	// a server started by ServeHTTP). Default 30 seconds; < 0 disables it.
	WriteTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of an HTTP request's headers
	// on a server started by ServeHTTP (a Handler mounted in your own
	// http.Server uses your server's settings). Default 10 seconds.
	ReadHeaderTimeout time.Duration
	// TLSConfig, when set, makes Serve and ServeHTTP speak TLS on their
	// listener. It must hold a certificate (Certificates or
	// GetCertificate).
	TLSConfig *tls.Config

	// MaxConns bounds the TCP plus WebSocket connections served at once.
	// Past it a connection Serve accepted waits for one to end (and no
	// other is accepted meanwhile), and WebSocket upgrades are refused
	// with 503. Default 1000.
	MaxConns int
	// MaxHTTPRequests bounds the HTTP POSTs served at once, from reading
	// the body to writing the answer, so that at most this many bodies
	// (each up to MaxMessageSize) are in memory together; HTTP requests
	// are not connections and MaxConns does not count them. Default 64.
	MaxHTTPRequests int
	// HTTPQueueTimeout is how long a POST past MaxHTTPRequests waits for
	// a slot, its body unread, before it is answered 503 with Retry-After.
	// Default 5 seconds; < 0 answers 503 at once.
	HTTPQueueTimeout time.Duration
	// DisableWebSocket makes the Handler refuse WebSocket upgrades (the
	// GET is then answered with the description).
	DisableWebSocket bool
	// CheckOrigin decides whether a WebSocket upgrade from a browser page
	// is allowed. Default: the Origin header, when present, must match
	// the request's Host.
	CheckOrigin func(r *http.Request) bool

	// Name is the "name" in the GET description. Default "peerd".
	Name string
	// Path is the URL path Server.Middleware serves JSON-RPC on, matched
	// exactly. Default "/rpc". ServeHTTP answers on any path it is
	// mounted at and ignores it.
	Path string

	// Hooks observe requests, responses and errors on every endpoint.
	Hooks Hooks
}

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout)
	o.ReadTimeout = orDefault(o.ReadTimeout, DefaultReadTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxHTTPRequests <= 0 {
		o.MaxHTTPRequests = DefaultMaxHTTPRequests
	}
	o.HTTPQueueTimeout = orDefault(o.HTTPQueueTimeout, DefaultHTTPQueueTimeout)
	if o.Name == "" {
		o.Name = "peerd"
	}
	if o.Path == "" {
		o.Path = "/rpc"
	}
	return o
}

// orDefault maps 0 to def and a negative duration to 0 (disabled).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// ClientOptions configures Dial. The zero value is the default for every
// field.
type ClientOptions struct {
	// RPC configures the client's rpc.Conn over TCP and WebSocket: put
	// the methods the server may call back in RPC.Registry (or register
	// them on Client.Conn). Its CallTimeout bounds the calls of every
	// carrier (Call, CallNamed, CallRaw, and Batch.Send and SendRaw when
	// they hold a call; not Notify); over HTTP the other fields are
	// unused.
	RPC rpc.Options
	// TLSConfig is used for https, tls and wss URLs. Default: the system
	// roots and the URL's host name.
	TLSConfig *tls.Config
	// MaxMessageSize bounds one incoming response (line, frame or body).
	// Default 16 MiB.
	MaxMessageSize int
	// ReadTimeout bounds the reading of one message once its first byte
	// arrived (TCP, WebSocket). Default 30 seconds; < 0 disables it.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of one message (TCP, WebSocket).
	// Default 30 seconds; < 0 disables it.
	WriteTimeout time.Duration
	// HTTPClient sends the POSTs of an http or https Client. Default: a
	// client of its own using TLSConfig.
	HTTPClient *http.Client
	// Header holds extra headers for HTTP requests and the WebSocket
	// handshake (Authorization, for instance).
	Header http.Header
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultClientMaxMessage
	}
	o.ReadTimeout = orDefault(o.ReadTimeout, DefaultReadTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	return o
}
