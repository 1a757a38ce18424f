package signaling

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// wsPair returns the server and client ends of a loopback WebSocket.
func wsPair(t *testing.T) (srv, cli *websocket.Conn) {
	t.Helper()
	ch := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err == nil {
			ch <- c
		}
	}))
	defer hs.Close()
	cli, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	require.NoError(t, err)
	return <-ch, cli
}

func TestLiveness(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, answering := range []bool{true, false} {
		name := map[bool]string{true: "answering", false: "silent"}[answering]
		t.Run(name, func(t *testing.T) {
			srv, cli := wsPair(t)
			defer srv.Close()
			defer cli.Close()
			dead := make(chan struct{})
			timeout := 50 * time.Millisecond
			if answering {
				timeout = 5 * time.Second // generous: only the silent case must trip
			}
			l := newLiveness(srv, 5*time.Millisecond, timeout, func() { close(dead) })
			defer l.stop()
			pongs := make(chan struct{}, 100)
			srv.SetPongHandler(func(string) error {
				l.seen()
				select {
				case pongs <- struct{}{}:
				default:
				}
				return nil
			})
			srvDone := make(chan struct{})
			go func() { // the server's reader runs the pong handler
				defer close(srvDone)
				for {
					if _, _, err := srv.ReadMessage(); err != nil {
						return
					}
				}
			}()
			cliDone := make(chan struct{})
			if answering {
				go func() { // reading answers pings
					defer close(cliDone)
					for {
						if _, _, err := cli.ReadMessage(); err != nil {
							return
						}
					}
				}()
			} else {
				close(cliDone)
			}
			if answering {
				for range 5 {
					select {
					case <-pongs:
					case <-dead:
						t.Fatal("answering peer declared dead")
					case <-time.After(5 * time.Second):
						t.Fatal("no pong")
					}
				}
			} else {
				select {
				case <-dead:
				case <-time.After(5 * time.Second):
					t.Fatal("silent peer not detected")
				}
			}
			l.stop()
			srv.Close()
			cli.Close()
			<-srvDone
			<-cliDone
		})
	}
}
