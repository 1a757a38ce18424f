package peer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"offer", `{"type":"offer","sdp":"v=0\r\n"}`, true},
		{"answer", `{"type":"answer","sdp":"v=0\r\n"}`, true},
		{"candidate", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`, true},
		{"end of candidates", `{"type":"candidate"}`, true},
		{"bye", `{"type":"bye","reason":"busy"}`, true},
		{"offer without sdp", `{"type":"offer"}`, false},
		{"unknown type", `{"type":"hello"}`, false},
		{"not json", `{"type":`, false},
		{"not an object", `[1,2]`, false},
		{"too large", `{"type":"offer","sdp":"` + strings.Repeat("a", maxSignalSize) + `"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSignal([]byte(tc.in))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrProtocol)
			}
		})
	}
}

func TestSignalRoundTrip(t *testing.T) {
	mid, idx := "0", uint16(0)
	for _, m := range []signalMsg{
		{Type: signalOffer, SDP: "v=0\r\n"},
		{Type: signalCandidate, Candidate: &iceCandidate{Candidate: "candidate:x", SDPMid: &mid, SDPMLineIndex: &idx}},
		{Type: signalBye, Reason: "busy"},
	} {
		got, err := parseSignal(encodeSignal(m))
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	// Golden form of a candidate, as a browser's RTCIceCandidate.toJSON()
	// nested under "candidate".
	assert.JSONEq(t, `{"type":"candidate","candidate":{"candidate":"candidate:x","sdpMid":"0","sdpMLineIndex":0}}`,
		string(encodeSignal(signalMsg{Type: signalCandidate, Candidate: &iceCandidate{Candidate: "candidate:x", SDPMid: &mid, SDPMLineIndex: &idx}})))
}

func FuzzParseSignal(f *testing.F) {
	f.Add([]byte(`{"type":"offer","sdp":"v=0"}`))
	f.Add([]byte(`{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":70000}}`))
	f.Add([]byte(`{"type":"bye","reason":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseSignal(b)
		if err != nil {
			return
		}
		if _, err := parseSignal(encodeSignal(m)); err != nil {
			t.Fatalf("re-encoded signal refused: %v", err)
		}
	})
}
