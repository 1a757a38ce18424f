// Package peer connects two peers with a Pion WebRTC data channel, found
// through a signaling server, and carries binchannel and rpc over it. It is
// the only package of peerd that imports Pion.
//
// # Use
//
//	l, err := peer.Listen(ctx, "ws://host/signal", "room", peer.Options{})
//	c, err := l.Accept(ctx)                  // one Conn per dialer
//	c.RPC().Register("add", func(a, b int) int { return a + b })
//
//	c, err := peer.Dial(ctx, "ws://host/signal", "room", peer.Options{})
//	sum, err := rpc.Call[int](ctx, c.RPC(), "add", 2, 3)
//
// Pair connects two peers inside one process without signaling (tests,
// benchmarks). NewAPI returns the tuned Pion API for callers that build
// their own PeerConnections. The wire side (roles, data channel, signal
// payloads, max-message-size, closing) is section 5 of docs/PROTOCOL.md.
//
// # Concurrency and lifetime
//
// Every method of Conn and Listener is safe from any goroutine. A Conn
// closes exactly once: by Close/Shutdown (which first drain what is queued),
// by closing its rpc.Conn, or on failure: ICE failed (ErrICEFailed), ICE
// disconnected beyond Options.DisconnectTimeout (ErrICEDisconnected), the
// remote closing the channel or the peer connection (ErrRemoteClosed), or a
// protocol violation (ErrProtocol). Every rpc call pending then fails with an
// error wrapping rpc.ErrClosed and that cause. Done is closed once every
// goroutine the Conn started has ended (rpc handlers included: they see
// their context cancelled); Err reports the cause.
//
// # The data channel transport
//
// The channel is reliable and ordered. Each binchannel message is one data
// channel message: WriteMessage joins its parts in a pooled buffer (Pion
// copies the payload into SCTP chunks before returning, so the buffer is
// reused at once) and waits, bounded by its ctx, while more than
// Options.HighWatermark bytes are queued, resuming at LowWatermark through
// Pion's OnBufferedAmountLow. ReadMessage returns each message in a fresh
// buffer: a message that fills at least half the read buffer takes it
// without a copy, a smaller one is copied out.
//
// Receiving uses a detached data channel (SettingEngine.DetachDataChannels
// and DataChannel.Detach), read in the caller's goroutine, with ctx and
// Close reaching a blocked read through the read deadline. It was measured
// against Pion's OnMessage callback feeding a channel (BenchmarkReceiveMode,
// one process; BenchmarkTwoProcess config "onmessage"): detached was as fast
// or faster (one process, 64 KiB: 74 vs 69 MB/s; two processes, medians of
// 5: 57 vs 54 MB/s at 64 KiB, 56 vs 45 MB/s at 256 KiB) and used less CPU
// per byte (22.7 vs 24.6 core-ms/MB), since no goroutine hand-off sits
// between Pion and the reader.
//
// The largest message follows the negotiation: the remote SDP's
// a=max-message-size (absent: 65535; 0: no limit of its own), capped by
// Options.MaxMessageSize (256 KiB, at most a quarter of the SCTP receive
// buffer), because a single message larger than the receiver's SCTP
// receive buffer stalls forever in Pion instead of failing.
//
// # Tuned defaults and their measurements
//
// Measured on a 2-core VM over loopback with Pion v4.2.20, sender and
// receiver in two processes (the test binary re-executes itself:
// go test -run '^$' -bench TwoProcess -benchtime 1x -count 5 ./peer/),
// 64 MiB per configuration, all configurations interleaved in each run;
// medians of 5 runs, MB/s and CPU (both processes) per MB:
//
//	configuration                       64 KiB msgs      256 KiB msgs
//	Pion defaults (flow control as in    29 MB/s, 32.0    25 MB/s, 33.7
//	  Pion's example: 1 MiB / 512 KiB)
//	peerd defaults                       57 MB/s, 22.7    56 MB/s, 24.9
//	  without the UDP buffers            29 MB/s, 30.1    27 MB/s, 32.1
//	  with SCTP RTO max 100 ms           46 MB/s, 24.0    40 MB/s, 25.1
//	  with SCTP receive buffer 4 MiB     68 MB/s, 22.7    34 MB/s, 25.4
//	  with 1 MiB / 512 KiB watermarks    41 MB/s, 25.5    63 MB/s, 25.6
//
// The machine is shared and noisy (single runs vary by 2x), so only
// large, consistent differences decide a default:
//
//   - UDPBufferSize 4 MiB (requested for every ICE socket through a wrapped
//     transport.Net; Linux grants up to net.core.rmem_max, then doubles):
//     the one clear lever. Without it the kernel drops datagrams when the
//     default ~208 KiB socket buffer fills, each drop halves SCTP's
//     congestion window, and throughput falls to the Pion baseline with
//     30% more CPU per byte. Each PeerConnection owns its sockets, so they
//     close with it (a shared ICE UDP mux would outlive connections).
//   - HighWatermark/LowWatermark 4 MiB / 2 MiB: no consistent difference
//     against 1 MiB / 512 KiB here; kept larger so a longer-delay path can
//     keep more in flight. Memory per connection stays bounded by it.
//   - SCTP RTO max: Pion's default kept; a 100 ms cap was not faster here
//     and risks spurious retransmissions on real paths with longer RTTs.
//   - SCTP receive buffer: Pion's 1 MiB kept; 4 MiB was not consistently
//     better and the message-size cap is derived from it.
//   - mDNS off, no STUN unless Options.ICEServers: nothing is sent beyond
//     the candidates of Options.Network.
//
// Together the defaults move 1.8x (64 KiB) to 2.2x (256 KiB) the bytes of
// a default-configured Pion channel per second across two processes, with
// about 30% less CPU per byte.
package peer
