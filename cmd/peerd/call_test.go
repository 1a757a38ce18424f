package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeBatchFile writes content to a file of its own and returns its path.
func writeBatchFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "batch.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// withoutServerErrorMessages drops the message of -32000 errors, which is
// the handler's own on a data channel and may be hidden by an endpoint,
// after checking it is there.
func withoutServerErrorMessages(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = withoutServerErrorMessages(t, x[i])
		}
	case map[string]any:
		if e, ok := x["error"].(map[string]any); ok && e["code"] == -32000.0 {
			assert.NotEmpty(t, e["message"])
			delete(e, "message")
		}
	}
	return v
}

// assertAnswer checks that out is the indented JSON want, up to the
// messages of -32000 errors.
func assertAnswer(t *testing.T, want, out, carrier string) {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "%s: %q", carrier, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Greater(t, len(lines), 1, "%s: indented: %q", carrier, out)
	assert.True(t, strings.HasPrefix(lines[1], "  "), "%s: indented: %q", carrier, out)
	var got, exp any
	require.NoError(t, json.Unmarshal([]byte(out), &got), "%s: %q", carrier, out)
	require.NoError(t, json.Unmarshal([]byte(want), &exp))
	assert.Equal(t, exp, withoutServerErrorMessages(t, got), carrier)
}

func TestCallBatchFileOverEveryCarrier(t *testing.T) {
	td := startTestDaemon(t, "-rpc-tcp", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wsBase := "ws" + strings.TrimPrefix(td.base, "http")
	carriers := []struct {
		name string
		args []string
	}{
		{"http", []string{"--url", td.base + "/rpc"}},
		{"tcp", []string{"--url", "tcp://" + td.d.cfg.rpcTCP.Addr().String()}},
		{"ws", []string{"--url", wsBase + "/rpc"}},
		{"room", []string{"--signal", td.signal, "--room", "public"}},
	}
	call := func(carrier []string, file string) (string, string, error) {
		return runCLI(ctx, append([]string{"call", "--batch", file}, carrier...)...)
	}

	// A batch on several lines: a call, a notification, named params, a
	// handler's error, a method not found and a 1.0 request.
	mixed := writeBatchFile(t, `[
  {"jsonrpc": "2.0", "id": "a", "method": "demo.add", "params": [1, 2]},
  {"jsonrpc": "2.0", "method": "demo.echo", "params": ["a notification"]},
  {"jsonrpc": "2.0", "id": 7, "method": "demo.echo", "params": {"value": {"k": [1, "x"]}}},
  {"jsonrpc": "2.0", "id": "e", "method": "demo.countdown", "params": [-1, null]},
  {"jsonrpc": "2.0", "id": "m", "method": "demo.nope"},
  {"id": 3, "method": "demo.add", "params": [2, 2]}
]
`)
	mixedAnswer := `[
		{"jsonrpc": "2.0", "result": 3, "id": "a"},
		{"jsonrpc": "2.0", "result": {"k": [1, "x"]}, "id": 7},
		{"jsonrpc": "2.0", "error": {"code": -32000}, "id": "e"},
		{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "m"},
		{"result": 4, "error": null, "id": 3}
	]`
	// The same with elements that are not requests.
	invalid := writeBatchFile(t, `[{"jsonrpc":"2.0","id":1,"method":"demo.add","params":[1,1]},{"jsonrpc":"2.0","method":"demo.echo","params":[0]},{"foo":"bar"},{"jsonrpc":"2.0","id":2,"method":"demo.nope"}]`)
	invalidAnswer := `[
		{"jsonrpc": "2.0", "result": 2, "id": 1},
		{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
		{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 2}
	]`
	notifications := writeBatchFile(t, `[{"jsonrpc":"2.0","method":"demo.echo","params":[1]},{"jsonrpc":"2.0","method":"demo.add","params":[1,2]}]`)
	single := writeBatchFile(t, `{"jsonrpc": "2.0", "id": "one", "method": "demo.add", "params": {"a": 40, "b": 2}}`)
	notJSON := writeBatchFile(t, `[{"jsonrpc":"2.0","id":1,"method":"demo.add"`)
	namedNotification := writeBatchFile(t, `[{"jsonrpc":"2.0","method":"demo.echo","params":{"value":1}}]`)

	for _, c := range carriers {
		out, errOut, err := call(c.args, mixed)
		require.NoError(t, err, "%s: %s", c.name, errOut)
		assertAnswer(t, mixedAnswer, out, c.name)

		out, errOut, err = call(c.args, single)
		require.NoError(t, err, "%s: %s", c.name, errOut)
		assertAnswer(t, `{"jsonrpc": "2.0", "result": 42, "id": "one"}`, out, c.name)

		out, errOut, err = call(c.args, notifications)
		require.NoError(t, err, "%s: %s", c.name, errOut)
		assert.Empty(t, out, "%s: notifications get no answer", c.name)

		out, _, err = call(c.args, invalid)
		if c.name == "room" {
			// A data-channel peer is sent each element as a call: an
			// element that is not one is refused before anything is sent.
			require.ErrorContains(t, err, "batch element 2 is not a valid request", c.name)
			assert.Equal(t, 1, exitCode(err))
			assert.Empty(t, out)
		} else {
			// An endpoint gets the file as it is and answers each element.
			require.NoError(t, err, c.name)
			assertAnswer(t, invalidAnswer, out, c.name)
		}

		out, _, err = call(c.args, notJSON)
		if c.name == "room" {
			require.ErrorContains(t, err, "the batch file is not valid JSON")
			assert.Equal(t, 1, exitCode(err))
			assert.Empty(t, out)
		} else {
			require.NoError(t, err, c.name)
			assertAnswer(t, `{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}`, out, c.name)
		}

		out, _, err = call(c.args, namedNotification)
		if c.name == "room" {
			require.ErrorContains(t, err, "batch element 0 is a notification with named params")
			assert.Equal(t, 1, exitCode(err))
		} else {
			require.NoError(t, err, c.name)
		}
		assert.Empty(t, out, c.name)
	}

	// A file that is not valid JSON cannot be made one line for TCP.
	out, _, err := call(carriers[1].args, writeBatchFile(t, "[{\"jsonrpc\":\"2.0\",\n\"id\":1,"))
	require.ErrorContains(t, err, "not valid JSON and spans several lines")
	assert.Equal(t, 1, exitCode(err))
	assert.Empty(t, out)

	// stdin is read for -.
	var stdout, stderr syncBuffer
	err = run(ctx, append([]string{"call", "--batch", "-"}, carriers[3].args...), &cliEnv{stdout: &stdout, stderr: &stderr,
		stdin: strings.NewReader(`[{"jsonrpc":"2.0","id":9,"method":"demo.echo","params":["from stdin"]}]`)})
	require.NoError(t, err, stderr.String())
	assertAnswer(t, `[{"jsonrpc": "2.0", "result": "from stdin", "id": 9}]`, stdout.String(), "room")
}

func TestCallBatchFileUsage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	file := writeBatchFile(t, `[{"jsonrpc":"2.0","id":1,"method":"demo.add","params":[1,2]}]`)
	_, _, err := runCLI(ctx, "call", "--batch", file, "demo.add")
	require.ErrorContains(t, err, "--batch FILE takes no METHOD")
	assert.Equal(t, 2, exitCode(err))

	_, _, err = runCLI(ctx, "call", "--batch", writeBatchFile(t, " \n"), "--url", "tcp://127.0.0.1:1")
	require.ErrorContains(t, err, "holds no JSON-RPC message")
	assert.Equal(t, 1, exitCode(err))
	_, _, err = runCLI(ctx, "call", "--batch", filepath.Join(t.TempDir(), "missing.json"), "--url", "tcp://127.0.0.1:1")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, 1, exitCode(err))
	_, _, err = runCLI(ctx, "call", "--batch", writeBatchFile(t, "[]"), "--signal", "ws://127.0.0.1:1/signal")
	require.ErrorContains(t, err, "not a JSON-RPC request or batch: Invalid Request", "refused before connecting")

	_, errOut, err := runCLI(ctx, "call", "--help")
	require.Error(t, err)
	assert.Contains(t, errOut, "usage: peerd call (METHOD [ARG ...] | --batch FILE) [--room ROOM | --url URL]")
	assert.Contains(t, errOut, "byte for byte")
}

// The file reaches a TCP or WebSocket server as it is (on one line over
// TCP), and what the server sends before its answer that is not one (its
// own notification here) is passed over.
func TestCallBatchSendsTheFileAsIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		content = "[ {\"id\":1, \"method\":\"x.y\",\"params\":[1,\"\\u00e9\"]},\r\n\t{\"jsonrpc\":\"2.0\",\"method\":\"n\"} ,7]\n"
		line    = "[ {\"id\":1, \"method\":\"x.y\",\"params\":[1,\"\\u00e9\"]},  \t{\"jsonrpc\":\"2.0\",\"method\":\"n\"} ,7]"
		notice  = `{"jsonrpc":"2.0","method":"server.says","params":["hello"]}`
		answer  = `[{"result":"ok","error":null,"id":1},{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]`
	)
	file := writeBatchFile(t, content)
	wantOut := func(t *testing.T, out string) {
		var got, want any
		require.NoError(t, json.Unmarshal([]byte(out), &got))
		require.NoError(t, json.Unmarshal([]byte(answer), &want))
		assert.Equal(t, want, got)
	}

	t.Run("tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		got := make(chan string, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			nc, err := ln.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(nc)
			l, err := br.ReadString('\n')
			got <- l
			if err != nil {
				return
			}
			_, _ = nc.Write([]byte(notice + "\n\n" + answer + "\n"))
			_, _ = br.ReadString('\n') // until the client hangs up
		}()
		out, errOut, err := runCLI(ctx, "call", "--batch", file, "--url", "tcp://"+ln.Addr().String())
		require.NoError(t, err, errOut)
		wantOut(t, out)
		assert.Equal(t, line+"\n", <-got)
		<-done
	})

	t.Run("ws", func(t *testing.T) {
		got := make(chan string, 1)
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(done)
			ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				got <- err.Error()
				return
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			typ, msg, err := ws.ReadMessage()
			if err != nil || typ != websocket.TextMessage {
				got <- "no text frame"
				return
			}
			got <- string(msg)
			_ = ws.WriteMessage(websocket.TextMessage, []byte(notice))
			_ = ws.WriteMessage(websocket.TextMessage, []byte(answer))
			_, _, _ = ws.ReadMessage() // until the client closes
		}))
		defer srv.Close()
		out, errOut, err := runCLI(ctx, "call", "--batch", file, "--url", "ws"+strings.TrimPrefix(srv.URL, "http"))
		require.NoError(t, err, errOut)
		wantOut(t, out)
		assert.Equal(t, content, <-got)
		<-done // a hijacked connection's handler is not waited for by Close
	})
}
