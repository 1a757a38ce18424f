package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
)

// Caller is the calling side shared by *rpc.Conn and *Client.
type Caller interface {
	Call(ctx context.Context, method string, result any, args ...any) error
	Notify(ctx context.Context, method string, args ...any) error
}

// RawCaller calls with params already encoded and returns the result
// undecoded; *rpc.Conn and *Client implement it. Relay uses it to forward
// params of any shape.
type RawCaller interface {
	CallRaw(ctx context.Context, method string, params jsontext.Value) (jsontext.Value, error)
}

// Call calls method on c, a *Client of any carrier or an *rpc.Conn, and
// returns the result decoded as T: the endpoint form of rpc.Call, for both.
// On an error the zero T is returned with it.
//
//	sum, err := endpoint.Call[int](ctx, client, "add", 40, 2)
func Call[T any](ctx context.Context, c Caller, method string, args ...any) (T, error) {
	var out T
	if err := c.Call(ctx, method, &out, args...); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

var (
	_ Caller    = (*rpc.Conn)(nil)
	_ Caller    = (*Client)(nil)
	_ RawCaller = (*rpc.Conn)(nil)
	_ RawCaller = (*Client)(nil)
)

// Client calls a JSON-RPC server over HTTP, TCP or WebSocket.
//
// Over TCP and WebSocket it runs an rpc.Conn (Conn): the server may call the
// methods of ClientOptions.RPC.Registry (callbacks), and Go funcs may be
// passed as arguments. Over HTTP each Call, Notify and Batch is one POST;
// funcs cannot be passed (ErrNotSupported).
//
// Concurrency: all methods are safe for concurrent use.
type Client struct {
	scheme string
	opts   ClientOptions
	seq    atomic.Uint64

	// TCP and WebSocket.
	conn *rpc.Conn
	cs   *clientStream

	// HTTP.
	url    string
	hc     *http.Client
	ownHTC *http.Transport // closed on Close when we made it
	closed atomic.Bool

	closeOnce sync.Once
}

// Dial returns a Client for rawURL, choosing the carrier by scheme:
// http and https (POST to the URL; nothing is sent until the first call),
// tcp and tls (newline-delimited JSON to host:port), ws and wss (WebSocket
// text frames).
func Dial(ctx context.Context, rawURL string, o ClientOptions) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("endpoint: bad URL: %w", err)
	}
	o = o.withDefaults()
	c := &Client{scheme: u.Scheme, opts: o}
	cfg := lineConfig{max: o.MaxMessageSize, read: o.ReadTimeout, write: o.WriteTimeout}
	switch u.Scheme {
	case "http", "https":
		c.url = rawURL
		c.hc = o.HTTPClient
		if c.hc == nil {
			c.ownHTC = &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				TLSClientConfig:     o.TLSConfig,
				MaxIdleConnsPerHost: 16,
				IdleConnTimeout:     DefaultIdleTimeout,
			}
			c.hc = &http.Client{Transport: c.ownHTC}
		}
		return c, nil
	case "tcp", "tls":
		if u.Host == "" {
			return nil, fmt.Errorf("endpoint: URL %q has no host:port", rawURL)
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, fmt.Errorf("endpoint: dial %s: %w", u.Host, err)
		}
		if u.Scheme == "tls" {
			tc := tls.Client(nc, clientTLS(o.TLSConfig, u.Hostname()))
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = nc.Close()
				return nil, fmt.Errorf("endpoint: tls handshake with %s: %w", u.Host, err)
			}
			nc = tc
		}
		c.start(newLineStream(nc, cfg))
		return c, nil
	case "ws", "wss":
		d := websocket.Dialer{
			TLSClientConfig:  o.TLSConfig,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: DefaultReadTimeout,
		}
		ws, resp, err := d.DialContext(ctx, rawURL, o.Header)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("endpoint: websocket dial %s: %w: %s", rawURL, ErrHTTPStatus, resp.Status)
			}
			return nil, fmt.Errorf("endpoint: websocket dial %s: %w", rawURL, err)
		}
		c.start(newWSStream(ws, cfg))
		return c, nil
	}
	return nil, fmt.Errorf("%w: %q (want http, https, tcp, tls, ws or wss)", ErrScheme, u.Scheme)
}

func clientTLS(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}

func (c *Client) start(s rpcStream) {
	c.cs = newClientStream(s)
	c.conn = rpc.NewWithOptions(rpc.NewStreamTransport(c.cs), c.opts.RPC)
}

// Conn returns the client's rpc.Conn over TCP and WebSocket (to register
// methods the server may call, or watch Done), nil over HTTP.
func (c *Client) Conn() *rpc.Conn { return c.conn }

// Call calls method with positional args and decodes the result into
// result (a pointer, or nil to discard it). A JSON-RPC error from the
// server is returned as *rpc.Error. On every carrier, a call that ctx or
// ClientOptions.RPC.CallTimeout ends fails with an error wrapping
// rpc.ErrTimeout (a deadline) or rpc.ErrCancelled, and the ctx error, as
// an rpc.Conn's calls do.
func (c *Client) Call(ctx context.Context, method string, result any, args ...any) error {
	if c.conn != nil {
		return c.conn.Call(ctx, method, result, args...)
	}
	params, err := encodeArgs(args)
	if err != nil {
		return err
	}
	return c.httpCall(ctx, method, params, result)
}

// CallNamed calls method with named params: params must encode as a JSON
// object (a struct or a map).
func (c *Client) CallNamed(ctx context.Context, method string, result any, params any) error {
	raw, err := encodeNamed(params)
	if err != nil {
		return err
	}
	if c.conn == nil {
		return c.httpCall(ctx, method, raw, result)
	}
	out, err := c.conn.CallRaw(ctx, method, raw)
	if err != nil || result == nil {
		return err
	}
	return decodeResult(method, out, result)
}

// CallRaw calls method with params already encoded (a JSON array, a JSON
// object, or nil for none) and returns the result undecoded. Functions and
// binaries are not processed.
func (c *Client) CallRaw(ctx context.Context, method string, params jsontext.Value) (jsontext.Value, error) {
	if c.conn != nil {
		return c.conn.CallRaw(ctx, method, params)
	}
	if params != nil && (!params.IsValid() || (params.Kind() != '[' && params.Kind() != '{')) {
		return nil, fmt.Errorf("endpoint: raw params must be a JSON array or object")
	}
	var out jsontext.Value
	if err := c.httpCall(ctx, method, params, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Notify sends a notification: the server runs method and answers
// nothing. Over HTTP it returns once the server accepted it (204); it is
// never timed out by ClientOptions.RPC.CallTimeout.
func (c *Client) Notify(ctx context.Context, method string, args ...any) error {
	if c.conn != nil {
		return c.conn.Notify(ctx, method, args...)
	}
	params, err := encodeArgs(args)
	if err != nil {
		return err
	}
	body, err := c.post(ctx, method, rpc.AppendRequest(nil, nil, method, params))
	if err != nil {
		return err
	}
	if len(body) > 0 {
		// A server may answer a notification it could not parse.
		if env, perr := rpc.ParseEnvelope(body, 1); perr == nil && env.Msgs[0].Error != nil {
			return env.Msgs[0].Error
		}
	}
	return nil
}

// Close closes the connection (TCP, WebSocket) or the idle HTTP
// connections, and waits for the client's handlers to return. Calls after
// Close fail.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if c.conn != nil {
			_ = c.conn.Close()
			<-c.conn.Done()
		}
		if c.ownHTC != nil {
			c.ownHTC.CloseIdleConnections()
		}
	})
	return nil
}

// callContext bounds ctx by ClientOptions.RPC.CallTimeout, which an
// rpc.Conn applies to its own calls over TCP and WebSocket.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := c.opts.RPC.CallTimeout; d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// ctxError is the error of a call that its context ended, shaped as an
// rpc.Conn's: it wraps rpc.ErrTimeout for a deadline (a ctx deadline or
// CallTimeout), else rpc.ErrCancelled, and err, the ctx's error.
func ctxError(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", rpc.ErrTimeout, what, err)
	}
	return fmt.Errorf("%w: %s: %w", rpc.ErrCancelled, what, err)
}

// encodeArgs encodes positional args as a JSON array, as an rpc.Conn over
// a JSON-only transport does ([]byte as base64), refusing funcs.
func encodeArgs(args []any) (jsontext.Value, error) {
	out := []byte{'['}
	for i, a := range args {
		if i > 0 {
			out = append(out, ',')
		}
		b, err := encodeValue(a)
		if err != nil {
			return nil, fmt.Errorf("endpoint: argument %d: %w", i, err)
		}
		out = append(out, b...)
	}
	return append(out, ']'), nil
}

func encodeValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return []byte("null"), nil
	case jsontext.Value:
		if !x.IsValid() {
			return nil, errors.New("invalid raw JSON value")
		}
		return x, nil
	case *rpc.Func:
		return nil, fmt.Errorf("%w: a function handle", ErrNotSupported)
	}
	b, err := json.Marshal(v)
	if err != nil {
		if isFunc(v) {
			return nil, fmt.Errorf("%w: a Go func cannot cross HTTP", ErrNotSupported)
		}
		return nil, err
	}
	return b, nil
}

func encodeNamed(params any) (jsontext.Value, error) {
	b, err := encodeValue(params)
	if err != nil {
		return nil, fmt.Errorf("endpoint: named params: %w", err)
	}
	if jsontext.Value(b).Kind() != '{' {
		return nil, fmt.Errorf("endpoint: named params must encode as a JSON object, got %T", params)
	}
	return b, nil
}

func decodeResult(method string, raw jsontext.Value, result any) error {
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("endpoint: decoding result of %s: %w", method, err)
	}
	return nil
}
