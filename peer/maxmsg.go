package peer

import (
	"strconv"
	"strings"
)

// defaultRemoteMaxMessageSize is what RFC 8841 tells a peer to assume when
// the remote description carries no a=max-message-size attribute.
const defaultRemoteMaxMessageSize = 65535

// remoteMaxMessageSize reads the a=max-message-size attribute of the first
// application (data channel) media section of an SDP. It returns the
// advertised value, with 65535 when the attribute is absent and 0 when the
// remote advertises 0 (no limit). A malformed value counts as absent.
func remoteMaxMessageSize(sdp string) int {
	inApp := false
	found := false
	size := defaultRemoteMaxMessageSize
	for len(sdp) > 0 {
		var line string
		if i := strings.IndexByte(sdp, '\n'); i >= 0 {
			line, sdp = sdp[:i], sdp[i+1:]
		} else {
			line, sdp = sdp, ""
		}
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			if found {
				return size
			}
			inApp = strings.HasPrefix(line, "m=application ")
		case inApp && strings.HasPrefix(line, "a=max-message-size:"):
			v := strings.TrimSpace(line[len("a=max-message-size:"):])
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				continue
			}
			size = int(n)
			found = true
		}
	}

	return size
}

// effectiveMaxMessageSize combines what the remote advertised (0: no limit),
// what Pion enforces on our side of the association (0: unknown) and our own
// cap into the largest message we may send.
func effectiveMaxMessageSize(remote, pion, limit int) int {
	size := limit
	if remote > 0 && remote < size {
		size = remote
	}
	if pion > 0 && pion < size {
		size = pion
	}

	return size
}
