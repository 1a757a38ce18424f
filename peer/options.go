package peer

import (
	"log/slog"
	"time"

	"github.com/pion/transport/v4"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// Network selects which local host candidates ICE offers.
type Network int

const (
	// NetworkDefault uses Pion's defaults: every non-loopback interface
	// address.
	NetworkDefault Network = iota
	// NetworkLoopback offers only loopback addresses (127.0.0.1, ::1).
	// Tests and same-machine peers use it; nothing leaves the host.
	NetworkLoopback
	// NetworkPrivate offers loopback and private (RFC 1918, RFC 4193)
	// addresses only: peers on the same host or LAN.
	NetworkPrivate
)

// ICEServer is a STUN or TURN server. URLs are "stun:host:port",
// "turn:host:port?transport=udp" and the like; Username and Credential are
// for TURN.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Defaults of Options, each justified by a measurement in doc.go.
const (
	DefaultLabel             = "peerd"
	DefaultMaxMessageSize    = 256 << 10
	DefaultHighWatermark     = 4 << 20
	DefaultLowWatermark      = 2 << 20
	DefaultUDPBufferSize     = 4 << 20
	DefaultSCTPRTOMax        = 0
	DefaultDisconnectTimeout = 10 * time.Second
	DefaultDrainTimeout      = 5 * time.Second
	DefaultConnectTimeout    = 30 * time.Second
	DefaultBacklog           = 16

	// pionExampleHighWatermark and pionExampleLowWatermark are the
	// flow-control thresholds of Pion's data-channel flow-control example,
	// used with PionDefaults.
	pionExampleHighWatermark = 1 << 20
	pionExampleLowWatermark  = 512 << 10

	// pionSCTPReceiveBuffer is Pion's (and browsers') SCTP receive buffer.
	pionSCTPReceiveBuffer = 1 << 20
)

// Options configure a peer connection. The zero value is the default; each
// field documents its own default.
type Options struct {
	// ICEServers are STUN/TURN servers. Default none: host candidates only.
	ICEServers []ICEServer

	// Network selects the local host candidates. Default NetworkDefault.
	Network Network

	// MulticastDNS lets ICE resolve (not publish) .local candidates, as
	// browsers that hide host addresses send. Default off.
	MulticastDNS bool

	// Label is the data channel label. Default "peerd".
	Label string

	// MaxMessageSize caps every data channel message, in both directions:
	// we advertise it in our SDP and never send more, whatever the remote
	// advertises. It must stay well below the receiver's SCTP receive
	// buffer (1 MiB in Pion and browsers), because a larger message stalls
	// forever instead of failing, so it is clamped to a quarter of our own
	// receive buffer (SCTPReceiveBuffer). Default 256 KiB.
	MaxMessageSize int

	// HighWatermark and LowWatermark drive backpressure: a write waits
	// while more than HighWatermark bytes are queued in the channel and
	// resumes once the queue falls to LowWatermark. Defaults 4 MiB and
	// 2 MiB.
	HighWatermark int
	LowWatermark  int

	// UDPBufferSize is the receive and send buffer requested for every UDP
	// socket ICE opens (the kernel may clamp it to net.core.rmem_max).
	// Default 4 MiB; negative leaves the system default.
	UDPBufferSize int

	// SCTPReceiveBuffer is the SCTP receive buffer (window) in bytes.
	// Default 0: Pion's 1 MiB.
	SCTPReceiveBuffer int

	// SCTPRTOMax caps SCTP's retransmission timeout. Default 0: Pion's
	// (60 s).
	SCTPRTOMax time.Duration

	// SCTPMinCwnd is the floor of SCTP's congestion window in bytes, which
	// a loss or a retransmission timeout cannot push it below. Default 0:
	// Pion's (no floor beyond one MTU).
	SCTPMinCwnd int

	// SCTPCwndCAStep is how much SCTP's congestion window grows per
	// window of acknowledged data in congestion avoidance, in bytes.
	// Default 0: Pion's (one MTU, as RFC 9260 says).
	SCTPCwndCAStep int

	// SCTPFastRtxWnd is the most SCTP resends at once in fast
	// retransmission, in bytes. Default 0: Pion's (one MTU).
	SCTPFastRtxWnd int

	// DisconnectTimeout is how long ICE may stay disconnected before the
	// connection closes with ErrICEDisconnected. Default 10 s.
	DisconnectTimeout time.Duration

	// DrainTimeout bounds how long Close waits for queued data to be
	// delivered. Default 5 s. Shutdown takes a context instead.
	DrainTimeout time.Duration

	// Logger receives Pion's internal logging and connection events.
	// Default nil: silent.
	Logger *slog.Logger

	// Signaling configures the signaling client of Dial and Listen: token,
	// role, headers, reconnection.
	Signaling signaling.ClientOptions

	// Peer is the signaling id Dial connects to. Default "": the first
	// publisher in the room, waiting for one to join if there is none.
	Peer string

	// ConnectTimeout bounds one negotiation (offer to open data channel):
	// Dial's in addition to its ctx, and each one a Listener answers.
	// Default 30 s.
	ConnectTimeout time.Duration

	// Backlog bounds a Listener's connections being negotiated plus those
	// established and not yet accepted; offers past it are refused with a
	// "bye". Default 16.
	Backlog int

	// Channel configures the binchannel framer over the data channel. A
	// zero ChunkSize means one chunk per data channel message (the
	// negotiated maximum message size minus the header).
	Channel binchannel.Options

	// RPC configures the rpc connection carried by the channel (a shared
	// Registry, limits, hooks).
	RPC rpc.Options

	// Raw leaves the data channel bare: no binchannel framer and no rpc
	// connection on top (RPC returns nil). The caller moves messages
	// through Transport. It exists for benchmarking baselines (raw
	// data-channel throughput and ping-pong next to binchannel and rpc over
	// the same settings). Default false.
	Raw bool

	// PionDefaults configures the channel as a default Pion data channel
	// would be, for benchmarking baselines: Pion's SettingEngine untouched
	// apart from the candidate policy of Network (no UDP buffer sizing, no
	// SCTP settings), messages received through Pion's OnMessage callback,
	// and writes throttled as in Pion's flow-control example (HighWatermark
	// 1 MiB and LowWatermark 512 KiB unless set). Default false: peerd's
	// tuned settings.
	PionDefaults bool

	// onMessage selects Pion's OnMessage callback instead of a detached
	// channel for receiving (kept for the comparison benchmark).
	onMessage bool
	// zeroChecksum asks for SCTP zero checksum (RFC 9653; benchmarks
	// only: measured no faster, doc.go).
	zeroChecksum bool

	// pionDefaults leaves Pion's SettingEngine at its defaults apart from
	// the candidate policy (the baseline of the benchmarks).
	pionDefaults bool

	// rawTransport leaves the data channel to the package's tests and
	// benchmarks: no binchannel and no rpc on top.
	rawTransport bool

	// wrapUDP wraps every UDP socket ICE opens (tests only: simulates a
	// path that stops delivering). Needs UDPBufferSize >= 0.
	wrapUDP func(transport.UDPConn) transport.UDPConn

	// iceTimeouts, if set, replace Pion's ICE disconnected, failed and
	// keepalive intervals (tests only).
	iceTimeouts *[3]time.Duration

	// mungeSDP rewrites our offer or answer before it is sent (tests only:
	// simulates remotes that advertise other limits).
	mungeSDP func(string) string

	// onRead, if set, is told the length of every message the transport
	// reads (tests only: acts at a known point of a transfer).
	onRead func(n int)
}

func (o Options) withDefaults() Options {
	if o.Raw {
		o.rawTransport = true
	}
	if o.PionDefaults {
		o.pionDefaults, o.onMessage = true, true
		if o.UDPBufferSize == 0 {
			o.UDPBufferSize = -1
		}
		if o.HighWatermark <= 0 {
			o.HighWatermark = pionExampleHighWatermark
		}
		if o.LowWatermark <= 0 {
			o.LowWatermark = pionExampleLowWatermark
		}
	}
	if o.Label == "" {
		o.Label = DefaultLabel
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	recvBuf := o.SCTPReceiveBuffer
	if recvBuf <= 0 {
		recvBuf = pionSCTPReceiveBuffer
	}
	o.MaxMessageSize = min(o.MaxMessageSize, recvBuf/4)
	if o.HighWatermark <= 0 {
		o.HighWatermark = DefaultHighWatermark
	}
	if o.LowWatermark <= 0 {
		o.LowWatermark = DefaultLowWatermark
	}
	if o.LowWatermark > o.HighWatermark {
		o.LowWatermark = o.HighWatermark / 2
	}
	if o.UDPBufferSize == 0 {
		o.UDPBufferSize = DefaultUDPBufferSize
	}
	if o.SCTPRTOMax == 0 {
		o.SCTPRTOMax = DefaultSCTPRTOMax
	}
	if o.DisconnectTimeout <= 0 {
		o.DisconnectTimeout = DefaultDisconnectTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Backlog <= 0 {
		o.Backlog = DefaultBacklog
	}

	return o
}
