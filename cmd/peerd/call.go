package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/gorilla/websocket"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/rpc/endpoint"
)

var callCommand = &command{
	name:  "call",
	usage: "(METHOD [ARG ...] | --batch FILE) [--room ROOM | --url URL]",
	summary: "call an rpc method of a peer in a room, or of a JSON-RPC endpoint (--url http://, tcp://, ws://),\n" +
		"           and print the JSON result (each ARG is JSON; a lone JSON array or object is the whole params)",
	run: runCall,
}

// buildParams turns command-line arguments into JSON-RPC params: no
// arguments give no params; one argument that is a JSON array or object is
// the params as is (positional or named); otherwise each argument is one
// positional value, read as JSON when it parses and as a string when not.
func buildParams(args []string) (jsontext.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if len(args) == 1 {
		v := jsontext.Value(args[0])
		if v.IsValid() {
			if k := v.Kind(); k == '[' || k == '{' {
				return v, nil
			}
		}
	}
	vals := make([]json.RawMessage, len(args))
	for i, a := range args {
		if jsontext.Value(a).IsValid() {
			vals[i] = json.RawMessage(a)
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		vals[i] = b
	}
	b, err := json.Marshal(vals)
	return jsontext.Value(b), err
}

// batchHelp is the --batch flag's description.
const batchHelp = "send the JSON-RPC request or batch in FILE (- for stdin) and print the answer; the exit status is 0\n" +
	"whenever an answer is printed, error objects in it included, and nothing is printed when nothing is\n" +
	"answered (notifications only). With --url FILE is sent byte for byte: as the POST body (http, https),\n" +
	"as one text frame (ws, wss), or as one line (tcp, tls: line breaks between JSON tokens become spaces).\n" +
	"To a peer in --room its requests go as the calls and notifications of one batch, and the answers are\n" +
	"printed under FILE's ids (in the 1.0 form for 1.0 requests); FILE is refused, before anything is sent,\n" +
	"when an element is not a valid request or is a notification with named params"

func runCall(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	endpointURL := envString(fs, "url", "PEERD_URL", "", "JSON-RPC endpoint (http://, https://, tcp://, tls://, ws://, wss://) instead of a peer in a room")
	batch := envString(fs, "batch", "PEERD_BATCH", "", batchHelp)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *batch != "" {
		if len(pos) > 0 {
			return usageErr("--batch FILE takes no METHOD")
		}
		msg, err := readBatchFile(env, *batch)
		if err != nil {
			return err
		}
		if *endpointURL != "" {
			return batchToEndpoint(env, *endpointURL, msg)
		}
		return batchToRoom(env, pf, msg)
	}
	if len(pos) < 1 {
		return usageErr("call needs a METHOD")
	}
	params, err := buildParams(pos[1:])
	if err != nil {
		return err
	}
	if *endpointURL != "" {
		return callEndpoint(env, *endpointURL, pos[0], params)
	}
	conn, closeConn, err := dialRoom(env.ctx, *pf.signal, *pf.room, *pf.token, env.stderr)
	if err != nil {
		return err
	}
	defer closeConn()
	res, err := conn.CallRaw(env.ctx, pos[0], params)
	if err != nil {
		return err
	}
	return printJSON(env.stdout, res)
}

// callEndpoint calls method on a JSON-RPC endpoint and prints its result,
// or returns its error.
func callEndpoint(env *cliEnv, url, method string, params jsontext.Value) error {
	req := map[string]any{"jsonrpc": "2.0", "id": 1, "method": method}
	if params != nil {
		req["params"] = json.RawMessage(params)
	}
	msg, err := json.Marshal(req)
	if err != nil {
		return err
	}
	answer, err := sendRaw(env, url, msg)
	if err != nil {
		return err
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  *rpc.Error      `json:"error"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		return fmt.Errorf("bad answer from %s: %w", url, err)
	}
	if resp.Error != nil {
		return resp.Error
	}
	return printJSON(env.stdout, resp.Result)
}

// maxBatchFile bounds the message --batch reads, and an answer read back.
const maxBatchFile = endpoint.DefaultClientMaxMessage

// readBatchFile reads the message to send from file, or stdin for "-".
func readBatchFile(env *cliEnv, file string) ([]byte, error) {
	r := env.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	} else {
		file = "stdin"
	}
	msg, err := io.ReadAll(io.LimitReader(r, maxBatchFile+1))
	switch {
	case err != nil:
		return nil, err
	case len(msg) > maxBatchFile:
		return nil, fmt.Errorf("%s: over %d bytes", file, maxBatchFile)
	case len(bytes.TrimSpace(msg)) == 0:
		return nil, fmt.Errorf("%s holds no JSON-RPC message", file)
	}
	return msg, nil
}

// batchToEndpoint sends msg to the endpoint at rawURL as it is (as one
// line over tcp and tls) and prints the answer.
func batchToEndpoint(env *cliEnv, rawURL string, msg []byte) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad --url: %w", err)
	}
	var answer []byte
	switch u.Scheme {
	case "tcp", "tls", "ws", "wss":
		answer, err = sendStream(env.ctx, u, msg)
	default:
		// The HTTP client posts msg as it is; other schemes get its error.
		answer, err = sendRaw(env, rawURL, msg)
	}
	if err != nil || len(answer) == 0 {
		return err
	}
	return printJSON(env.stdout, answer)
}

// sendRaw sends one JSON-RPC message or batch to the endpoint at url and
// returns the answer (empty for notifications).
func sendRaw(env *cliEnv, url string, msg []byte) ([]byte, error) {
	c, err := endpoint.Dial(env.ctx, url, endpoint.ClientOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.SendRaw(env.ctx, msg)
}

// rawStream is a connection to a TCP or WebSocket endpoint that writes and
// reads whole messages, untouched.
type rawStream interface {
	write(msg []byte) error
	read() ([]byte, error)
	Close() error
}

// sendStream writes msg as one message to the TCP (tcp, tls) or WebSocket
// (ws, wss) endpoint at u and returns the server's answer: the first
// message it sends that is not a request of its own. When msg holds
// nothing a server answers (notifications only), it returns nil once msg
// is written.
func sendStream(ctx context.Context, u *url.URL, msg []byte) ([]byte, error) {
	var s rawStream
	var err error
	if u.Scheme == "tcp" || u.Scheme == "tls" {
		if msg, err = oneLine(msg); err != nil {
			return nil, err
		}
		s, err = dialLine(ctx, u)
	} else {
		s, err = dialWS(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return fmt.Errorf("%s %s: %w", what, u.Redacted(), err)
	}
	if err := s.write(msg); err != nil {
		return nil, fail("sending to", err)
	}
	if !expectsAnswer(msg) {
		return nil, nil
	}
	for {
		answer, err := s.read()
		if err != nil {
			return nil, fail("waiting for the answer from", err)
		}
		if !onlyRequests(answer) {
			return answer, nil
		}
	}
}

// oneLine returns msg as one line for a newline-delimited carrier: line
// breaks at its ends are dropped and those inside become spaces, which
// changes no token when msg is valid JSON (line breaks can then only
// separate tokens). Invalid JSON on several lines is refused.
func oneLine(msg []byte) ([]byte, error) {
	line := bytes.Clone(bytes.Trim(msg, "\r\n"))
	if bytes.ContainsAny(line, "\r\n") {
		if !json.Valid(line) {
			return nil, errors.New("the batch file is not valid JSON and spans several lines: over tcp:// and tls:// a message is one line")
		}
		for i, c := range line {
			if c == '\r' || c == '\n' {
				line[i] = ' '
			}
		}
	}
	return append(line, '\n'), nil
}

// expectsAnswer reports whether a server answers msg: it does unless msg
// is valid and holds only notifications (or responses).
func expectsAnswer(msg []byte) bool {
	e, err := rpc.ParseEnvelope(msg, math.MaxInt)
	if err != nil {
		return true
	}
	for i := range e.Msgs {
		m := &e.Msgs[i]
		if m.Kind == rpc.KindInvalid || m.Kind == rpc.KindRequest && !m.IsNotification() {
			return true
		}
	}
	return false
}

// onlyRequests reports whether msg holds only requests: a server calling
// its client, not answering it.
func onlyRequests(msg []byte) bool {
	e, err := rpc.ParseEnvelope(msg, math.MaxInt)
	if err != nil {
		return false
	}
	for i := range e.Msgs {
		if e.Msgs[i].Kind != rpc.KindRequest {
			return false
		}
	}
	return true
}

// lineConn is a connection to a newline-delimited JSON endpoint.
type lineConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialLine(ctx context.Context, u *url.URL) (*lineConn, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("--url %s has no host:port", u.Redacted())
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "tls" {
		tc := tls.Client(nc, &tls.Config{ServerName: u.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", u.Host, err)
		}
		nc = tc
	}
	return &lineConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// write writes msg, a line with its newline.
func (c *lineConn) write(msg []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(endpoint.DefaultWriteTimeout))
	_, err := c.nc.Write(msg)
	return err
}

// read returns the next line that is not blank, trimmed of its line ending
// and surrounding white space.
func (c *lineConn) read() ([]byte, error) {
	var line []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxBatchFile+2 {
			return nil, fmt.Errorf("answer longer than %d bytes", maxBatchFile)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t, nil // a last line without its newline counts too
		}
		if err != nil {
			return nil, err
		}
		line = line[:0]
	}
}

func (c *lineConn) Close() error { return c.nc.Close() }

// wsConn is a connection to a WebSocket endpoint.
type wsConn struct{ ws *websocket.Conn }

func dialWS(ctx context.Context, u *url.URL) (*wsConn, error) {
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: endpoint.DefaultReadTimeout}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket dial %s: %w (%s)", u.Redacted(), err, resp.Status)
		}
		return nil, fmt.Errorf("websocket dial %s: %w", u.Redacted(), err)
	}
	ws.SetReadLimit(maxBatchFile)
	return &wsConn{ws: ws}, nil
}

// write sends msg as one text frame.
func (c *wsConn) write(msg []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(endpoint.DefaultWriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, msg)
}

// read returns the payload of the next frame.
func (c *wsConn) read() ([]byte, error) {
	_, b, err := c.ws.ReadMessage()
	return b, err
}

// Close says goodbye with a close frame and closes the connection.
func (c *wsConn) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return c.ws.Close()
}

// batchToRoom sends the requests in msg, one request or a batch, to the
// peer in the room as the calls and notifications of one batch, and prints
// the answers under msg's ids, in msg's order, as an endpoint prints them.
// It refuses msg before connecting when an element cannot be sent that
// way: one that is not a valid request, or a notification with named
// params.
func batchToRoom(env *cliEnv, pf peerFlags, msg []byte) error {
	e, err := rpc.ParseEnvelope(msg, 0)
	if err != nil {
		var re *rpc.Error
		if errors.As(err, &re) {
			if re.Code == rpc.CodeParseError {
				return errors.New("the batch file is not valid JSON")
			}
			err = errors.New(re.Message)
		}
		return fmt.Errorf("the batch file is not a JSON-RPC request or batch: %w", err)
	}
	args := make([][]any, len(e.Msgs))
	for i := range e.Msgs {
		m := &e.Msgs[i]
		what := "the request"
		if e.Batch {
			what = fmt.Sprintf("batch element %d", i)
		}
		switch {
		case m.Kind != rpc.KindRequest:
			why := "a response"
			if m.Invalid != nil {
				why = m.Invalid.Message
			}
			return fmt.Errorf("%s is not a valid request (%s); only requests can be sent to a peer in a room", what, why)
		case m.Params.Kind() == '{':
			if m.IsNotification() {
				return fmt.Errorf("%s is a notification with named params, which cannot be sent to a peer in a room", what)
			}
		case m.Params != nil:
			if args[i], err = arrayElements(m.Params); err != nil {
				return fmt.Errorf("%s: params: %w", what, err)
			}
		}
	}

	conn, closeConn, err := dialRoom(env.ctx, *pf.signal, *pf.room, *pf.token, env.stderr)
	if err != nil {
		return err
	}
	defer closeConn()
	b := conn.Batch()
	entries := make([]*rpc.BatchCall, len(e.Msgs))
	results := make([]jsontext.Value, len(e.Msgs))
	for i := range e.Msgs {
		switch m := &e.Msgs[i]; {
		case m.IsNotification():
			entries[i] = b.Notify(m.Method, args[i]...)
		case m.Params.Kind() == '{':
			entries[i] = b.CallNamed(m.Method, &results[i], m.Params)
		default:
			entries[i] = b.Call(m.Method, &results[i], args[i]...)
		}
	}
	if err := b.Send(env.ctx); err != nil {
		if re, ok := err.(*rpc.Error); ok {
			// The peer answered the batch as a whole with this error.
			return printJSON(env.stdout, rpc.AppendResponse(nil, false, nil, nil, re))
		}
		return err
	}
	var out []byte
	n := 0
	for i, bc := range entries {
		m := &e.Msgs[i]
		if m.IsNotification() {
			continue
		}
		var re *rpc.Error
		if err := bc.Err(); err != nil && !errors.As(err, &re) {
			return err
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = rpc.AppendResponse(out, m.V1, m.ID, results[i], re)
	}
	switch {
	case n == 0:
		return nil
	case e.Batch:
		out = append(append([]byte{'['}, out...), ']')
	}
	return printJSON(env.stdout, out)
}

// arrayElements returns the elements of the JSON array v, each as raw
// JSON.
func arrayElements(v jsontext.Value) ([]any, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return nil, errors.New("neither an array nor an object")
	}
	var out []any
	for dec.PeekKind() != ']' {
		el, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		out = append(out, el.Clone())
	}
	return out, nil
}

// printJSON writes v indented, with a trailing newline.
func printJSON(w io.Writer, v []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		_, err = fmt.Fprintf(w, "%s\n", v)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
