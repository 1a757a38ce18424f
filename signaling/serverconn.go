package signaling

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
)

// serverConn is one accepted WebSocket connection: gorilla conn ->
// binchannel transport (metered) -> binchannel.Channel -> rpc.Conn, with
// the session that joins rooms on its behalf.
type serverConn struct {
	srv  *Server
	ws   *websocket.Conn
	addr string
	sess *session
	live *liveness
	rc   *rpc.Conn

	ready    chan struct{} // closed by open: reads wait for it
	endOnce  sync.Once
	released bool // guarded by Server.mu: set once the server forgot c
}

// sessionKey stores the *serverConn as the rpc.Conn's session value.
type sessionKey struct{}

func newServerConn(s *Server, ws *websocket.Conn, addr string, r *http.Request) *serverConn {
	c := &serverConn{srv: s, ws: ws, addr: addr}
	c.sess = newSession(s.hub, &s.opts, &s.stats, c, addr)
	c.sess.auth = AuthRequest{RemoteAddr: addr, Origin: r.Header.Get("Origin")}
	if s.opts.Authorize != nil {
		c.sess.auth.Header = r.Header.Clone()
	}
	return c
}

// start wires the layers; reading waits for open.
func (c *serverConn) start() {
	o := &c.srv.opts
	c.live = newLiveness(c.ws, o.PingInterval, o.PongTimeout, c.onDead)
	c.ready = make(chan struct{})
	t := &meteredTransport{
		Transport: binchannel.NewWebSocket(c.ws, binchannel.WebSocketOptions{MaxMessageSize: o.MaxMessageSize}),
		live:      c.live,
		limiter:   rate.NewLimiter(o.MessageRate, o.MessageBurst),
		onFlood: func() {
			c.srv.stats.addError("flood")
			c.srv.opts.Logger.Info("signaling: message flood, closing", "remote", c.addr)
		},
		onEnd: c.end,
		ready: c.ready,
	}
	co := channelOptions(o.MaxMessageSize)
	co.OnError = func(error) { c.srv.stats.addError("malformed") }
	ch := binchannel.NewWithOptions(t, co)
	c.rc = rpc.NewWithOptions(ch, rpc.Options{
		Registry: c.srv.api.reg,
		// One handler at a time: requests are served in the order they
		// arrive, which is what keeps pipelined signals in order. Handlers
		// never block (except in a user's Authorize hook).
		MaxConcurrency: 1,
		// With one handler at a time the reader runs it itself: parked
		// workers would only cost a goroutine per idle connection.
		IdleWorkers: -1,
		MaxQueue:    o.SignalBurst,
		MaxPending:  o.QueueLen + 16,
		OnError:     func(error) { c.srv.stats.addError("protocol") },
	})
	c.rc.SetValue(sessionKey{}, c)
}

// open lets the connection read requests.
func (c *serverConn) open() { close(c.ready) }

// channelOptions bounds a signaling connection's binchannel to one
// WebSocket message per packet.
func channelOptions(maxMsg int) binchannel.Options {
	return binchannel.Options{
		MaxPacketSize:     int64(maxMsg),
		MaxPendingBytes:   int64(2 * maxMsg),
		MaxPendingPackets: 2,
		MaxQueueBytes:     int64(4 * maxMsg),
		MaxQueuePackets:   64,
		PendingTTL:        30 * time.Second,
	}
}

// push implements pusher.
func (c *serverConn) push(ctx context.Context, ev *wireEvent) error {
	return c.rc.Notify(ctx, methodEvent, ev)
}

// close implements pusher. A slow or dead peer is cut off at once; others
// get a close frame first.
func (c *serverConn) close(reason string) error {
	switch reason {
	case ReasonSlow, ReasonTimeout:
		c.abort()
	default:
		c.shut(reason)
	}
	return nil
}

// shut says goodbye with a close frame (1001 going away when the server
// stops, 1000 otherwise) and closes the connection.
func (c *serverConn) shut(reason string) {
	code := websocket.CloseNormalClosure
	if reason == ReasonShutdown {
		c.sess.setReason(ReasonShutdown)
		code = websocket.CloseGoingAway
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.rc.Close()
	_ = c.ws.Close()
}

// abort closes the socket without ceremony.
func (c *serverConn) abort() { _ = c.ws.Close() }

// onDead runs when the peer stopped answering pings.
func (c *serverConn) onDead() {
	c.srv.stats.addError("timeout")
	c.srv.opts.Logger.Info("signaling: peer timed out", "remote", c.addr, "peer", c.sess.peerID())
	c.sess.kill(ReasonTimeout)
}

// end runs once when the connection is over, whoever noticed first.
func (c *serverConn) end() {
	c.endOnce.Do(func() {
		c.live.stop()
		_ = c.ws.Close()
		c.sess.finish()
		c.srv.release(c, c.addr)
		c.srv.opts.Logger.Debug("signaling: disconnected", "remote", c.addr)
	})
}
