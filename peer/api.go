package peer

import (
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"
)

// NewAPI returns a Pion API configured from o (after defaults): detached
// data channels, the host candidate policy of o.Network, mDNS per
// o.MulticastDNS, UDP sockets with o.UDPBufferSize buffers, our advertised
// max-message-size and the SCTP settings of o. Each PeerConnection made
// from it owns its sockets, so closing the PeerConnection releases them.
func NewAPI(o Options) (*webrtc.API, error) {
	o = o.withDefaults()

	var se webrtc.SettingEngine
	se.LoggerFactory = slogFactory{log: o.Logger}
	if !o.onMessage {
		se.DetachDataChannels()
	}
	if o.MulticastDNS {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeQueryOnly)
	} else {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	switch o.Network {
	case NetworkDefault:
	case NetworkLoopback:
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	case NetworkPrivate:
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() || ip.IsPrivate() })
	default:
		return nil, fmt.Errorf("peer: unknown Network %d", o.Network)
	}
	if t := o.iceTimeouts; t != nil {
		se.SetICETimeouts(t[0], t[1], t[2])
	}
	if o.pionDefaults {
		return webrtc.NewAPI(webrtc.WithSettingEngine(se)), nil
	}
	if o.UDPBufferSize > 0 || o.wrapUDP != nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("peer: network: %w", err)
		}
		se.SetNet(&sizedNet{Net: n, size: o.UDPBufferSize, wrap: o.wrapUDP})
	}
	se.SetSCTPMaxMessageSize(uint32(o.MaxMessageSize)) //nolint:gosec // bounded by withDefaults callers
	if o.SCTPReceiveBuffer > 0 {
		se.SetSCTPMaxReceiveBufferSize(uint32(o.SCTPReceiveBuffer)) //nolint:gosec
	}
	if o.zeroChecksum {
		se.EnableSCTPZeroChecksum(true)
	}
	if o.SCTPRTOMax > 0 {
		se.SetSCTPRTOMax(o.SCTPRTOMax)
	}
	if o.SCTPMinCwnd > 0 {
		se.SetSCTPMinCwnd(uint32(o.SCTPMinCwnd)) //nolint:gosec // positive
	}
	if o.SCTPCwndCAStep > 0 {
		se.SetSCTPCwndCAStep(uint32(o.SCTPCwndCAStep)) //nolint:gosec // positive
	}
	if o.SCTPFastRtxWnd > 0 {
		se.SetSCTPFastRtxWnd(uint32(o.SCTPFastRtxWnd)) //nolint:gosec // positive
	}

	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), nil
}

// sizedNet is the standard network with larger socket buffers on every UDP
// socket ICE opens. The kernel's default receive buffer (about 200 KiB)
// overflows under a data channel at full speed and each drop halves SCTP's
// congestion window; see doc.go for the measurement.
type sizedNet struct {
	*stdnet.Net
	size int                                       // <= 0: system default
	wrap func(transport.UDPConn) transport.UDPConn // tests only; may be nil
}

func (n *sizedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if n.size > 0 {
		// Best effort: a refused size leaves the system default.
		_ = c.SetReadBuffer(n.size)
		_ = c.SetWriteBuffer(n.size)
	}
	if n.wrap != nil {
		return n.wrap(c), nil
	}

	return c, nil
}

func (n *sizedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}); ok && n.size > 0 {
		_ = u.SetReadBuffer(n.size)
		_ = u.SetWriteBuffer(n.size)
	}

	return c, nil
}
