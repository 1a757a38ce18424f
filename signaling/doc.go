// Package signaling is a WebSocket signaling server and its Go client: peers
// join rooms, learn of each other and relay SDP offers, answers and ICE
// candidates. Its API runs on package rpc over a binchannel on a gorilla
// WebSocket; the wire protocol is docs/PROTOCOL.md section 6.
//
// # Server
//
// NewServer returns an http.Handler; mount it anywhere, or run it with
// Serve or ListenAndServe and stop it with Shutdown. Rooms are open unless
// ServerOptions.Secret is set, in which case joins need a token made with
// NewToken (room-scoped, expiring, granting the publisher or subscriber role);
// ServerOptions.Authorize replaces that check with your own. Every resource a
// client controls is bounded (message and payload sizes, request and message
// rates, rooms, peers per room, connections per address, events queued per
// peer) and every refusal is a typed error the client can match with
// errors.Is. Stats returns counters; ServerOptions.Logger receives
// connection-level records (silent by default).
//
// An idle joined connection costs about 7.5 KiB of heap and three parked
// goroutines, all inside package rpc (its reader, its close watcher and one
// idle handler worker), about 17 KiB in all (BenchmarkIdleConnMemory); the
// goroutine that pushes events to a peer runs only while events wait.
//
// # Client
//
// Dial connects; Join enters a room and returns our id and the peers already
// there; Signal sends a JSON payload to one of them; Events delivers joins,
// leaves, signals and the server's shutdown notice in the order the server
// produced them. With ClientOptions.Reconnect the client redials with
// backoff, rejoins its room and reports EventReconnect with its new id.
//
// Typical use by a peer that offers a WebRTC connection:
//
//	c, err := signaling.Dial(ctx, "ws://127.0.0.1:8080/signal", signaling.ClientOptions{})
//	res, err := c.Join(ctx, "room")
//	for _, id := range res.Peers {
//		offer, _ := json.Marshal(pc.LocalDescription())
//		err = c.Signal(ctx, id, offer) // returns once queued for id, in call order
//	}
//	for ev := range c.Events() {
//		switch ev.Kind {
//		case signaling.EventSignal: // ev.Peer sent ev.Payload (answer or candidate)
//		case signaling.EventJoin, signaling.EventLeave:
//		}
//	}
package signaling
