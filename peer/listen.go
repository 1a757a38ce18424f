package peer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peerd/peerd/signaling"
)

// Listener answers the offers that peers send it through a signaling
// server; each offer becomes its own Conn, handed out by Accept.
//
// Concurrency: every method is safe from any goroutine. Close stops
// answering and closes connections not yet accepted; accepted connections
// belong to the caller and keep running.
type Listener struct {
	o       Options
	api     *webrtc.API
	cl      *signaling.Client
	id      string
	ready   chan *Conn    // established, not yet accepted; capacity Backlog
	closing chan struct{} // closed by Close
	once    sync.Once
	wg      sync.WaitGroup // pump and negotiation goroutines

	mu    sync.Mutex           // guards peers and slots
	peers map[string]*peerLink // by remote signaling id
	slots int                  // negotiating + ready connections
}

// peerLink is one remote peer's signal path and negotiation.
type peerLink struct {
	sig    *clientSignaler
	cancel context.CancelCauseFunc // ends the negotiation
}

// Listen joins room on the signaling server at signalingURL as a
// publisher (unless Options.Signaling says otherwise) and answers offers.
func Listen(ctx context.Context, signalingURL, room string, o Options) (*Listener, error) {
	o = o.withDefaults()
	api, cl, jr, err := joinRoom(ctx, signalingURL, room, o, signaling.RolePublisher)
	if err != nil {
		return nil, err
	}
	l := &Listener{
		o:       o,
		api:     api,
		cl:      cl,
		id:      jr.ID,
		ready:   make(chan *Conn, o.Backlog),
		closing: make(chan struct{}),
		peers:   make(map[string]*peerLink),
	}
	l.wg.Add(1)
	go l.pump()

	return l, nil
}

// ID is the listener's peer id in the room; dialers may name it in
// Options.Peer.
func (l *Listener) ID() string {
	if id := l.cl.ID(); id != "" {
		return id
	}

	return l.id
}

// Accept returns the next established connection.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.ready:
		l.release()

		return c, nil
	case <-l.closing:
		return nil, fmt.Errorf("%w: listener", ErrClosed)
	case <-l.cl.Done():
		return nil, fmt.Errorf("%w: listener lost signaling: %w", ErrClosed, l.cl.Err())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops answering, ends negotiations under way, closes connections
// not yet accepted and leaves the signaling server. It waits for the
// listener's goroutines.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.closing)
		_ = l.cl.Close()
		l.mu.Lock()
		for _, p := range l.peers {
			p.cancel(fmt.Errorf("%w: listener", ErrClosed))
		}
		l.mu.Unlock()
		l.wg.Wait()
		for {
			select {
			case c := <-l.ready:
				_ = c.Close()
			default:
				return
			}
		}
	})

	return nil
}

func (l *Listener) release() {
	l.mu.Lock()
	l.slots--
	l.mu.Unlock()
}

// pump routes signaling events to the peers' links.
func (l *Listener) pump() {
	defer l.wg.Done()
	for {
		var ev signaling.Event
		var ok bool
		select {
		case <-l.closing:
			return
		case ev, ok = <-l.cl.Events():
			if !ok {
				return
			}
		}
		switch ev.Kind {
		case signaling.EventSignal:
			l.onSignal(ev.Peer, ev.Payload)
		case signaling.EventLeave:
			l.mu.Lock()
			p := l.peers[ev.Peer]
			l.mu.Unlock()
			if p != nil {
				p.cancel(fmt.Errorf("%w: peer %s left the room", ErrRemoteClosed, ev.Peer))
			}
		default:
		}
	}
}

func (l *Listener) onSignal(from string, payload []byte) {
	l.mu.Lock()
	p := l.peers[from]
	l.mu.Unlock()
	if p != nil {
		select {
		case p.sig.in <- payload:
		default:
			p.cancel(fmt.Errorf("%w: peer %s floods signals", ErrProtocol, from))
		}

		return
	}
	m, err := parseSignal(payload)
	if err != nil || m.Type != signalOffer {
		return // stale candidates of an ended connection, or garbage
	}
	l.mu.Lock()
	if l.slots >= l.o.Backlog {
		l.mu.Unlock()
		l.refuse(from, "busy")

		return
	}
	l.slots++
	ctx, cancel := context.WithCancelCause(context.Background())
	p = &peerLink{
		sig:    &clientSignaler{cl: l.cl, to: from, in: make(chan []byte, signalQueue)},
		cancel: cancel,
	}
	p.sig.in <- payload
	l.peers[from] = p
	l.mu.Unlock()

	l.wg.Add(1)
	go l.negotiate(ctx, from, p)
}

// refuseTimeout bounds the best-effort "bye" of a refused offer, which
// holds up the event pump.
const refuseTimeout = 2 * time.Second

// refuse tells a peer we will not answer, best effort.
func (l *Listener) refuse(to, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), refuseTimeout)
	defer cancel()
	_ = l.cl.Signal(ctx, to, encodeSignal(signalMsg{Type: signalBye, Reason: reason}))
}

func (l *Listener) negotiate(ctx context.Context, from string, p *peerLink) {
	defer l.wg.Done()
	tctx, cancel := context.WithTimeout(ctx, l.o.ConnectTimeout)
	defer cancel()
	c, err := establish(tctx, l.api, l.o, false, p.sig)
	p.cancel(nil)
	if err != nil {
		l.forget(from, p)
		l.release()

		return
	}
	// The link stays while the connection lives, for late candidates, and
	// the same peer may connect again once it closes.
	c.setPeer(from)
	c.onClose(func() { l.forget(from, p) })
	select {
	case l.ready <- c: // capacity Backlog >= slots: never blocks
	case <-l.closing:
		l.release()
		_ = c.Close()
	}
}

func (l *Listener) forget(from string, p *peerLink) {
	l.mu.Lock()
	if l.peers[from] == p {
		delete(l.peers, from)
	}
	l.mu.Unlock()
}
