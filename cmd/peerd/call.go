package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/rpc/endpoint"
)

var callCommand = &command{
	name:  "call",
	usage: "METHOD [ARG ...] [--room ROOM | --url URL] | --batch FILE --url URL",
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

func runCall(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	endpointURL := envString(fs, "url", "PEERD_URL", "", "JSON-RPC endpoint (http://, https://, tcp://, tls://, ws://, wss://) instead of a peer in a room")
	batch := envString(fs, "batch", "PEERD_BATCH", "", "send the JSON-RPC request or batch in FILE (- for stdin) as is to --url and print the answer")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *batch != "" {
		if *endpointURL == "" || len(pos) > 0 {
			return usageErr("--batch FILE goes with --url and no METHOD")
		}
		return callBatch(env, *endpointURL, *batch)
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

// callBatch sends the request or batch in file (or stdin for "-") as is and
// prints the answer; notifications alone print nothing.
func callBatch(env *cliEnv, url, file string) error {
	var msg []byte
	var err error
	if file == "-" {
		msg, err = io.ReadAll(io.LimitReader(env.stdin, 16<<20))
	} else {
		msg, err = os.ReadFile(file)
	}
	if err != nil {
		return err
	}
	answer, err := sendRaw(env, url, msg)
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
