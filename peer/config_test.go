package peer

import (
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestICEServers checks that STUN and TURN servers, with credentials,
// reach the PeerConnection's configuration.
func TestICEServers(t *testing.T) {
	o := Options{ICEServers: []ICEServer{
		{URLs: []string{"stun:127.0.0.1:3478"}},
		{URLs: []string{"turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"}, Username: "alice", Credential: "s3cret"},
	}}
	want := []webrtc.ICEServer{
		{URLs: []string{"stun:127.0.0.1:3478"}, Credential: ""},
		{URLs: []string{"turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"}, Username: "alice", Credential: "s3cret"},
	}
	cfg := o.webrtcConfig()
	assert.Equal(t, want, cfg.ICEServers)

	pc, err := webrtc.NewPeerConnection(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, pc.Close()) }()
	assert.Equal(t, want, pc.GetConfiguration().ICEServers)

	// A TURN server without credentials is refused when the connection is
	// made, not ignored.
	_, err = webrtc.NewPeerConnection(Options{ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}}}}.webrtcConfig())
	assert.Error(t, err)
}
