package endpoint

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// dispatch serves one HTTP body and returns the bytes to answer with, or
// nil when nothing is to be answered. It runs a short-lived rpc.Conn over a
// one-message stream and returns once every handler it started returned.
// When ctx ends first, the handlers' contexts are cancelled and ok is
// false.
//
// Notifications are turned into calls with private ids so that their
// handlers are awaited too; their responses are dropped from the answer.
func (s *Server) dispatch(ctx context.Context, body []byte, tr *tracker) (resp []byte, ok bool) {
	env, err := rpc.ParseEnvelope(body, s.connOpts.MaxBatch)
	if err != nil {
		var e *rpc.Error
		if !errors.As(err, &e) {
			e = rpc.ErrParse
		}
		resp := rpc.AppendResponse(nil, false, nil, nil, e)
		tr.wrote(resp)
		return resp, true
	}
	tr.readEnv(&env)
	feed, private := rewrite(body, &env)
	if feed == nil {
		return nil, true
	}
	answer, ok := s.runOnce(ctx, feed)
	if !ok {
		return nil, false
	}
	resp = filterPrivate(answer, private)
	tr.wrote(resp)
	return resp, true
}

// rewrite returns the message to feed to the Conn, with every notification
// turned into a call under a private id (returned as a set of raw ids).
// It returns nil when no request is left (only responses were sent).
func rewrite(body []byte, env *rpc.Envelope) (feed []byte, private map[string]bool) {
	taken := make(map[string]bool, len(env.Msgs))
	for i := range env.Msgs {
		if id := env.Msgs[i].ID; id != nil {
			taken[string(id)] = true
		}
	}
	nextID := func(i int) jsontext.Value {
		p := "~n"
		for {
			id := jsontext.Value(strconv.Quote(p + strconv.Itoa(i)))
			if !taken[string(id)] {
				if private == nil {
					private = make(map[string]bool)
				}
				private[string(id)] = true
				return id
			}
			p = "~" + p
		}
	}
	if !env.Batch {
		m := &env.Msgs[0]
		switch {
		case m.Kind == rpc.KindResponse:
			return nil, nil
		case m.IsNotification():
			return rpc.AppendRequest(nil, nextID(0), m.Method, m.Params), private
		}
		return body, nil
	}
	var elems []jsontext.Value
	if err := json.Unmarshal(body, &elems); err != nil || len(elems) != len(env.Msgs) {
		return body, nil // cannot happen: ParseEnvelope accepted it
	}
	out := make([]byte, 0, len(body)+16*len(elems))
	out = append(out, '[')
	n := 0
	for i := range env.Msgs {
		m := &env.Msgs[i]
		if m.Kind == rpc.KindResponse {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		if m.IsNotification() {
			out = rpc.AppendRequest(out, nextID(i), m.Method, m.Params)
		} else {
			out = append(out, elems[i]...)
		}
	}
	if n == 0 {
		return nil, nil
	}
	return append(out, ']'), private
}

// filterPrivate drops the responses to private ids from answer; nil when
// none is left.
func filterPrivate(answer []byte, private map[string]bool) []byte {
	if answer == nil || len(private) == 0 {
		return answer
	}
	env, err := rpc.ParseEnvelope(answer, len(private)+rpc.DefaultMaxBatch)
	if err != nil {
		return answer
	}
	if !env.Batch {
		if private[string(env.Msgs[0].ID)] {
			return nil
		}
		return answer
	}
	var elems []jsontext.Value
	if err := json.Unmarshal(answer, &elems); err != nil || len(elems) != len(env.Msgs) {
		return answer
	}
	out := make([]byte, 0, len(answer))
	out = append(out, '[')
	n := 0
	for i := range env.Msgs {
		if env.Msgs[i].Kind == rpc.KindResponse && private[string(env.Msgs[i].ID)] {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, elems[i]...)
	}
	if n == 0 {
		return nil
	}
	return append(out, ']')
}

// runOnce feeds msg to a fresh rpc.Conn and returns its answer; ok is false
// when ctx ends first.
func (s *Server) runOnce(ctx context.Context, msg []byte) (answer []byte, ok bool) {
	st := newOneShot(msg)
	c := rpc.NewWithOptions(rpc.NewStreamTransport(st), s.connOpts)
	select {
	case answer = <-st.answer:
		ok = true
	case <-ctx.Done():
	}
	_ = c.Close()
	<-c.Done()
	return answer, ok
}

// oneShot is the stream under an HTTP request's Conn: it yields the
// request, then the error responses it makes up for calls the server tries
// to make to the HTTP client, and catches the first response written.
type oneShot struct {
	in     chan []byte
	answer chan []byte // the first message holding responses; buffered 1
	done   chan struct{}

	// mu guards answered.
	mu       sync.Mutex
	answered bool

	closeOnce sync.Once
}

func newOneShot(msg []byte) *oneShot {
	s := &oneShot{in: make(chan []byte, 16), answer: make(chan []byte, 1), done: make(chan struct{})}
	s.in <- msg
	return s
}

func (s *oneShot) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-s.in:
		return m, nil
	case <-s.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// noCallsError answers calls the server makes to an HTTP client.
var noCallsError = &rpc.Error{Code: rpc.CodeMethodNotFound, Message: "Method not found: an HTTP client takes no calls"}

func (s *oneShot) WriteMessage(ctx context.Context, msg []byte) error {
	env, err := rpc.ParseEnvelope(msg, 0)
	if err != nil {
		return nil
	}
	hasResponse := false
	for i := range env.Msgs {
		m := &env.Msgs[i]
		switch {
		case m.Kind == rpc.KindResponse:
			hasResponse = true
		case m.Kind == rpc.KindRequest && !m.IsNotification():
			// A callback into the HTTP client: fail it at once.
			reply := rpc.AppendResponse(nil, m.V1, m.ID, nil, noCallsError)
			select {
			case s.in <- reply:
			case <-s.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if hasResponse {
		s.mu.Lock()
		first := !s.answered
		s.answered = true
		s.mu.Unlock()
		if first {
			s.answer <- bytes.Clone(msg)
		}
	}
	return nil
}

func (s *oneShot) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}
