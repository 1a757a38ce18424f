package signaling

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
)

func TestSignalErrors(t *testing.T) {
	s, url := testServer(t, ServerOptions{MaxPayloadSize: 1000})
	a, ra := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	_, rc := joined(t, url, "elsewhere", ClientOptions{})
	sub, rs := joined(t, url, "r", ClientOptions{Role: RoleSubscriber})
	sub2, rs2 := joined(t, url, "r", ClientOptions{Role: RoleSubscriber})
	lonely := dial(t, url, ClientOptions{})
	_ = b

	tests := []struct {
		name    string
		from    *Client
		to      string
		payload string
		want    error
		code    int64
	}{
		{"ok", a, rb.ID, `{"type":"offer","sdp":"v=0"}`, nil, 0},
		{"other room", a, rc.ID, `{}`, ErrUnknownPeer, CodeUnknownPeer},
		{"unknown id", a, "nobody", `{}`, ErrUnknownPeer, CodeUnknownPeer},
		{"empty id", a, "", `{}`, ErrBadRequest, CodeBadRequest},
		{"self", a, ra.ID, `{}`, ErrBadRequest, CodeBadRequest},
		{"too large", a, rb.ID, `"` + strings.Repeat("x", 1000) + `"`, ErrTooLarge, CodeTooLarge},
		{"not joined", lonely, ra.ID, `{}`, ErrNotJoined, CodeNotJoined},
		{"subscriber to publisher", sub, ra.ID, `{"candidate":"c"}`, nil, 0},
		{"subscriber to subscriber", sub, rs2.ID, `{}`, ErrForbidden, CodeForbidden},
		{"publisher to subscriber", a, rs.ID, `{}`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.from.Signal(ctxT(t), tt.to, raw(tt.payload))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			var re *rpc.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.code, re.Code)
		})
	}
	// Departed peers are unknown.
	require.NoError(t, sub2.Close())
	assert.Equal(t, rs2.ID, nextKind(t, a, EventLeave).Peer)
	assert.ErrorIs(t, a.Signal(ctxT(t), rs2.ID, raw(`{}`)), ErrUnknownPeer)

	_, err := a.Join(ctxT(t), "again")
	assert.ErrorIs(t, err, ErrAlreadyJoined)
	assert.ErrorIs(t, lonely.Leave(ctxT(t)), ErrNotJoined)
	for _, room := range []string{"", strings.Repeat("r", MaxRoomLen+1), "tab\there"} {
		_, err = lonely.Join(ctxT(t), room)
		assert.ErrorIs(t, err, ErrBadRequest, "%q", room)
	}
	_, err = lonely.JoinWith(ctxT(t), JoinRequest{Room: "r", Role: "admin"})
	assert.ErrorIs(t, err, ErrBadRequest)

	st := s.Stats()
	assert.EqualValues(t, 3, st.SignalsRelayed)
	assert.EqualValues(t, 3, st.Errors["unknown_peer"])
	assert.EqualValues(t, 1, st.Errors["too_large"])
	assert.EqualValues(t, 1, st.Errors["forbidden"])
	assert.EqualValues(t, 6, st.Errors["bad_request"])
	assert.EqualValues(t, 2, st.Errors["not_joined"])
	assert.EqualValues(t, 1, st.Errors["already_joined"])
	assert.EqualValues(t, 2, st.Rooms)
	assert.EqualValues(t, 4, st.Peers) // sub2 left before the unknown_peer answer
}

// TestSignalPayloadKinds checks that payloads of every JSON kind travel
// unchanged, including ones that look like binchannel placeholders.
func TestSignalPayloadKinds(t *testing.T) {
	_, url := testServer(t, ServerOptions{})
	a, _ := joined(t, url, "r", ClientOptions{})
	b, rb := joined(t, url, "r", ClientOptions{})
	next(t, a)
	for _, p := range []string{`{"type":"answer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}`, `"text"`, `42`, `true`, `null`, `[1,{"a":[]}]`, `{"x":"$bins"}`, `"\u00e9\ud83d\ude00"`} {
		require.NoError(t, a.Signal(ctxT(t), rb.ID, raw(p)), p)
		ev := next(t, b)
		assert.Equal(t, EventSignal, ev.Kind)
		assert.JSONEq(t, p, string(ev.Payload), p)
	}
	// binchannel reserves {"$bin":N}; the client refuses it rather than
	// have the packet dropped on the way.
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, raw(`{"$bin":0}`)), ErrBadRequest)
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, raw(`{"\u0024bin":0}`)), ErrBadRequest)
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, raw(`{"a":1`)), ErrBadRequest)
	assert.ErrorIs(t, a.Signal(ctxT(t), rb.ID, nil), ErrBadRequest)
}
