package signaling

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	good, err := SignClaims(secret, Claims{Room: "lobby", Role: RolePublisher, Expires: now.Add(time.Minute)})
	require.NoError(t, err)
	expired, err := SignClaims(secret, Claims{Room: "lobby", Role: RolePublisher, Expires: now})
	require.NoError(t, err)
	forged, err := SignClaims([]byte("other"), Claims{Room: "lobby", Role: RolePublisher, Expires: now.Add(time.Minute)})
	require.NoError(t, err)
	head, sig, _ := strings.Cut(good, ".")
	// Same signature over a body naming another room.
	otherHead, _, _ := strings.Cut(mustToken(t, secret, "attic", now), ".")
	flipped := []byte(sig)
	flipped[3] ^= 1

	tests := []struct {
		name  string
		token string
		room  string
		role  Role
		want  error
	}{
		{"valid", good, "lobby", RolePublisher, nil},
		{"expired", expired, "lobby", RolePublisher, ErrTokenExpired},
		{"wrong room", good, "attic", RolePublisher, ErrForbidden},
		{"wrong role", good, "lobby", RoleSubscriber, ErrForbidden},
		{"forged secret", forged, "lobby", RolePublisher, ErrTokenSignature},
		{"swapped body", otherHead + "." + sig, "attic", RolePublisher, ErrTokenSignature},
		{"flipped signature bit", head + "." + string(flipped), "lobby", RolePublisher, ErrUnauthorized},
		{"empty", "", "lobby", RolePublisher, ErrTokenMalformed},
		{"no dot", head + sig, "lobby", RolePublisher, ErrTokenMalformed},
		{"two dots", good + ".x", "lobby", RolePublisher, ErrTokenMalformed},
		{"short signature", head + ".AAAA", "lobby", RolePublisher, ErrTokenMalformed},
		{"padding", good + "=", "lobby", RolePublisher, ErrTokenMalformed},
		{"too long", strings.Repeat("a", MaxTokenLen+1), "lobby", RolePublisher, ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyToken(secret, tt.token, now)
			if err == nil {
				err = c.Allow(tt.room, tt.role)
			}
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, unauthorizedOrForbidden(tt.want))
		})
	}
}

func unauthorizedOrForbidden(err error) error {
	if err == ErrForbidden {
		return ErrForbidden
	}
	return ErrUnauthorized
}

func mustToken(t *testing.T, secret []byte, room string, now time.Time) string {
	t.Helper()
	tok, err := SignClaims(secret, Claims{Room: room, Role: RolePublisher, Expires: now.Add(time.Minute)})
	require.NoError(t, err)
	return tok
}

func TestTokenMalformedBodies(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	bodies := []string{
		`{}`,
		`{"v":2,"room":"a","role":"publisher","exp":1900000000}`,
		`{"v":1,"room":"","role":"publisher","exp":1900000000}`,
		`{"v":1,"room":"a","role":"admin","exp":1900000000}`,
		`{"v":1,"room":"a","role":"publisher","exp":"soon"}`,
		`{"v":1,"room":"a","role":"publisher","exp":1900000000,"extra":1}`,
		`{"v":1,"room":"a\u0000","role":"publisher","exp":1900000000}`,
		`[1,2]`,
		`not json`,
	}
	for _, body := range bodies {
		head := b64.EncodeToString([]byte(body))
		tok := head + "." + b64.EncodeToString(tokenMAC(secret, head))
		_, err := VerifyToken(secret, tok, now)
		assert.ErrorIs(t, err, ErrTokenMalformed, body)
	}
}

func TestNewToken(t *testing.T) {
	tok, err := NewToken([]byte("k"), "room", RoleSubscriber, time.Hour)
	require.NoError(t, err)
	c, err := VerifyToken([]byte("k"), tok, time.Now())
	require.NoError(t, err)
	assert.Equal(t, "room", c.Room)
	assert.Equal(t, RoleSubscriber, c.Role)

	_, err = NewToken(nil, "room", RolePublisher, time.Hour)
	assert.ErrorIs(t, err, ErrBadRequest)
	_, err = NewToken([]byte("k"), "", RolePublisher, time.Hour)
	assert.ErrorIs(t, err, ErrBadRequest)
	_, err = NewToken([]byte("k"), "r", Role("owner"), time.Hour)
	assert.ErrorIs(t, err, ErrBadRequest)
	_, err = VerifyToken(nil, tok, time.Now())
	assert.ErrorIs(t, err, ErrUnauthorized)
}

// TestTokenGolden pins the token format documented in PROTOCOL.md.
func TestTokenGolden(t *testing.T) {
	tok, err := SignClaims([]byte("secret"), Claims{Room: "lobby", Role: RolePublisher, Expires: time.Unix(1767225600, 0)})
	require.NoError(t, err)
	head, _, _ := strings.Cut(tok, ".")
	raw, err := b64.DecodeString(head)
	require.NoError(t, err)
	assert.Equal(t, `{"v":1,"room":"lobby","role":"publisher","exp":1767225600}`, string(raw))
	assert.Equal(t, goldenToken, tok)
}

func FuzzVerifyToken(f *testing.F) {
	secret := []byte("fuzz")
	now := time.Unix(1_800_000_000, 0)
	good, _ := SignClaims(secret, Claims{Room: "r", Role: RolePublisher, Expires: now.Add(time.Hour)})
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add(goldenToken)
	f.Add(good + "." + good)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := VerifyToken(secret, tok, now)
		if err == nil {
			// Whatever verifies must re-sign to the same token.
			again, err := SignClaims(secret, c)
			if err != nil {
				t.Fatalf("verified claims do not re-sign: %v", err)
			}
			if _, err := VerifyToken(secret, again, now); err != nil {
				t.Fatalf("re-signed token does not verify: %v", err)
			}
		}
	})
}

const goldenToken = "eyJ2IjoxLCJyb29tIjoibG9iYnkiLCJyb2xlIjoicHVibGlzaGVyIiwiZXhwIjoxNzY3MjI1NjAwfQ.QsYn1DhcIs7l4kvS7wAww6QnD8amgJzdIXcvIL2ZAQ8"
