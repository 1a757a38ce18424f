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
// their context cancelled); Err reports the cause. Close and Shutdown
// return once the connection is closed without waiting for handlers still
// running, so a handler may close its own connection.
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
// against Pion's OnMessage callback feeding the reader through a channel
// (BenchmarkReceiveMode, one process, the two alternated within each run;
// BenchmarkTwoProcess configuration "onmessage"). In one process the
// detached/OnMessage throughput ratio had a median of 1.06 (64 KiB) and
// 1.07 (256 KiB) over 4 runs, at equal CPU per byte (21.0 vs 22.3 and 21.3
// vs 20.4 core-ms/MB); across two processes the two were within the noise
// of the shared machine. Detached is kept: never slower in matched runs, no
// goroutine hand-off between Pion and the reader, and a read that waits is
// bounded by its ctx while unread data holds back the SCTP window.
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
// receiver in two processes (the test binary re-executes itself as the
// receiver), every configuration started afresh and all of them
// interleaved in each run; MB/s, CPU of both processes per MB, and UDP
// datagrams the kernel dropped for a full socket buffer (host-wide
// RcvbufErrors):
//
//	go test -run '^$' -bench TwoProcess -benchtime 1x -count 5 ./peer/
//
// Run A: 64 MiB per configuration, medians of 5 runs, machine lightly
// shared.
//
//	configuration                      64 KiB msgs      256 KiB msgs
//	Pion defaults (flow control as     29 MB/s, 32.0    25 MB/s, 33.7
//	  in Pion's example: 1 MiB/512 KiB)
//	peerd defaults                     57 MB/s, 22.7    56 MB/s, 24.9
//	  without the UDP buffers          29 MB/s, 30.1    27 MB/s, 32.1
//	  with SCTP RTO max 100 ms         46 MB/s, 24.0    40 MB/s, 25.1
//	  with SCTP receive buffer 4 MiB   68 MB/s, 22.7    34 MB/s, 25.4
//	  with 1 MiB/512 KiB watermarks    41 MB/s, 25.5    63 MB/s, 25.6
//	  receiving through OnMessage      54 MB/s, 24.6    45 MB/s, 24.8
//
// Run B: 48 MiB per configuration, medians of 6 runs, machine heavily
// loaded by other work (load average 7-10 on 2 cores), so throughput is
// mostly the scheduler's; the drop counts and CPU per byte still separate
// the configurations:
//
//	configuration                      64 KiB msgs            256 KiB msgs
//	Pion defaults                      16 MB/s, 34.1, 315 dr  18 MB/s, 34.7, 336 dr
//	peerd defaults                     22 MB/s, 27.1, 0 dr    37 MB/s, 26.4, 0 dr
//	  without the UDP buffers          19 MB/s, 32.5, 237 dr  19 MB/s, 32.0, 226 dr
//	  every other variant              21-28 MB/s, 27-28, 0   31-40 MB/s, 25-26, 0
//
// Run C: as run A (64 MiB, 5 runs) under load average 3-7:
//
//	configuration                      64 KiB msgs            256 KiB msgs
//	Pion defaults                      19 MB/s, 34.5, 203 dr  21 MB/s, 33.1, 382 dr
//	peerd defaults                     38 MB/s, 23.0, 0 dr    49 MB/s, 24.2, 0 dr
//	  without the UDP buffers          21 MB/s, 30.5, 331 dr  30 MB/s, 30.3, 412 dr
//	  with SCTP RTO max 100 ms         29 MB/s, 24.5          44 MB/s, 24.0
//	  with SCTP receive buffer 4 MiB   48 MB/s, 23.9          45 MB/s, 24.5
//	  with 1 MiB/512 KiB watermarks    35 MB/s, 24.6          41 MB/s, 24.9
//	  receiving through OnMessage      38 MB/s, 23.4          34 MB/s, 26.3
//
// Per-run ratio peerd/Pion defaults, median: 1.82 (64 KiB) and 2.22
// (256 KiB) in run A, 1.21 and 2.30 in run B, 2.26 and 2.62 in run C; CPU
// per byte 21-33% lower in every run. Each default and why:
//
//   - UDPBufferSize 4 MiB, requested on every ICE socket through a wrapped
//     transport.Net (Linux grants up to net.core.rmem_max, then doubles):
//     the one clear lever. With the system default (~208 KiB) the kernel
//     drops hundreds of datagrams per 48-64 MiB, each drop costs a
//     retransmission and halves SCTP's congestion window, and throughput
//     falls to the Pion baseline with about 30% more CPU per byte. Every
//     configuration with the larger buffers dropped nothing. Each
//     PeerConnection owns its sockets, so they close with it (a shared ICE
//     UDP mux would outlive the connections).
//   - HighWatermark/LowWatermark 4 MiB / 2 MiB: no consistent difference
//     against 1 MiB / 512 KiB on loopback; kept larger so a path with more
//     delay can keep more in flight. Memory queued per connection stays
//     bounded by the high watermark plus one message.
//   - SCTP RTO max: Pion's default kept; a 100 ms cap was not faster here
//     and risks spurious retransmissions on paths with longer round trips.
//     Where datagrams are lost it does help: downloads to Chromium, whose
//     UDP socket (128 KiB receive buffer) overflows under Pion's unpaced
//     windows, stall for Pion's 1 s minimum RTO after a tail loss; a 100
//     or 300 ms cap removed those stalls (slowest of 5 runs 25-31 MB/s
//     against 16-20) without moving the median (docs/BENCHMARKS.md). A
//     program that knows its paths are short can set SCTPRTOMax.
//   - SCTP receive buffer: Pion's 1 MiB kept; 4 MiB was not consistently
//     better, and the message-size cap is derived from it.
//   - SCTP congestion window (SCTPMinCwnd, SCTPCwndCAStep,
//     SCTPFastRtxWnd): Pion's kept. Run D, 64 MiB per configuration, 6
//     runs, load average 1-3 (PEERD_TWOPROC_ONLY=min-cwnd-128K,
//     ca-step-16mtu,fast-rtx-64K): against peerd's defaults at 65.8 and
//     73.1 MB/s (64 and 256 KiB messages), a 128 KiB floor gave 1.07x and
//     1.00x, a 16-MTU avoidance step 1.06x and 0.87x, a 64 KiB fast
//     retransmission window 1.10x and 0.99x, CPU per byte alike (23.5-25.1
//     ms/MB). With the larger UDP buffers nothing is dropped, so the window
//     settings have nothing to recover from, and both processes together
//     spend about 1.7 of the 2 cores (24 ms/MB at 70 MB/s): the channel is
//     CPU-bound here, not window-bound. The options stay for paths with
//     real loss.
//   - MaxMessageSize 256 KiB: Chrome's limit, a quarter of the 1 MiB SCTP
//     receive buffer of Pion and browsers (larger messages risk the stall
//     described above); throughput at 64 KiB and 256 KiB messages is alike.
//     Run E (PEERD_TWOPROC_ONLY=msg-64K,msg-32K,msg-16K, 3 runs, load
//     average about 3): payloads written as messages of at most 64, 32 or
//     16 KiB moved 59-74, 66-71 and 62-70 MB/s against 58-68 MB/s with
//     peerd's defaults, CPU per byte alike (23.5-27.1 ms/MB): between Go peers the
//     message size does not matter. From Chromium it does, which is why
//     the browser client sends 32 KiB messages (docs/BENCHMARKS.md).
//   - SCTP zero checksum (RFC 9653, SettingEngine.EnableSCTPZeroChecksum,
//     negotiated by both sides): off. Run F (zero-checksum, 4 runs): 66-78
//     MB/s against 59-79 with peerd's defaults, CPU per byte alike
//     (22.4-25.7 ms/MB); CRC32c is about 2% of a profile.
//
// What remains is Pion's cost per ~1.2 KB packet, and about a sixth of it
// is the garbage collector: Pion allocates for every packet while the live
// heap stays at a few MB, so with GOGC=100 each process collects dozens of
// times a second. The collector's setting belongs to the program, not to a
// connection, so it is not in Options: TuneGC(DefaultGCBudget) lets the
// heap reach 24 MiB before collecting, and the peerd command runs with it.
// `go run ./bench -suites twoproc -cases "pion raw" -reps 4`: raw tuned
// with both processes under the budget moved 88.4 and 87.9 MB/s (64 and
// 256 KiB payloads) against 73.6 and 76.2 without (1.20x, 1.15x), at 19.6
// and 19.8 against 23.6 and 23.1 CPU ms/MB; the default channel in the
// same run moved 38.0 and 50.7 MB/s. BenchmarkTwoProcess
// (gc-budget-24M, 4 runs): 83-96 against 71-77 MB/s at 64 KiB, 68-79
// against 58-77 at 256 KiB, 17.5-20.9 against 22.3-24.4 ms/MB.
//   - mDNS off, no STUN unless Options.ICEServers: nothing leaves the host
//     beyond the candidates of Options.Network.
//
// One process (go test -run '^$' -bench 'TunedVsDefault|Binchannel|
// RoundTrip' ./peer/), run B conditions, medians of per-run ratios: peerd
// defaults move 3.0x (64 KiB) and 2.3x (256 KiB) the bytes of a
// default-configured Pion channel at 5-8% less CPU per byte; binchannel
// over the channel reaches 0.92x (64 KiB) and 0.93x (256 KiB) of raw
// data-channel writes with identical settings (peerd and binchannel code
// is about 3% of the CPU profile, the rest is Pion and the runtime); a
// 100-byte rpc call takes 43-45 µs at p50 against 36-37 µs for a raw
// ping-pong (1.20-1.23x), the difference being rpc's dispatch to a
// handler goroutine and back, while a binchannel ping-pong matches raw.
package peer
