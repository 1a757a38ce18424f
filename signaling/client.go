package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
)

// Client is a connection to a signaling server.
//
// Concurrency: all methods are safe for concurrent use. The server handles
// a connection's requests in the order they arrive, so Signals from one
// goroutine reach their recipient in call order (concurrent Signals from
// several goroutines are ordered as they happen to be written). Events
// arrive on Events in the order the server produced them. The client runs
// two goroutines of its own plus those of its rpc.Conn.
type Client struct {
	url    string
	opts   ClientOptions
	events chan Event
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the client has finished
	pumped chan struct{} // closed when pump has closed events

	stopOnce sync.Once

	qmu  sync.Mutex // guards q, quit
	q    []Event    // ordered events not yet handed to events
	quit bool       // no more events will be queued
	qsig chan struct{}

	mu     sync.Mutex // guards cur, id, join, joined, err
	cur    *clientConn
	id     string
	join   JoinRequest
	joined bool
	err    error
}

// JoinRequest is what JoinWith sends.
type JoinRequest struct {
	Room  string
	Token string // required when the server has a secret
	Role  Role   // empty: what the token grants, or publisher in an open room
}

// DialError reports a WebSocket upgrade the server refused.
type DialError struct {
	StatusCode int // HTTP status: 403 origin refused, 429 too many connections, 503 shutting down
	Err        error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("signaling: dial refused with HTTP %d: %v", e.StatusCode, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

// RemoteError is an error the server answered with. It matches the
// package's sentinel for its code (errors.Is(err, ErrUnknownPeer)) and
// unwraps to the *rpc.Error as received.
type RemoteError struct {
	Sentinel error // nil for codes this package does not know
	RPC      *rpc.Error
}

func (e *RemoteError) Error() string { return e.RPC.Message }
func (e *RemoteError) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.RPC}
	}
	return []error{e.Sentinel, e.RPC}
}

// Dial connects to the signaling server at url (ws:// or wss://; http://
// and https:// are taken to mean the same). The returned Client has not
// joined a room yet.
func Dial(ctx context.Context, url string, o ClientOptions) (*Client, error) {
	switch {
	case strings.HasPrefix(url, "http://"):
		url = "ws://" + url[len("http://"):]
	case strings.HasPrefix(url, "https://"):
		url = "wss://" + url[len("https://"):]
	}
	c := &Client{
		url:    url,
		opts:   o.withDefaults(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		pumped: make(chan struct{}),
		qsig:   make(chan struct{}, 1),
	}
	c.events = make(chan Event, 16)
	cc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.cur = cc
	go c.run(cc)
	go c.pump()
	return c, nil
}

// Events returns the stream of events. It is closed once the client is done
// and every event before that was read (or Close was called). A reader that
// falls ClientOptions.EventBuffer events behind loses the connection.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the client has finished: after Close, or when the
// connection is lost and not (or no longer) reconnected. Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client finished, or nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ID returns our peer id in the joined room, or "" before Join.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Join joins room with ClientOptions.Token and Role.
func (c *Client) Join(ctx context.Context, room string) (JoinResult, error) {
	return c.JoinWith(ctx, JoinRequest{Room: room, Token: c.opts.Token, Role: c.opts.Role})
}

// JoinWith joins a room. The result lists the peers already there; later
// arrivals and departures come as events.
func (c *Client) JoinWith(ctx context.Context, req JoinRequest) (JoinResult, error) {
	cc, err := c.conn()
	if err != nil {
		return JoinResult{}, err
	}
	res, err := cc.join(ctx, req)
	if err != nil {
		return JoinResult{}, err
	}
	c.mu.Lock()
	c.id, c.join, c.joined = res.ID, req, true
	c.mu.Unlock()
	return res, nil
}

// Signal sends payload (any JSON value, such as an SDP offer or an ICE
// candidate) to peer to in our room. It returns once the server has queued
// it for the recipient: errors.Is(err, ErrUnknownPeer) when the peer is not
// (or no longer) in the room.
func (c *Client) Signal(ctx context.Context, to string, payload json.RawMessage) error {
	if err := checkPayload(payload); err != nil {
		return err
	}
	cc, err := c.conn()
	if err != nil {
		return err
	}
	return remoteErr(cc.rc.Call(ctx, methodSend, nil, sendParams{To: to, Payload: jsontext.Value(payload)}))
}

// checkPayload refuses what cannot travel: invalid JSON, and the
// placeholder form {"$bin":N} that binchannel reserves for binary values.
func checkPayload(p json.RawMessage) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty payload", ErrBadRequest)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(p))
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: payload is not valid JSON: %v", ErrBadRequest, err)
		}
		if tok.Kind() == '"' && tok.String() == binchannel.PlaceholderKey {
			return fmt.Errorf("%w: payload may not contain the string %q (reserved by binchannel)", ErrBadRequest, binchannel.PlaceholderKey)
		}
	}
}

// Leave leaves the room; the connection stays open and may join again.
func (c *Client) Leave(ctx context.Context) error {
	cc, err := c.conn()
	if err != nil {
		return err
	}
	err = remoteErr(cc.rc.Call(ctx, methodLeave, nil))
	if err == nil {
		c.mu.Lock()
		c.id, c.joined = "", false
		c.mu.Unlock()
	}
	return err
}

// Close closes the connection and stops reconnecting; events not yet read
// are dropped. It waits for the client's goroutines to end and returns nil.
func (c *Client) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	<-c.pumped
	return nil
}

func (c *Client) conn() (*clientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		if errors.Is(c.err, ErrClosed) {
			return nil, c.err
		}
		return nil, fmt.Errorf("%w: %w", ErrClosed, c.err)
	}
	return c.cur, nil
}

// remoteErr turns an *rpc.Error from the server into a *RemoteError.
func remoteErr(err error) error {
	if err == nil {
		return nil
	}
	var re *rpc.Error
	if errors.As(err, &re) {
		return &RemoteError{Sentinel: sentinelForCode(int(re.Code)), RPC: re}
	}
	if errors.Is(err, rpc.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// run watches the current connection, reconnects if asked, and finishes
// the client.
func (c *Client) run(cc *clientConn) {
	for {
		select {
		case <-c.stop:
			cc.close()
			<-cc.rc.Done()
			c.finish(ErrClosed)
			return
		case <-cc.rc.Done():
		}
		lost := cc.rc.Err()
		cc.lostShutdown()
		if !c.opts.Reconnect {
			c.finish(fmt.Errorf("signaling: connection lost: %w", lost))
			return
		}
		next, err := c.reconnect()
		if err != nil {
			c.finish(err)
			return
		}
		cc = next
	}
}

// reconnect redials with backoff and rejoins.
func (c *Client) reconnect() (*clientConn, error) {
	delay := c.opts.ReconnectMin
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(delay)
		select {
		case <-c.stop:
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		cc, err := c.redialOnce()
		if err == nil {
			return cc, nil
		}
		c.opts.Logger.Info("signaling: reconnect failed", "attempt", attempt, "err", err)
		var de *DialError
		if errors.As(err, &de) && de.StatusCode == 403 ||
			errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) {
			return nil, fmt.Errorf("signaling: reconnect refused: %w", err) // retrying cannot help
		}
		if c.opts.ReconnectAttempts > 0 && attempt >= c.opts.ReconnectAttempts {
			return nil, fmt.Errorf("signaling: gave up reconnecting after %d attempts: %w", attempt, err)
		}
		delay = min(2*delay, c.opts.ReconnectMax)
	}
}

func (c *Client) redialOnce() (*clientConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Dialer.HandshakeTimeout+c.opts.PongTimeout)
	defer cancel()
	go func() { // Close interrupts a redial
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	cc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	req, joined := c.join, c.joined
	c.mu.Unlock()
	var res JoinResult
	if joined {
		if res, err = cc.join(ctx, req); err != nil {
			cc.close()
			<-cc.rc.Done()
			return nil, err
		}
	}
	c.mu.Lock()
	c.cur = cc
	if joined {
		c.id = res.ID
	}
	c.mu.Unlock()
	c.queue(Event{Kind: EventReconnect, Peer: res.ID, Peers: res.Members})
	return cc, nil
}

// finish records err, closes Done and tells pump to close the event stream
// once it is drained.
func (c *Client) finish(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	c.qmu.Lock()
	c.quit = true
	c.qmu.Unlock()
	c.wake()
	close(c.done)
}

// queue adds ev to the events not yet read; false when the reader is
// EventBuffer events behind.
func (c *Client) queue(ev Event) bool {
	c.qmu.Lock()
	if len(c.q) >= c.opts.EventBuffer {
		c.qmu.Unlock()
		return false
	}
	c.q = append(c.q, ev)
	c.qmu.Unlock()
	c.wake()
	return true
}

func (c *Client) wake() {
	select {
	case c.qsig <- struct{}{}:
	default:
	}
}

// pump moves queued events to the events channel, in order, and closes it
// at the end.
func (c *Client) pump() {
	defer close(c.pumped)
	defer close(c.events)
	for {
		c.qmu.Lock()
		q, quit := c.q, c.quit
		c.q = nil
		c.qmu.Unlock()
		for _, ev := range q {
			select {
			case c.events <- ev:
			case <-c.stop:
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		if quit {
			return
		}
		select {
		case <-c.qsig:
		case <-c.stop:
			return
		}
	}
}

// clientConn is one connection of a Client.
type clientConn struct {
	c    *Client
	ws   *websocket.Conn
	live *liveness // nil when client pings are off
	rc   *rpc.Conn

	mu      sync.Mutex // guards next, pending, shutdown; held while queueing, to keep order
	next    uint64
	pending map[uint64]*wireEvent
	// shutdown is set when the server said it is stopping, by a shutdown
	// event or by a close frame 1001 "shutdown" (which arrives after the
	// event, so it stands in for an event lost while the connection
	// closed).
	shutdown   bool
	closeFrame atomic.Bool
}

// maxReorder bounds events held while waiting for an earlier one.
const maxReorder = 1024

func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	ws, resp, err := c.opts.Dialer.DialContext(ctx, c.url, c.opts.Header)
	if err != nil {
		if resp != nil {
			return nil, &DialError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("signaling: dial: %w", err)
	}
	cc := &clientConn{c: c, ws: ws, next: 1, pending: make(map[uint64]*wireEvent)}
	ws.SetCloseHandler(func(code int, text string) error {
		if code == websocket.CloseGoingAway && text == ReasonShutdown {
			cc.closeFrame.Store(true)
		}
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		return nil
	})
	if c.opts.PingInterval > 0 {
		cc.live = newLiveness(ws, c.opts.PingInterval, c.opts.PongTimeout, func() { _ = ws.Close() })
	}
	ready := make(chan struct{})
	t := &meteredTransport{
		Transport: binchannel.NewWebSocket(ws, binchannel.WebSocketOptions{MaxMessageSize: c.opts.MaxMessageSize}),
		live:      cc.live,
		onEnd:     cc.end,
		ready:     ready,
	}
	ch := binchannel.NewWithOptions(t, channelOptions(c.opts.MaxMessageSize))
	cc.rc = rpc.NewWithOptions(ch, rpc.Options{MaxConcurrency: 1, IdleWorkers: -1})
	if err := cc.rc.Register(methodEvent, cc.onEvent); err != nil {
		panic(err) // fixed signature: a failure is a bug here
	}
	close(ready)
	return cc, nil
}

func (cc *clientConn) join(ctx context.Context, req JoinRequest) (JoinResult, error) {
	var res JoinResult
	err := cc.rc.Call(ctx, methodJoin, &res, joinParams{Room: req.Room, Role: req.Role, Token: req.Token})
	if err != nil {
		return JoinResult{}, remoteErr(err)
	}
	res.Peers = make([]string, len(res.Members))
	for i, m := range res.Members {
		res.Peers[i] = m.ID
	}
	return res, nil
}

// onEvent receives signal.event notifications, which package rpc may run
// concurrently, and queues them in seq order. It never blocks.
func (cc *clientConn) onEvent(ev *wireEvent) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if ev == nil {
		return
	}
	if ev.Seq < cc.next || ev.Seq-cc.next >= maxReorder {
		cc.c.opts.Logger.Warn("signaling: event out of sequence, closing", "seq", ev.Seq, "want", cc.next)
		cc.close()
		return
	}
	cc.pending[ev.Seq] = ev
	for {
		e, ok := cc.pending[cc.next]
		if !ok {
			return
		}
		delete(cc.pending, cc.next)
		cc.next++
		if e.Kind == EventShutdown {
			cc.shutdown = true
		}
		if !cc.c.queue(e.event()) {
			cc.c.opts.Logger.Warn("signaling: events not read, closing")
			cc.close()
			return
		}
	}
}

func (ev *wireEvent) event() Event {
	e := Event{Kind: ev.Kind, Peer: ev.Peer, Role: ev.Role, Reason: ev.Reason}
	if len(ev.Payload) > 0 {
		e.Payload = json.RawMessage(ev.Payload)
	}
	return e
}

// lostShutdown queues the shutdown event the close frame announced when the
// event itself did not arrive. Call it once the rpc.Conn is done.
func (cc *clientConn) lostShutdown() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closeFrame.Load() && !cc.shutdown {
		cc.shutdown = true
		cc.c.queue(Event{Kind: EventShutdown})
	}
}

func (cc *clientConn) close() {
	_ = cc.rc.Close()
	_ = cc.ws.Close()
}

func (cc *clientConn) end() {
	if cc.live != nil {
		cc.live.stop()
	}
	_ = cc.ws.Close()
}
