package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// Batch collects calls and notifications sent together as one JSON-RPC
// batch; the results are matched to the calls by id. Build it with
// Client.Batch, add calls, then Send once.
//
// Concurrency: a Batch is used by one goroutine.
type Batch struct {
	c     *Client
	items []*BatchCall
	sent  bool
}

// BatchCall is one entry of a Batch. Its result is decoded into the result
// pointer given to Batch.Call; Err tells how it went once Send returned.
type BatchCall struct {
	method string
	params jsontext.Value
	encErr error
	result any
	notify bool
	id     jsontext.Value
	err    error
}

// Err returns the call's error after Send: nil on success, the server's
// *rpc.Error, or why no response matched.
func (bc *BatchCall) Err() error { return bc.err }

// Batch starts an empty batch.
func (c *Client) Batch() *Batch { return &Batch{c: c} }

// Call adds a call with positional args; its result is decoded into result
// (a pointer, or nil).
func (b *Batch) Call(method string, result any, args ...any) *BatchCall {
	p, err := encodeArgs(args)
	return b.add(&BatchCall{method: method, params: p, encErr: err, result: result})
}

// CallNamed adds a call with named params (a struct or map).
func (b *Batch) CallNamed(method string, result any, params any) *BatchCall {
	p, err := encodeNamed(params)
	return b.add(&BatchCall{method: method, params: p, encErr: err, result: result})
}

// Notify adds a notification.
func (b *Batch) Notify(method string, args ...any) *BatchCall {
	p, err := encodeArgs(args)
	return b.add(&BatchCall{method: method, params: p, encErr: err, notify: true})
}

func (b *Batch) add(bc *BatchCall) *BatchCall {
	b.items = append(b.items, bc)
	return bc
}

// Len returns the number of entries.
func (b *Batch) Len() int { return len(b.items) }

// Send sends the batch as one message and waits for the answers to its
// calls. It returns an error when nothing usable came back (encoding,
// transport, an error answering the whole batch, ctx); the outcome of each
// call is then also in its Err. An empty batch sends nothing.
//
// A batch holding at least one call is bounded by
// ClientOptions.RPC.CallTimeout; when ctx or that timeout ends the wait,
// the error wraps rpc.ErrTimeout or rpc.ErrCancelled as Call's does.
func (b *Batch) Send(ctx context.Context) error {
	if b.sent {
		return errors.New("endpoint: batch already sent")
	}
	b.sent = true
	if len(b.items) == 0 {
		return nil
	}
	for i, bc := range b.items {
		if bc.encErr != nil {
			return b.failAll(fmt.Errorf("endpoint: batch entry %d (%s): %w", i, bc.method, bc.encErr))
		}
	}
	prefix := "b" + strconv.FormatUint(b.c.seq.Add(1), 10)
	calls := 0
	msg := []byte{'['}
	for i, bc := range b.items {
		if i > 0 {
			msg = append(msg, ',')
		}
		if !bc.notify {
			calls++
			if b.c.conn != nil {
				bc.id = jsontext.Value(strconv.Quote(prefix + "." + strconv.Itoa(i)))
			} else {
				bc.id = jsontext.Value(strconv.Itoa(i + 1))
			}
		}
		msg = rpc.AppendRequest(msg, bc.id, bc.method, bc.params)
	}
	msg = append(msg, ']')

	if calls > 0 {
		var cancel context.CancelFunc
		ctx, cancel = b.c.callContext(ctx)
		defer cancel()
	}
	var answer []rpc.Message
	var err error
	if b.c.conn != nil {
		answer, err = b.c.cs.roundTrip(ctx, b.c.conn, prefix, msg, calls > 0)
	} else {
		answer, err = b.httpRoundTrip(ctx, msg, calls > 0)
	}
	if err != nil {
		return b.failAll(err)
	}
	byID := make(map[string]*rpc.Message, len(answer))
	for i := range answer {
		m := &answer[i]
		if m.Kind == rpc.KindResponse && m.ID != nil {
			byID[string(m.ID)] = m
		}
	}
	for _, bc := range b.items {
		if bc.notify {
			continue
		}
		m := byID[string(bc.id)]
		switch {
		case m == nil:
			bc.err = fmt.Errorf("%w: %s: %w", ErrBadResponse, bc.method, errNoResponse)
		case m.Error != nil:
			bc.err = m.Error
		default:
			bc.err = decodeResult(bc.method, m.Result, bc.result)
		}
	}
	return nil
}

func (b *Batch) failAll(err error) error {
	for _, bc := range b.items {
		if !bc.notify {
			bc.err = err
		}
	}
	return err
}

// httpRoundTrip POSTs the batch and returns the responses.
func (b *Batch) httpRoundTrip(ctx context.Context, msg []byte, expect bool) ([]rpc.Message, error) {
	body, err := b.c.post(ctx, "batch", msg)
	if err != nil {
		return nil, err
	}
	if body == nil {
		if expect {
			return nil, fmt.Errorf("%w: empty answer to a batch with calls", ErrBadResponse)
		}
		return nil, nil
	}
	return batchAnswer(body, len(b.items))
}

// batchAnswer parses the answer to a batch: an array of responses, or one
// error object answering the whole batch.
func batchAnswer(body []byte, n int) ([]rpc.Message, error) {
	env, err := rpc.ParseEnvelope(body, n+1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if !env.Batch {
		if m := &env.Msgs[0]; m.Kind == rpc.KindResponse && m.Error != nil {
			return nil, m.Error
		}
		return nil, fmt.Errorf("%w: a batch was answered with a single object", ErrBadResponse)
	}
	return env.Msgs, nil
}

// clientStream sits under a Client's rpc.Conn and takes out the answers to
// the Client's own batches (string ids "b<N>.<i>", which the Conn never
// uses) before the Conn sees them.
type clientStream struct {
	rpcStream
	npending atomic.Int32

	// mu guards pending.
	mu      sync.Mutex
	pending map[string]chan []rpc.Message
	order   []string // pending prefixes, oldest first
}

func newClientStream(s rpcStream) *clientStream {
	return &clientStream{rpcStream: s, pending: make(map[string]chan []rpc.Message)}
}

func (s *clientStream) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		msg, err := s.rpcStream.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		if s.npending.Load() == 0 || !s.claim(msg) {
			return msg, nil
		}
	}
}

// claim delivers msg to a waiting batch when it answers one.
func (s *clientStream) claim(msg []byte) bool {
	t := bytes.TrimLeft(msg, " \t\r\n")
	if len(t) == 0 || (t[0] != '[' && t[0] != '{') {
		return false
	}
	env, err := rpc.ParseEnvelope(t, 1<<20)
	if err != nil || len(env.Msgs) == 0 {
		return false
	}
	for i := range env.Msgs {
		if env.Msgs[i].Kind != rpc.KindResponse {
			return false
		}
	}
	key := ""
	if env.Batch {
		for i := range env.Msgs {
			var id string
			if env.Msgs[i].ID.Kind() != '"' || json.Unmarshal(env.Msgs[i].ID, &id) != nil {
				continue
			}
			if p, _, ok := cutLast(id, '.'); ok {
				key = p
				break
			}
		}
		if key == "" {
			return false
		}
	} else if string(env.Msgs[0].ID) != "null" {
		return false
	}
	s.mu.Lock()
	if key == "" && len(s.order) > 0 {
		key = s.order[0] // an error answering a whole batch
	}
	ch, ok := s.pending[key]
	if ok {
		s.removeLocked(key)
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	ch <- env.Msgs
	return true
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (s *clientStream) removeLocked(key string) {
	if _, ok := s.pending[key]; !ok {
		return
	}
	delete(s.pending, key)
	for i, k := range s.order {
		if k == key {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.npending.Add(-1)
}

// roundTrip writes a batch and waits for its answer.
func (s *clientStream) roundTrip(ctx context.Context, conn *rpc.Conn, key string, msg []byte, expect bool) ([]rpc.Message, error) {
	var ch chan []rpc.Message
	if expect {
		ch = make(chan []rpc.Message, 1)
		s.mu.Lock()
		s.pending[key] = ch
		s.order = append(s.order, key)
		s.npending.Add(1)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.removeLocked(key)
			s.mu.Unlock()
		}()
	}
	select {
	case <-conn.Done():
		return nil, fmt.Errorf("%w: %w", ErrClosed, conn.Err())
	default:
	}
	if err := s.rpcStream.WriteMessage(ctx, msg); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxError("batch", cerr)
		}
		return nil, fmt.Errorf("endpoint: sending batch: %w", err)
	}
	if !expect {
		return nil, nil
	}
	select {
	case msgs := <-ch:
		if len(msgs) == 1 && string(msgs[0].ID) == "null" && msgs[0].Error != nil {
			return nil, msgs[0].Error
		}
		return msgs, nil
	case <-conn.Done():
		return nil, fmt.Errorf("%w: %w", ErrClosed, conn.Err())
	case <-ctx.Done():
		return nil, ctxError("batch", ctx.Err())
	}
}
