package endpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

// SendRaw sends msg, one JSON-RPC request, notification or batch as raw
// JSON (a batch read from a file, say), and returns the raw answer: a
// response object, an array of responses, or nil when nothing is answered
// (notifications only).
//
// Over HTTP msg is posted as is and the body of a 200 answer is returned.
// Over TCP and WebSocket the requests are sent as one batch under private
// ids (so that they cannot be mistaken for the connection's own calls) and
// the answers carry the original ids again, in request order; a 1.0
// request is sent in the 2.0 form, and an object that is not a valid
// request is refused before anything is sent.
//
// A message holding a call (or that the server will answer with an error)
// is bounded by ClientOptions.RPC.CallTimeout, and a ctx that ends the
// wait gives an error wrapping rpc.ErrTimeout or rpc.ErrCancelled, as for
// Batch.Send.
func (c *Client) SendRaw(ctx context.Context, msg []byte) ([]byte, error) {
	if c.conn == nil {
		if expectsAnswer(msg) {
			var cancel context.CancelFunc
			ctx, cancel = c.callContext(ctx)
			defer cancel()
		}
		return c.post(ctx, "SendRaw", msg)
	}
	env, err := rpc.ParseEnvelope(msg, 0)
	if err != nil {
		return nil, fmt.Errorf("endpoint: SendRaw: %w", err)
	}
	b := c.Batch()
	results := make([]jsontext.Value, len(env.Msgs))
	for i := range env.Msgs {
		m := &env.Msgs[i]
		if m.Kind != rpc.KindRequest {
			return nil, fmt.Errorf("%w: SendRaw: element %d is not a valid request", rpc.ErrBadEnvelope, i)
		}
		bc := &BatchCall{method: m.Method, params: m.Params, notify: m.IsNotification(), result: &results[i]}
		b.add(bc)
	}
	if err := b.Send(ctx); err != nil {
		var re *rpc.Error
		if errors.As(err, &re) {
			// The server refused the whole batch: answer as it did.
			return rpc.AppendResponse(nil, false, nil, nil, re), nil
		}
		return nil, err
	}
	var out []byte
	n := 0
	for i, bc := range b.items {
		if bc.notify {
			continue
		}
		var re *rpc.Error
		if bc.err != nil && !errors.As(bc.err, &re) {
			return nil, bc.err
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = rpc.AppendResponse(out, false, env.Msgs[i].ID, results[i], re)
	}
	switch {
	case n == 0:
		return nil, nil
	case env.Batch:
		return append(append([]byte{'['}, out...), ']'), nil
	}
	return out, nil
}

// expectsAnswer reports whether a server answers msg with something: it
// is not a valid envelope, or holds a call or an invalid object (responses
// and notifications are not answered).
func expectsAnswer(msg []byte) bool {
	env, err := rpc.ParseEnvelope(msg, 0)
	if err != nil {
		return true
	}
	for i := range env.Msgs {
		switch m := &env.Msgs[i]; m.Kind {
		case rpc.KindInvalid:
			return true
		case rpc.KindRequest:
			if !m.IsNotification() {
				return true
			}
		}
	}
	return false
}
