package signaling_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/peerd/peerd/signaling"
)

// Two peers meet in a room and relay an SDP offer.
func Example() {
	srv := signaling.NewServer(signaling.ServerOptions{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := signaling.Dial(ctx, url, signaling.ClientOptions{})
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	bob, err := signaling.Dial(ctx, url, signaling.ClientOptions{})
	if err != nil {
		panic(err)
	}
	defer bob.Close()

	a, _ := alice.Join(ctx, "lobby")
	b, _ := bob.Join(ctx, "lobby")
	fmt.Println("bob sees", len(b.Peers), "peer; it is alice:", b.Peers[0] == a.ID)

	ev := <-alice.Events()
	fmt.Println("alice gets", ev.Kind, "from bob:", ev.Peer == b.ID)

	_ = bob.Signal(ctx, a.ID, []byte(`{"type":"offer","sdp":"v=0"}`))
	ev = <-alice.Events()
	fmt.Println("alice gets", ev.Kind, string(ev.Payload))

	err = bob.Signal(ctx, "someone-else", []byte(`{}`))
	fmt.Println(errors.Is(err, signaling.ErrUnknownPeer))
	// Output:
	// bob sees 1 peer; it is alice: true
	// alice gets join from bob: true
	// alice gets signal {"type":"offer","sdp":"v=0"}
	// true
}

// A server with a secret admits only holders of a token for the room.
func ExampleNewToken() {
	secret := []byte("keep me on the server")
	tok, err := signaling.NewToken(secret, "lobby", signaling.RoleSubscriber, time.Hour)
	if err != nil {
		panic(err)
	}
	claims, err := signaling.VerifyToken(secret, tok, time.Now())
	fmt.Println(claims.Room, claims.Role, err)
	fmt.Println(claims.Allow("lobby", signaling.RolePublisher))
	_, err = signaling.VerifyToken([]byte("guess"), tok, time.Now())
	fmt.Println(err)
	// Output:
	// lobby subscriber <nil>
	// signaling: forbidden: token grants role "subscriber", not "publisher"
	// signaling: bad token signature
}
