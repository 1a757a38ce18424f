package endpoint

import (
	"context"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// Event describes one request, response or error seen by a Server.
type Event struct {
	// Endpoint is "http", "tcp" or "ws".
	Endpoint string
	// Remote is the client's network address.
	Remote string
	// Method is the requested method; empty for an error answering input
	// that named none (parse errors, invalid requests).
	Method string
	// ID is the request id as received (raw JSON); nil for notifications.
	ID jsontext.Value
	// Duration is the time from reading the request to writing its
	// response (OnResponse and OnError for a response), else 0.
	Duration time.Duration
	// Err is the error sent in an error response (an *rpc.Error) or the
	// failure that ended a connection; nil otherwise.
	Err error
}

// Hooks observe a Server's traffic, for logging and metrics. Each hook is
// optional, called outside all locks, possibly from many goroutines at
// once, and must not block for long: it runs on the path of the message.
type Hooks struct {
	// OnRequest is called for each request read (calls and
	// notifications), before its handler runs.
	OnRequest func(Event)
	// OnResponse is called for each response written, successful or not.
	OnResponse func(Event)
	// OnError is called for each error response written and for each
	// connection that ends on a failure other than an orderly close.
	OnError func(Event)
}

func (h *Hooks) active() bool {
	return h.OnRequest != nil || h.OnResponse != nil || h.OnError != nil
}

// maxTracked bounds the request start times a tracker keeps per
// connection; requests past it are reported without a duration.
const maxTracked = 4096

// tracker matches the responses a server writes to the requests it read.
type tracker struct {
	hooks    *Hooks
	endpoint string
	remote   string
	maxBatch int

	// mu guards started.
	mu      sync.Mutex
	started map[string]startInfo
}

type startInfo struct {
	method string
	at     time.Time
}

func newTracker(h *Hooks, endpoint, remote string, maxBatch int) *tracker {
	if !h.active() {
		return nil
	}
	return &tracker{hooks: h, endpoint: endpoint, remote: remote, maxBatch: maxBatch,
		started: make(map[string]startInfo)}
}

func (t *tracker) event(method string, id jsontext.Value) Event {
	return Event{Endpoint: t.endpoint, Remote: t.remote, Method: method, ID: id}
}

// read observes an incoming message.
func (t *tracker) read(msg []byte) {
	if t == nil {
		return
	}
	env, err := rpc.ParseEnvelope(msg, t.maxBatch)
	if err != nil {
		return // the error response is reported when written
	}
	t.readEnv(&env)
}

// readEnv observes an incoming, already parsed message.
func (t *tracker) readEnv(env *rpc.Envelope) {
	if t == nil {
		return
	}
	now := time.Now()
	for i := range env.Msgs {
		m := &env.Msgs[i]
		if m.Kind != rpc.KindRequest {
			continue
		}
		if !m.IsNotification() {
			t.mu.Lock()
			if len(t.started) < maxTracked {
				t.started[string(m.ID)] = startInfo{method: m.Method, at: now}
			}
			t.mu.Unlock()
		}
		if t.hooks.OnRequest != nil {
			t.hooks.OnRequest(t.event(m.Method, m.ID))
		}
	}
}

// wrote observes an outgoing message.
func (t *tracker) wrote(msg []byte) {
	if t == nil {
		return
	}
	env, err := rpc.ParseEnvelope(msg, 0)
	if err != nil {
		return
	}
	now := time.Now()
	for i := range env.Msgs {
		m := &env.Msgs[i]
		if m.Kind != rpc.KindResponse {
			continue
		}
		t.mu.Lock()
		st, ok := t.started[string(m.ID)]
		delete(t.started, string(m.ID))
		t.mu.Unlock()
		ev := t.event(st.method, m.ID)
		if ok {
			ev.Duration = now.Sub(st.at)
		}
		if m.Error != nil {
			ev.Err = m.Error
		}
		if t.hooks.OnResponse != nil {
			t.hooks.OnResponse(ev)
		}
		if m.Error != nil && t.hooks.OnError != nil {
			t.hooks.OnError(ev)
		}
	}
}

// failed reports a connection ending on err.
func (t *tracker) failed(err error) {
	if t == nil || t.hooks.OnError == nil || err == nil {
		return
	}
	ev := t.event("", nil)
	ev.Err = err
	t.hooks.OnError(ev)
}

// trackedStream reports a stream's traffic to a tracker.
type trackedStream struct {
	rpcStream
	t *tracker
}

// rpcStream is rpc.MessageStream, named here to embed it.
type rpcStream = interface {
	ReadMessage(ctx context.Context) ([]byte, error)
	WriteMessage(ctx context.Context, msg []byte) error
	Close() error
}

func track(s rpcStream, t *tracker) rpcStream {
	if t == nil {
		return s
	}
	return &trackedStream{rpcStream: s, t: t}
}

func (s *trackedStream) ReadMessage(ctx context.Context) ([]byte, error) {
	b, err := s.rpcStream.ReadMessage(ctx)
	if err == nil {
		s.t.read(b)
	}
	return b, err
}

func (s *trackedStream) WriteMessage(ctx context.Context, msg []byte) error {
	err := s.rpcStream.WriteMessage(ctx, msg)
	if err == nil {
		s.t.wrote(msg)
	}
	return err
}
