package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

var callCommand = &command{
	name:  "call",
	usage: "METHOD [ARG ...] [--room ROOM] [--signal URL]",
	summary: "call an rpc method of a peer in a room and print the JSON result\n" +
		"           (each ARG is JSON; a lone JSON array or object is the whole params)",
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
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usageErr("call needs a METHOD")
	}
	params, err := buildParams(pos[1:])
	if err != nil {
		return err
	}
	conn, closeConn, err := dialRoom(env.ctx, *pf.signal, *pf.room, *pf.token)
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
