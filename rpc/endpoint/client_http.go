package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/rpc"
)

func isFunc(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Func
}

// httpCall POSTs one call, bounded by CallTimeout, and decodes its
// response.
func (c *Client) httpCall(ctx context.Context, method string, params jsontext.Value, result any) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	id := jsontext.Value(strconv.FormatUint(c.seq.Add(1), 10))
	body, err := c.post(ctx, method, rpc.AppendRequest(nil, id, method, params))
	if err != nil {
		return err
	}
	env, err := rpc.ParseEnvelope(body, 1)
	if err != nil || env.Batch || env.Msgs[0].Kind != rpc.KindResponse {
		return fmt.Errorf("%w: %s: %.200q", ErrBadResponse, method, body)
	}
	m := &env.Msgs[0]
	if m.Error != nil {
		return m.Error
	}
	if string(m.ID) != string(id) {
		return fmt.Errorf("%w: %s: response id %s, want %s", ErrBadResponse, method, m.ID, id)
	}
	return decodeResult(method, m.Result, result)
}

// post sends body and returns the response body: nil for 204, the body for
// 200, an error wrapping ErrHTTPStatus (and the JSON-RPC error the body
// holds, if any) for anything else. When ctx ends first the error is
// ctxError's; what names the exchange in errors.
func (c *Client) post(ctx context.Context, what string, body []byte) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	for k, vs := range c.opts.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxError(what, cerr)
		}
		return nil, fmt.Errorf("endpoint: POST %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	max := c.opts.MaxMessageSize
	out, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxError(what, cerr)
		}
		return nil, fmt.Errorf("endpoint: reading response: %w", err)
	}
	if len(out) > max {
		return nil, fmt.Errorf("%w: response over %d bytes", ErrMessageTooLarge, max)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if len(bytes.TrimSpace(out)) == 0 {
			return nil, nil
		}
		return out, nil
	case http.StatusNoContent, http.StatusAccepted:
		return nil, nil
	}
	if env, perr := rpc.ParseEnvelope(out, 1); perr == nil && !env.Batch && env.Msgs[0].Error != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrHTTPStatus, resp.Status, env.Msgs[0].Error)
	}
	return nil, fmt.Errorf("%w: %s", ErrHTTPStatus, resp.Status)
}

// errNoResponse is set on a batch call the server did not answer.
var errNoResponse = errors.New("no response for this call in the batch answer")
