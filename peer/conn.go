package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/rpc"
)

// signaler carries signal payloads (PROTOCOL.md §5) to and from the other
// peer, in order. Recv's channel is closed when the path ends; the
// connection then keeps running on what it has.
type signaler interface {
	Send(ctx context.Context, payload []byte) error
	Recv() <-chan []byte
}

// maxPendingCandidates bounds remote candidates held before the remote
// description is known.
const maxPendingCandidates = 256

// Conn is one peer connection with its data channel.
//
// Concurrency: every method is safe from any goroutine. Close and Shutdown
// are idempotent. The connection closes exactly once, locally or because
// of a failure; Done is closed when every goroutine it started has ended
// and Err then reports the cause.
type Conn struct {
	o       Options
	pc      *webrtc.PeerConnection
	offerer bool
	sig     signaler

	cancelSend context.CancelFunc // stops a Send in flight; called by fail

	ready   chan struct{} // closed once the transport exists
	closing chan struct{} // closed by the first fail
	closed  chan struct{} // closed when all but running handlers has ended
	done    chan struct{} // closed when teardown has finished
	wakeOut chan struct{} // capacity 1: outQ has work
	once    sync.Once
	wg      sync.WaitGroup // signal goroutines

	mu        sync.Mutex // guards the fields below
	state     State
	err       error
	tr        *dcTransport
	ch        *binchannel.Channel // nil with rawTransport
	rc        *rpc.Conn           // nil with rawTransport
	dc        *webrtc.DataChannel
	sdpSent   bool     // our offer/answer is queued; candidates may follow
	held      [][]byte // local candidates waiting for sdpSent
	outQ      [][]byte // payloads for the sender goroutine
	remoteSet bool     // remote description applied
	pending   []webrtc.ICECandidateInit
	discTimer *time.Timer
	closeFns  []func() // run by teardown, in reverse order, outside mu
	fnsTaken  bool     // teardown has taken closeFns
	remoteID  string   // the other peer's signaling id; "" from Pair
}

// webrtcConfig is the PeerConnection configuration: the ICE servers, with
// their credentials.
func (o Options) webrtcConfig() webrtc.Configuration {
	cfg := webrtc.Configuration{}
	for _, s := range o.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{
			URLs: s.URLs, Username: s.Username, Credential: s.Credential,
		})
	}

	return cfg
}

// newConn creates the PeerConnection and starts the signal goroutines. The
// offerer also creates the data channel and sends the offer.
func newConn(api *webrtc.API, o Options, offerer bool, sig signaler) (*Conn, error) {
	pc, err := api.NewPeerConnection(o.webrtcConfig())
	if err != nil {
		return nil, fmt.Errorf("peer: new peer connection: %w", err)
	}
	c := &Conn{
		o:       o,
		pc:      pc,
		offerer: offerer,
		sig:     sig,
		ready:   make(chan struct{}),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
		wakeOut: make(chan struct{}, 1),
	}
	pc.OnICECandidate(c.onLocalCandidate)
	pc.OnConnectionStateChange(c.onPCState)

	sendCtx, cancel := context.WithCancel(context.Background())
	c.cancelSend = cancel
	// Handlers are in place before any signal is read; the signal
	// goroutines start last.
	c.wg.Add(2)
	defer func() {
		go c.sendLoop(sendCtx)
		go c.recvLoop()
	}()

	if offerer {
		ordered := true
		dc, err := pc.CreateDataChannel(o.Label, &webrtc.DataChannelInit{Ordered: &ordered})
		if err != nil {
			c.fail(fmt.Errorf("%w: create data channel: %w", ErrNegotiation, err))

			return c, nil
		}
		c.adopt(dc)
		offer, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(offer)
		}
		if err != nil {
			c.fail(fmt.Errorf("%w: offer: %w", ErrNegotiation, err))

			return c, nil
		}
		c.queueSDP(signalMsg{Type: signalOffer, SDP: offer.SDP})
	} else {
		pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			c.mu.Lock()
			taken := c.dc != nil
			c.mu.Unlock()
			if taken || dc.Label() != o.Label {
				_ = dc.Close()

				return
			}
			c.adopt(dc)
		})
	}

	return c, nil
}

// establish runs newConn and waits until the data channel is open, the
// connection fails, or ctx is done (then the connection is closed).
func establish(ctx context.Context, api *webrtc.API, o Options, offerer bool, sig signaler) (*Conn, error) {
	c, err := newConn(api, o, offerer, sig)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.ready:
		return c, nil
	case <-c.closing:
		<-c.done

		return nil, c.Err()
	case <-ctx.Done():
		c.fail(fmt.Errorf("%w: %w", ErrNegotiation, ctx.Err()))
		<-c.done

		return nil, c.Err()
	}
}

// adopt takes dc as the connection's data channel.
func (c *Conn) adopt(dc *webrtc.DataChannel) {
	c.mu.Lock()
	c.dc = dc
	c.mu.Unlock()
	dc.OnOpen(func() { c.onOpen(dc) })
}

func (c *Conn) onOpen(dc *webrtc.DataChannel) {
	remote := defaultRemoteMaxMessageSize
	if d := c.pc.RemoteDescription(); d != nil {
		remote = remoteMaxMessageSize(d.SDP)
	}
	pionMax := 0
	if s := c.pc.SCTP(); s != nil {
		pionMax = int(s.GetCapabilities().MaxMessageSize)
	}
	maxSize := effectiveMaxMessageSize(remote, pionMax, c.o.MaxMessageSize)

	var tr *dcTransport
	if c.o.onMessage {
		tr = newDCTransport(dc, nil, c.o, maxSize, c.fail)
	} else {
		rwc, err := dc.DetachWithDeadline()
		if err != nil {
			c.fail(fmt.Errorf("%w: detach: %w", ErrNegotiation, err))

			return
		}
		tr = newDCTransport(dc, rwc, c.o, maxSize, c.fail)
	}

	var (
		ch *binchannel.Channel
		rc *rpc.Conn
	)
	if !c.o.rawTransport {
		co := c.o.Channel
		if co.ChunkSize <= 0 {
			co.ChunkSize = maxSize // binchannel subtracts its header
		}
		ch = binchannel.NewWithOptions(tr, co)
		// rpc starts its read loop at once; a failure from here on reaches
		// it through the transport, and teardown waits for it.
		rc = rpc.NewWithOptions(ch, c.o.RPC)
	}

	c.mu.Lock()
	if c.state == StateClosed {
		cause := c.err
		c.mu.Unlock()
		tr.closeWith(cause)
		if rc != nil {
			<-rc.Done()
			_ = ch.Close()
		}

		return
	}
	c.tr, c.ch, c.rc = tr, ch, rc
	c.state = StateConnected
	c.mu.Unlock()
	close(c.ready)
}

func (c *Conn) onPCState(s webrtc.PeerConnectionState) {
	if c.o.Logger != nil {
		c.o.Logger.Debug("peer: connection state", "state", s.String(), "peer", c.Peer())
	}
	switch s {
	case webrtc.PeerConnectionStateConnected:
		c.mu.Lock()
		if c.discTimer != nil {
			c.discTimer.Stop()
			c.discTimer = nil
		}
		if c.state == StateDisconnected {
			c.state = StateConnected
		}
		c.mu.Unlock()
	case webrtc.PeerConnectionStateDisconnected:
		c.mu.Lock()
		if c.state != StateClosed && c.discTimer == nil {
			if c.tr != nil {
				c.state = StateDisconnected
			}
			c.discTimer = time.AfterFunc(c.o.DisconnectTimeout, func() { c.fail(ErrICEDisconnected) })
		}
		c.mu.Unlock()
	case webrtc.PeerConnectionStateFailed:
		c.fail(ErrICEFailed)
	case webrtc.PeerConnectionStateClosed:
		c.fail(ErrRemoteClosed)
	default:
	}
}

func (c *Conn) onLocalCandidate(cand *webrtc.ICECandidate) {
	if cand == nil {
		return // end of gathering: nothing to send (PROTOCOL.md §5)
	}
	init := cand.ToJSON()
	b := encodeSignal(signalMsg{Type: signalCandidate, Candidate: &iceCandidate{
		Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		UsernameFragment: init.UsernameFragment,
	}})
	c.mu.Lock()
	if c.sdpSent {
		c.outQ = append(c.outQ, b)
	} else {
		c.held = append(c.held, b)
	}
	c.mu.Unlock()
	c.kickSender()
}

// queueSDP queues our offer or answer, then the candidates gathered so far.
func (c *Conn) queueSDP(m signalMsg) {
	if c.o.mungeSDP != nil {
		m.SDP = c.o.mungeSDP(m.SDP)
	}
	c.mu.Lock()
	c.outQ = append(c.outQ, encodeSignal(m))
	c.outQ = append(c.outQ, c.held...)
	c.held = nil
	c.sdpSent = true
	c.mu.Unlock()
	c.kickSender()
}

func (c *Conn) kickSender() {
	select {
	case c.wakeOut <- struct{}{}:
	default:
	}
}

// sendLoop sends queued payloads in order until the connection closes.
func (c *Conn) sendLoop(ctx context.Context) {
	defer c.wg.Done()
	for {
		select {
		case <-c.closing:
			return
		case <-c.wakeOut:
		}
		c.mu.Lock()
		q := c.outQ
		c.outQ = nil
		c.mu.Unlock()
		for _, b := range q {
			if err := c.sig.Send(ctx, b); err != nil {
				if c.State() == StateConnecting {
					c.fail(fmt.Errorf("%w: signal: %w", ErrNegotiation, err))
				}

				return
			}
		}
	}
}

// recvLoop applies incoming signal payloads until the path ends or the
// connection closes.
func (c *Conn) recvLoop() {
	defer c.wg.Done()
	in := c.sig.Recv()
	for {
		select {
		case <-c.closing:
			return
		case b, ok := <-in:
			if !ok {
				return
			}
			if err := c.handleSignal(b); err != nil {
				c.fail(err)

				return
			}
		}
	}
}

func (c *Conn) handleSignal(b []byte) error {
	m, err := parseSignal(b)
	if err != nil {
		return err
	}
	switch m.Type {
	case signalOffer:
		c.mu.Lock()
		dup := c.remoteSet
		c.mu.Unlock()
		if c.offerer || dup {
			return fmt.Errorf("%w: unexpected offer", ErrProtocol)
		}
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("%w: remote offer: %w", ErrNegotiation, err)
		}
		answer, err := c.pc.CreateAnswer(nil)
		if err == nil {
			err = c.pc.SetLocalDescription(answer)
		}
		if err != nil {
			return fmt.Errorf("%w: answer: %w", ErrNegotiation, err)
		}
		c.queueSDP(signalMsg{Type: signalAnswer, SDP: answer.SDP})

		return c.remoteDescriptionSet()
	case signalAnswer:
		c.mu.Lock()
		dup := c.remoteSet
		c.mu.Unlock()
		if !c.offerer || dup {
			return fmt.Errorf("%w: unexpected answer", ErrProtocol)
		}
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("%w: remote answer: %w", ErrNegotiation, err)
		}

		return c.remoteDescriptionSet()
	case signalCandidate:
		if m.Candidate == nil || m.Candidate.Candidate == "" {
			return nil // end-of-candidates marker
		}
		init := webrtc.ICECandidateInit{
			Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
			SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment,
		}
		c.mu.Lock()
		if !c.remoteSet {
			if len(c.pending) >= maxPendingCandidates {
				c.mu.Unlock()

				return fmt.Errorf("%w: more than %d early candidates", ErrProtocol, maxPendingCandidates)
			}
			c.pending = append(c.pending, init)
			c.mu.Unlock()

			return nil
		}
		c.mu.Unlock()
		c.addCandidate(init)

		return nil
	case signalBye:
		if m.Reason != "" {
			return fmt.Errorf("%w: %s", ErrRemoteClosed, truncate(m.Reason, 200))
		}

		return ErrRemoteClosed
	}

	return nil
}

func (c *Conn) remoteDescriptionSet() error {
	c.mu.Lock()
	c.remoteSet = true
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pending {
		c.addCandidate(p)
	}

	return nil
}

// addCandidate applies a remote candidate. A candidate we cannot use (an
// unsupported transport, an unresolvable name) is skipped, as browsers do.
func (c *Conn) addCandidate(init webrtc.ICECandidateInit) {
	if err := c.pc.AddICECandidate(init); err != nil && c.o.Logger != nil {
		c.o.Logger.Debug("peer: skipped remote candidate", "candidate", init.Candidate, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}

	return s
}

// fail closes the connection once with cause and starts the teardown.
func (c *Conn) fail(cause error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = cause
		c.state = StateClosed
		if c.discTimer != nil {
			c.discTimer.Stop()
			c.discTimer = nil
		}
		tr := c.tr
		c.mu.Unlock()
		close(c.closing)
		c.cancelSend()
		if c.o.Logger != nil {
			c.o.Logger.Debug("peer: closing", "cause", cause, "peer", c.Peer())
		}
		if tr != nil {
			if errors.Is(cause, ErrRemoteClosed) {
				// The remote closed on purpose after sending what it
				// meant to: what already arrived is still read.
				tr.closeAfterReads(cause)
			} else {
				tr.closeWith(cause)
			}
		}
		go c.teardown()
	})
}

// teardown runs in its own goroutine (never inside a Pion callback, where
// GracefulClose would wait on itself). It closes c.closed once everything
// but handlers still running has ended, and c.done once they have too, so
// that a handler may close its own connection.
func (c *Conn) teardown() {
	c.mu.Lock()
	fns := c.closeFns
	c.closeFns, c.fnsTaken = nil, true
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	c.mu.Lock()
	rc, ch, tr := c.rc, c.ch, c.tr
	c.mu.Unlock()
	if rc != nil && tr != nil {
		// The transport is closed with the cause, so the rpc read loop
		// reads what may still be read (a graceful remote close) and
		// then ends with the cause, failing every pending call naming
		// it. The peer connection stays open until then.
		select {
		case <-tr.readsDone:
		case <-rc.Done():
		}
	}
	_ = c.pc.GracefulClose()
	c.wg.Wait()
	close(c.closed)
	if rc != nil {
		// Running handlers see their contexts cancelled; Done waits for
		// them to return.
		<-rc.Done()
	}
	if ch != nil {
		_ = ch.Close()
	}
	close(c.done)
}

// onClose registers fn to run during teardown (later registrations
// first), before the peer connection is closed. If teardown has already
// passed that point, fn runs now.
func (c *Conn) onClose(fn func()) {
	c.mu.Lock()
	if c.fnsTaken {
		c.mu.Unlock()
		fn()

		return
	}
	c.closeFns = append(c.closeFns, fn)
	c.mu.Unlock()
}

// RPC returns the rpc connection carried by the data channel: register
// local functions on it and call the other peer's. Closing it closes the
// connection. Calls pending when the connection fails return an error
// wrapping rpc.ErrClosed and the cause (ErrRemoteClosed, ErrICEFailed, ...).
func (c *Conn) RPC() *rpc.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.rc
}

// Transport returns the bare data channel as a binchannel.Transport when
// the connection was made with Options.Raw (nil otherwise, since binchannel
// and rpc then own it): one message per WriteMessage, at most
// MaxMessageSize bytes, with the watermark flow control of Options. It
// exists for benchmarking baselines.
func (c *Conn) Transport() binchannel.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.o.rawTransport || c.tr == nil {
		return nil
	}

	return c.tr
}

// MaxMessageSize is the negotiated largest message this side sends.
func (c *Conn) MaxMessageSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tr == nil {
		return 0
	}

	return c.tr.maxSize
}

// Peer is the other peer's id on the signaling server ("" for Pair).
func (c *Conn) Peer() string {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.remoteID
}

func (c *Conn) setPeer(id string) {
	c.mu.Lock()
	c.remoteID = id
	c.mu.Unlock()
}

// State reports the connection's life stage.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.state
}

// Err reports why the connection closed (nil while it is open).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.err
}

// Done is closed when the connection has closed and all its goroutines
// have ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close drains queued data for at most Options.DrainTimeout, then closes.
// It waits until the connection has closed and its goroutines have ended,
// except rpc handlers still running: their contexts are cancelled and Done
// is closed once they have returned. So a handler may close its own
// connection.
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.DrainTimeout)
	defer cancel()

	return c.Shutdown(ctx)
}

// Shutdown is Close with the drain bounded by ctx instead. It returns the
// drain's error, if any; the connection is closed either way.
func (c *Conn) Shutdown(ctx context.Context) error {
	var err error
	select {
	case <-c.closing:
	default:
		c.mu.Lock()
		tr, ch := c.tr, c.ch
		c.mu.Unlock()
		if ch != nil {
			// Packets queued in binchannel behind a write in progress
			// (a notification sent just before Shutdown, say) go to the
			// channel first: the drain below refuses new writes.
			if ferr := ch.Flush(ctx); ferr != nil && !errors.Is(ferr, binchannel.ErrClosed) {
				err = fmt.Errorf("peer: drain: %w", ferr)
			}
		}
		if tr != nil && err == nil {
			if derr := tr.drain(ctx); derr != nil && !errors.Is(derr, ErrClosed) {
				err = derr
			}
		}
		c.fail(ErrClosed)
	}
	<-c.closed

	return err
}
