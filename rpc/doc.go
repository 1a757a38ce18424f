// Package rpc is a bidirectional RPC pair on a JSON-RPC 2.0 envelope: both
// ends of a connection register local functions and call the other's, pass
// functions as arguments and get functions back, and carry binary values raw
// when running over a binchannel.
//
// # Connections
//
// A Conn runs over a Transport that moves packets: a *binchannel.Channel
// (binary values travel as raw parts), or a plain JSON message stream
// adapted with NewStreamTransport (binary values travel as base64 strings).
// NewPipe gives an in-memory JSON pair for tests. Both ends are equal:
//
//	conn := rpc.New(binchannel.New(t))
//	defer conn.Close()
//	conn.Register("add", func(x, y int) int { return x + y }, "x", "y")
//	sum, err := rpc.Call[int](ctx, conn, "add", 2, 3)
//
// Conn.Call, CallNamed (named params) and Notify send one message each;
// Conn.Batch sends several calls and notifications as one JSON-RPC batch,
// matching the answers by id, as the JSON-RPC clients of rpc/endpoint do.
//
// # Handlers
//
// Any Go func is a handler when its parameters are an optional leading
// context.Context followed by JSON-decodable values, and its results at most
// one JSON-encodable value followed by an optional error. Register takes one
// function, RegisterService every exported method of a value as
// "namespace.method"; NewMethod with Method.WithDefaults and RegisterMethod
// declare default values for params a call leaves out. A shared Registry
// (Options.Registry) serves many Conns, and Registry.SetRouter resolves
// names at call time. NewRawMethod (with Registry.RegisterMethod) takes the
// params undecoded, as sent, to forward calls of any shape. Names starting
// with "_" are private and never callable; "rpc." names are the protocol's.
//
// A handler's ctx carries its Conn (ConnFromContext), so it can call the
// other side back, and is cancelled when the caller gives up (rpc.cancel),
// when the handler returns, or when the Conn closes. It carries no other
// values, and contexts derived from it need no goroutine of their own.
// Per-connection session values live in Conn.SetValue and
// Conn.Value. A handler's error reaches the caller as *Error: a returned
// *Error keeps its code, message and data; any other error becomes code
// -32000 with the error's text (or "Server error" under
// Options.HideErrors, for servers open to any client); a panic becomes
// -32603 without details unless Options.ExposeDetails.
//
// # Functions across the wire
//
// A Go func passed as an argument is stored by the caller and arrives on the
// other side as a *Func handle, or as a stub of the handler parameter's func
// type. It is released on both sides when the call returns, unless the
// handler calls Func.Keep (a subscription); a kept handle lives until
// Func.Unbind or close. A handler may return a func; the caller receives a
// *Func that lives until Unbind or close, or a stub when the result is of a
// func type, released by Unbind or once the stub is unreachable. FuncOf
// returns the *Func behind a stub (to keep or release it), and Unbind
// releases it. Options.NestedFuncs allows funcs inside structs, maps and
// slices. Conn.Stats reports waiting calls, stored functions and live
// handles; Options.MaxPending bounds the first two, evicting the oldest
// (the peer is told, and drops its handles to evicted functions).
//
// # Errors, timeouts and close
//
// Call fails with a *Error from the peer, or with an error wrapping
// ErrTimeout or ErrCancelled (and the ctx error) when ctx or
// Options.CallTimeout ends the wait, in which case the peer is told with
// rpc.cancel; or wrapping ErrClosed and the cause when the Conn closes, which
// fails every waiting call at once. Calls after close fail at once.
//
// Every message a Conn has read is handled, even when the peer closes right
// after sending it: its handler runs, with its ctx already cancelled if the
// Conn has shut down meanwhile. A response that can no longer be sent is
// dropped; the caller fails with ErrClosed because the transport is gone.
//
// # Concurrency
//
// Every Conn, Registry and Func method is safe for concurrent use. One
// goroutine per Conn reads the transport at a time; handlers run at most
// Options.MaxConcurrency at once per Conn with at most Options.MaxQueue
// requests waiting, holding at most Options.MaxQueueBytes of messages,
// beyond which requests are answered with CodeOverloaded at once. When a slot is free the reading goroutine runs the
// handler itself and reads on once it returns; a handler that runs for more
// than a few tens of microseconds, or that calls the peer through its Conn,
// hands reading to another goroutine, so a blocked handler never stops the
// Conn from reading. A handler that calls the peer and waits holds its slot
// while it waits: two peers that fill each other's slots with such handlers
// wait on each other, so size MaxConcurrency for the nesting you use.
//
// The wire format is specified in sections 3 and 4 of docs/PROTOCOL.md.
package rpc
