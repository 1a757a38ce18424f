package peer

import (
	"encoding/json"
	"fmt"
)

// maxSignalSize bounds one signal payload we accept (an SDP with many
// candidates stays far below it).
const maxSignalSize = 64 << 10

// Signal kinds (the "type" member of a signal payload; PROTOCOL.md §5).
const (
	signalOffer     = "offer"
	signalAnswer    = "answer"
	signalCandidate = "candidate"
	signalBye       = "bye"
)

// signalMsg is one signal payload exchanged during and after negotiation.
type signalMsg struct {
	Type      string        `json:"type"`
	SDP       string        `json:"sdp,omitempty"`
	Candidate *iceCandidate `json:"candidate,omitempty"`
	Reason    string        `json:"reason,omitempty"`
}

// iceCandidate mirrors the browser's RTCIceCandidateInit.
type iceCandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// parseSignal decodes and checks one payload. It never panics on hostile
// input and refuses payloads above maxSignalSize.
func parseSignal(b []byte) (signalMsg, error) {
	var m signalMsg
	if len(b) > maxSignalSize {
		return m, fmt.Errorf("%w: signal of %d bytes (limit %d)", ErrProtocol, len(b), maxSignalSize)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: signal: %w", ErrProtocol, err)
	}
	switch m.Type {
	case signalOffer, signalAnswer:
		if m.SDP == "" {
			return m, fmt.Errorf("%w: %s without sdp", ErrProtocol, m.Type)
		}
	case signalCandidate, signalBye:
	default:
		return m, fmt.Errorf("%w: unknown signal type %q", ErrProtocol, m.Type)
	}

	return m, nil
}

// encodeSignal encodes one payload. The message holds only strings and
// small integers, so encoding cannot fail.
func encodeSignal(m signalMsg) []byte {
	b, _ := json.Marshal(m) //nolint:errchkjson // strings and integers only

	return b
}
