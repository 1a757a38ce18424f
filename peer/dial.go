package peer

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/peerd/peerd/signaling"
)

// clientSignaler sends signals to one peer through a signaling client and
// receives that peer's signals from a demultiplexing pump.
type clientSignaler struct {
	cl *signaling.Client
	to string
	in chan []byte
}

func (s *clientSignaler) Send(ctx context.Context, b []byte) error {
	return s.cl.Signal(ctx, s.to, json.RawMessage(b))
}

func (s *clientSignaler) Recv() <-chan []byte { return s.in }

// joinRoom makes the Pion API for o, connects to the signaling server and
// joins room, with role unless o.Signaling names a role or carries a token.
func joinRoom(ctx context.Context, signalingURL, room string, o Options, role signaling.Role) (*webrtc.API, *signaling.Client, signaling.JoinResult, error) {
	var jr signaling.JoinResult
	api, err := NewAPI(o)
	if err != nil {
		return nil, nil, jr, err
	}
	so := o.Signaling
	if so.Role == "" && so.Token == "" {
		so.Role = role
	}
	cl, err := signaling.Dial(ctx, signalingURL, so)
	if err != nil {
		return nil, nil, jr, fmt.Errorf("peer: dial signaling: %w", err)
	}
	if jr, err = cl.Join(ctx, room); err != nil {
		_ = cl.Close()

		return nil, nil, jr, fmt.Errorf("peer: join %q: %w", room, err)
	}

	return api, cl, jr, nil
}

// signalQueue is the per-peer buffer between a pump and a connection.
const signalQueue = 64

// Dial joins room on the signaling server at signalingURL (ws:// or
// wss://; as a subscriber unless Options.Signaling says otherwise), offers a connection to Options.Peer (default: the first
// publisher in the room, waiting for one if there is none) and returns once
// the data channel is open, with rpc running on it. The signaling
// connection stays open for late candidates and closes with the returned
// connection.
func Dial(ctx context.Context, signalingURL, room string, o Options) (*Conn, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	api, cl, jr, err := joinRoom(ctx, signalingURL, room, o, signaling.RoleSubscriber)
	if err != nil {
		return nil, err
	}
	target := o.Peer
	if target == "" {
		for _, m := range jr.Members {
			if m.Role == signaling.RolePublisher {
				target = m.ID

				break
			}
		}
	}
	if target == "" {
		if target, err = awaitPublisher(ctx, cl); err != nil {
			_ = cl.Close()

			return nil, err
		}
	}

	sig := &clientSignaler{cl: cl, to: target, in: make(chan []byte, signalQueue)}
	left := make(chan struct{})     // closed if the target leaves
	pumpDone := make(chan struct{}) // closed when the pump has ended
	stopPump := make(chan struct{}) // closed to stop the pump
	go func() {
		defer close(pumpDone)
		leftOnce := false
		for {
			select {
			case <-stopPump:
				return
			case ev, ok := <-cl.Events():
				if !ok {
					return
				}
				if ev.Peer != target {
					continue
				}
				switch ev.Kind {
				case signaling.EventSignal:
					select {
					case sig.in <- ev.Payload:
					case <-stopPump:
						return
					}
				case signaling.EventLeave:
					if !leftOnce {
						leftOnce = true
						close(left)
					}
				default:
				}
			}
		}
	}()
	stop := func() {
		close(stopPump)
		_ = cl.Close()
		<-pumpDone
	}

	// The target leaving before the channel opens ends the negotiation.
	nctx, ncancel := context.WithCancelCause(ctx)
	defer ncancel(nil)
	go func() {
		select {
		case <-left:
			ncancel(fmt.Errorf("%w: peer %s left the room", ErrRemoteClosed, target))
		case <-nctx.Done():
		}
	}()
	c, err := establish(nctx, api, o, true, sig)
	if err != nil {
		stop()
		if cause := context.Cause(nctx); cause != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("peer: dial: %w", cause)
		}

		return nil, fmt.Errorf("peer: dial: %w", err)
	}
	c.setPeer(target)
	c.onClose(stop)

	return c, nil
}

// awaitPublisher waits for the first publisher to join.
func awaitPublisher(ctx context.Context, cl *signaling.Client) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("peer: no publisher in the room: %w", ctx.Err())
		case ev, ok := <-cl.Events():
			if !ok {
				return "", fmt.Errorf("peer: signaling closed: %w", cl.Err())
			}
			if ev.Kind == signaling.EventJoin && ev.Role == signaling.RolePublisher {
				return ev.Peer, nil
			}
		}
	}
}
