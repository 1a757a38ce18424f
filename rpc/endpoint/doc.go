// Package endpoint makes an rpc.Registry reachable by plain JSON-RPC 2.0
// clients (curl, jayson, json-rpc-2.0, any language) over three carriers,
// each optionally under TLS:
//
//   - HTTP: one request or batch per POST body, answered in the response
//     body (Server.ServeHTTP, an http.Handler);
//   - TCP: newline-delimited JSON, one JSON text per line, bidirectional
//     (Server.Serve);
//   - WebSocket: one JSON text per text frame, bidirectional (the same
//     http.Handler upgrades GET requests that ask for it).
//
// Server.Middleware puts the HTTP and WebSocket endpoint in front of an
// application's own handler or mux, on one path (Options.Path).
//
// Over TCP and WebSocket every connection is an rpc.Conn, so the server can
// call the client back (rpc.ConnFromContext in a handler) and many requests
// run at once per connection. Over HTTP each POST is served by a short-lived
// rpc.Conn and answered when its handlers have returned.
//
// Dial returns a Client for any of the carriers, chosen by the URL scheme
// (http, https, tcp, tls, ws, wss), with Call, Notify, CallNamed, a Batch
// builder whose results are matched to calls by id, SendRaw for a message
// already encoded (a batch read from a file), and CallRaw; the generic
// Call[T] returns a typed result from a Client or an rpc.Conn (both are
// Callers). Relay binds a local method name to a method of a remote
// Caller, so a public endpoint can forward to a private one, positional and
// named params alike. Hooks observe every request, response and error on
// every endpoint.
//
// A handler's plain error (not an *rpc.Error) is answered with -32000
// "Server error" rather than its text, which may name files, hosts or
// queries; Options.ExposeErrors sends the text, as a data-channel peer
// does. An *rpc.Error returned on purpose goes out unchanged.
//
// The wire formats are in docs/PROTOCOL.md, section 7.
//
// Concurrency: Server and Client are safe for concurrent use by many
// goroutines; hooks are called outside all locks, possibly concurrently.
package endpoint
