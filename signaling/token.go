package signaling

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
)

// Role is what a peer may do in a room. Publishers may signal any member;
// subscribers may signal publishers only. A token grants exactly one role.
type Role string

// The roles. A join without a role asks for the token's role, or
// RolePublisher in an open room.
const (
	RolePublisher  Role = "publisher"
	RoleSubscriber Role = "subscriber"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r == RolePublisher || r == RoleSubscriber }

// Bounds on the token format. A token longer than MaxTokenLen is refused
// before any decoding.
const (
	MaxTokenLen = 1024
	MaxRoomLen  = 128
	tokenV      = 1
)

// Claims is the signed content of a token.
type Claims struct {
	Room    string    // the only room the token opens
	Role    Role      // the role it grants
	Expires time.Time // second precision; the token is refused at or after it
}

// tokenBody is the JSON form of Claims.
type tokenBody struct {
	V    int    `json:"v"`
	Room string `json:"room"`
	Role Role   `json:"role"`
	Exp  int64  `json:"exp"`
}

var b64 = base64.RawURLEncoding

// NewToken returns a token for room and role that expires ttl from now,
// signed with secret. Tokens are stateless: the server that holds the same
// secret verifies them without storing anything.
func NewToken(secret []byte, room string, role Role, ttl time.Duration) (string, error) {
	return SignClaims(secret, Claims{Room: room, Role: role, Expires: time.Now().Add(ttl)})
}

// SignClaims returns the token for c signed with secret. The format is
// BASE64URL(JSON {"v":1,"room":..,"role":..,"exp":unix-seconds}) "." BASE64URL(HMAC-SHA256(secret, first part)),
// both parts without padding; see docs/PROTOCOL.md section 6.
func SignClaims(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", fmt.Errorf("%w: empty secret", ErrBadRequest)
	}
	if err := validRoom(c.Room); err != nil {
		return "", err
	}
	if !c.Role.Valid() {
		return "", fmt.Errorf("%w: role %q", ErrBadRequest, c.Role)
	}
	body, err := json.Marshal(tokenBody{V: tokenV, Room: c.Room, Role: c.Role, Exp: c.Expires.Unix()})
	if err != nil {
		return "", err
	}
	head := b64.EncodeToString(body)
	tok := head + "." + b64.EncodeToString(tokenMAC(secret, head))
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("%w: token longer than %d bytes", ErrBadRequest, MaxTokenLen)
	}
	return tok, nil
}

func tokenMAC(secret []byte, head string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(head))
	return m.Sum(nil)
}

// VerifyToken checks token's signature with secret (constant-time) and its
// expiry against now, and returns its claims. Errors match ErrUnauthorized,
// and more precisely ErrTokenMalformed, ErrTokenSignature or
// ErrTokenExpired. It does not check the room or role: the caller compares
// them with what is asked for (see Claims.Allow).
func VerifyToken(secret []byte, token string, now time.Time) (Claims, error) {
	if len(secret) == 0 {
		return Claims{}, fmt.Errorf("%w: no secret configured", ErrTokenSignature)
	}
	if len(token) == 0 || len(token) > MaxTokenLen {
		return Claims{}, ErrTokenMalformed
	}
	head, sig, ok := strings.Cut(token, ".")
	if !ok || head == "" || strings.Contains(sig, ".") {
		return Claims{}, ErrTokenMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Claims{}, ErrTokenMalformed
	}
	if !hmac.Equal(got, tokenMAC(secret, head)) {
		return Claims{}, ErrTokenSignature
	}
	raw, err := b64.DecodeString(head)
	if err != nil {
		return Claims{}, ErrTokenMalformed
	}
	var tb tokenBody
	if err := json.Unmarshal(raw, &tb, json.RejectUnknownMembers(true)); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	}
	if tb.V != tokenV || !tb.Role.Valid() || validRoom(tb.Room) != nil {
		return Claims{}, ErrTokenMalformed
	}
	c := Claims{Room: tb.Room, Role: tb.Role, Expires: time.Unix(tb.Exp, 0)}
	if !now.Before(c.Expires) {
		return c, ErrTokenExpired
	}
	return c, nil
}

// Allow reports whether the claims open room with role: ErrForbidden
// otherwise.
func (c Claims) Allow(room string, role Role) error {
	if c.Room != room {
		return fmt.Errorf("%w: token is for another room", ErrForbidden)
	}
	if c.Role != role {
		return fmt.Errorf("%w: token grants role %q, not %q", ErrForbidden, c.Role, role)
	}
	return nil
}

// validRoom checks a room name: 1..MaxRoomLen bytes of UTF-8 without
// control characters.
func validRoom(room string) error {
	if room == "" || len(room) > MaxRoomLen {
		return fmt.Errorf("%w: room name must be 1..%d bytes", ErrBadRequest, MaxRoomLen)
	}
	for _, r := range room {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return fmt.Errorf("%w: room name has a control character or invalid UTF-8", ErrBadRequest)
		}
	}
	return nil
}
