package signaling

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/peerd/peerd/rpc"
)

func TestJoinTokens(t *testing.T) {
	secret := []byte("server secret")
	now := time.Unix(1_800_000_000, 0)
	s, url := testServer(t, ServerOptions{Secret: secret, Clock: func() time.Time { return now }})
	sign := func(sec []byte, room string, role Role, exp time.Time) string {
		tok, err := SignClaims(sec, Claims{Room: room, Role: role, Expires: exp})
		require.NoError(t, err)
		return tok
	}
	later := now.Add(time.Hour)
	pub := sign(secret, "lobby", RolePublisher, later)

	tests := []struct {
		name  string
		token string
		role  Role
		want  error
		code  int64
		role2 Role // role granted when it succeeds
	}{
		{"valid publisher", pub, "", nil, 0, RolePublisher},
		{"valid, role asked", pub, RolePublisher, nil, 0, RolePublisher},
		{"valid subscriber", sign(secret, "lobby", RoleSubscriber, later), "", nil, 0, RoleSubscriber},
		{"missing", "", "", ErrUnauthorized, CodeUnauthorized, ""},
		{"expired", sign(secret, "lobby", RolePublisher, now), "", ErrTokenExpired, CodeUnauthorized, ""},
		{"wrong room", sign(secret, "attic", RolePublisher, later), "", ErrForbidden, CodeForbidden, ""},
		{"wrong role", sign(secret, "lobby", RoleSubscriber, later), RolePublisher, ErrForbidden, CodeForbidden, ""},
		{"forged", sign([]byte("guess"), "lobby", RolePublisher, later), "", ErrUnauthorized, CodeUnauthorized, ""},
		{"malformed", "not-a-token", "", ErrUnauthorized, CodeUnauthorized, ""},
		{"tampered", pub[:len(pub)-2] + "AA", "", ErrUnauthorized, CodeUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, url, ClientOptions{Token: tt.token, Role: tt.role})
			res, err := c.Join(ctxT(t), "lobby")
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.role2, res.Role)
				return
			}
			require.Error(t, err)
			if !errors.Is(tt.want, ErrForbidden) {
				// The client sees the server's code, not the exact token error.
				assert.ErrorIs(t, err, ErrUnauthorized)
			} else {
				assert.ErrorIs(t, err, ErrForbidden)
			}
			var re *rpc.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.code, re.Code)
			// The connection stays usable after a refusal.
			_, err = c.JoinWith(ctxT(t), JoinRequest{Room: "lobby", Token: pub})
			assert.NoError(t, err)
		})
	}
	assert.EqualValues(t, 5, s.Stats().Errors["unauthorized"])
	assert.EqualValues(t, 2, s.Stats().Errors["forbidden"])
}

func TestAuthorizeHook(t *testing.T) {
	var (
		mu  sync.Mutex // guards got
		got AuthRequest
	)
	_, url := testServer(t, ServerOptions{
		Secret: []byte("ignored when Authorize is set"),
		Authorize: func(ctx context.Context, req AuthRequest) (Role, error) {
			mu.Lock()
			got = req
			mu.Unlock()
			switch req.Token {
			case "let-me-in":
				return RoleSubscriber, nil
			case "go-away":
				return "", errors.New("not on the list")
			}
			return "", ErrUnauthorized
		},
	})
	h := http.Header{}
	h.Set("X-Test", "yes")
	c := dial(t, url, ClientOptions{Header: h})
	res, err := c.JoinWith(ctxT(t), JoinRequest{Room: "r", Token: "let-me-in"})
	require.NoError(t, err)
	assert.Equal(t, RoleSubscriber, res.Role)
	mu.Lock()
	assert.Equal(t, "r", got.Room)
	assert.Equal(t, "yes", got.Header.Get("X-Test"))
	assert.Equal(t, "127.0.0.1", got.RemoteAddr)

	mu.Unlock()
	d := dial(t, url, ClientOptions{})
	_, err = d.JoinWith(ctxT(t), JoinRequest{Room: "r", Token: "go-away"})
	assert.ErrorIs(t, err, ErrForbidden)
	_, err = d.JoinWith(ctxT(t), JoinRequest{Room: "r", Token: "let-me-in", Role: RolePublisher})
	assert.ErrorIs(t, err, ErrForbidden)
	_, err = d.JoinWith(ctxT(t), JoinRequest{Room: "r"})
	assert.ErrorIs(t, err, ErrUnauthorized)
}

func TestOriginRefused(t *testing.T) {
	s, url := testServer(t, ServerOptions{AllowedOrigins: []string{"https://app.example"}})
	for origin, ok := range map[string]bool{
		"https://evil.example":  false,
		"https://app.example":   true,
		"http://localhost:5173": true,
	} {
		h := http.Header{}
		h.Set("Origin", origin)
		c, err := Dial(ctxT(t), url, ClientOptions{Header: h})
		if ok {
			require.NoError(t, err, origin)
			require.NoError(t, c.Close())
			continue
		}
		var de *DialError
		require.ErrorAs(t, err, &de, origin)
		assert.Equal(t, http.StatusForbidden, de.StatusCode)
	}
	assert.EqualValues(t, 1, s.Stats().Errors["origin"])
}
