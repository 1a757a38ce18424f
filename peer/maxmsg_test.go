package peer

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var maxMsgLine = regexp.MustCompile(`a=max-message-size:\d+\r\n`)

func TestRemoteMaxMessageSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		sdp  string
		want int
	}{
		{"absent", "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n", 65535},
		{"chrome", "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:262144\r\n", 262144},
		{"unlimited", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=max-message-size:0\n", 0},
		{"other section", "m=audio 9 RTP/AVP 0\r\na=max-message-size:5\r\nm=application 9 x\r\n", 65535},
		{"malformed", "m=application 9 x\r\na=max-message-size:-1\r\n", 65535},
		{"overflow", "m=application 9 x\r\na=max-message-size:99999999999\r\n", 65535},
		{"empty", "", 65535},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, remoteMaxMessageSize(tc.sdp))
		})
	}
}

func TestEffectiveMaxMessageSize(t *testing.T) {
	assert.Equal(t, 65535, effectiveMaxMessageSize(65535, 65535, 256<<10))
	assert.Equal(t, 256<<10, effectiveMaxMessageSize(0, 0, 256<<10))
	assert.Equal(t, 256<<10, effectiveMaxMessageSize(1<<30, 1<<30, 256<<10))
	assert.Equal(t, 65535, effectiveMaxMessageSize(0, 65535, 256<<10))
}

func FuzzRemoteMaxMessageSize(f *testing.F) {
	f.Add("m=application 9 x\r\na=max-message-size:262144\r\n")
	f.Add("m=application 9 x\na=max-message-size:\n")
	f.Add("a=max-message-size:1\r\nm=application")
	f.Fuzz(func(t *testing.T, sdp string) {
		if n := remoteMaxMessageSize(sdp); n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

// TestNegotiatedMaxMessageSize connects to answerers whose SDP advertises
// other limits (as browsers and other stacks do) and checks that the
// offerer never sends above them.
func TestNegotiatedMaxMessageSize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		munge func(string) string
		capA  int
		want  int
	}{
		{"absent means 65535", func(s string) string { return maxMsgLine.ReplaceAllString(s, "") }, 0, 65535},
		{"65535", func(s string) string { return maxMsgLine.ReplaceAllString(s, "a=max-message-size:65535\r\n") }, 0, 65535},
		{"262144", func(s string) string { return maxMsgLine.ReplaceAllString(s, "a=max-message-size:262144\r\n") }, 1 << 20, 262144},
		{"capped below remote", func(s string) string { return maxMsgLine.ReplaceAllString(s, "a=max-message-size:1073741823\r\n") }, 0, DefaultMaxMessageSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oa, ob := testOptions(), testOptions()
			oa.MaxMessageSize = tc.capA
			oa.SCTPReceiveBuffer = 4 * tc.capA // keeps capA under the clamp
			ob.mungeSDP = tc.munge
			a, b := pair(t, oa, ob)
			ctx := testCtx(t)
			require.Equal(t, tc.want, a.MaxMessageSize())

			err := a.tr.WriteMessage(ctx, make([]byte, tc.want+1))
			assert.ErrorIs(t, err, ErrMessageTooLarge)
			require.NoError(t, a.tr.WriteMessage(ctx, make([]byte, tc.want)))
			got, err := b.tr.ReadMessage(ctx)
			require.NoError(t, err)
			assert.Len(t, got[0], tc.want)
		})
	}
}

func TestMaxMessageSizeClamp(t *testing.T) {
	for _, tc := range []struct {
		max, recv, want int
	}{
		{0, 0, DefaultMaxMessageSize},
		{1 << 20, 0, 256 << 10},
		{1 << 20, 8 << 20, 1 << 20},
		{16 << 10, 0, 16 << 10},
	} {
		o := Options{MaxMessageSize: tc.max, SCTPReceiveBuffer: tc.recv}.withDefaults()
		assert.Equal(t, tc.want, o.MaxMessageSize, "max %d recv %d", tc.max, tc.recv)
	}
}
