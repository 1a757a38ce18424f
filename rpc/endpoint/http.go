package endpoint

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
)

const allowHeader = "GET, HEAD, POST, OPTIONS"

// acceptedTypes are the request media types taken as JSON.
var acceptedTypes = map[string]bool{
	"application/json":        true,
	"application/json-rpc":    true,
	"application/jsonrequest": true,
}

// ServeHTTP implements http.Handler:
//
//   - POST: the body is one JSON-RPC request or batch; the answer is 200
//     with the response (or batch of responses) as application/json, or 204
//     No Content when nothing is to be answered (notifications only);
//   - GET or HEAD with a WebSocket upgrade: the connection becomes a
//     bidirectional JSON-RPC WebSocket (one JSON text per text frame);
//   - GET or HEAD otherwise: 200 with a JSON description and the method
//     list;
//   - OPTIONS: 204 with Allow; any other method: 405 with Allow.
//
// Failures of the HTTP exchange itself (media type 415, body too large 413,
// body read timeout 408, 405, more than Options.MaxHTTPRequests POSTs at
// once 503) carry a JSON-RPC error object with id null as their body, never
// an HTML page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.servePost(w, r)
	case http.MethodGet, http.MethodHead:
		if !s.opts.DisableWebSocket && websocket.IsWebSocketUpgrade(r) {
			s.serveWebSocket(w, r)
			return
		}
		s.describe(w)
	case http.MethodOptions:
		w.Header().Set("Allow", allowHeader)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", allowHeader)
		writeHTTPError(w, http.StatusMethodNotAllowed, "Invalid Request: HTTP method "+r.Method+" not allowed")
	}
}

// Middleware returns a handler that serves JSON-RPC in front of next, for
// adding the endpoint to an existing handler or mux: POST requests to
// Options.Path are served as by ServeHTTP, and so are WebSocket upgrades
// (GET) there unless DisableWebSocket; every other request, on that path
// or any other, goes to next (a nil next answers 404). The GET
// description is left to next.
func (s *Server) Middleware(next http.Handler) http.Handler {
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == s.opts.Path {
			switch {
			case r.Method == http.MethodPost:
				s.servePost(w, r)
				return
			case r.Method == http.MethodGet && !s.opts.DisableWebSocket && websocket.IsWebSocketUpgrade(r):
				s.serveWebSocket(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeHTTPError answers with status and a JSON-RPC error object.
func writeHTTPError(w http.ResponseWriter, status int, msg string) {
	body := rpc.AppendResponse(nil, false, nil, nil, &rpc.Error{Code: rpc.CodeInvalidRequest, Message: msg})
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// checkContentType accepts the JSON media types, with an optional utf-8
// charset.
func checkContentType(ct string) error {
	if ct == "" {
		return errors.New("missing Content-Type, want application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("bad Content-Type %.64q", ct)
	}
	if !acceptedTypes[mt] {
		return fmt.Errorf("Content-Type %.64q is not application/json", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return fmt.Errorf("charset %.32q is not utf-8", cs)
	}
	return nil
}

func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		writeHTTPError(w, http.StatusUnsupportedMediaType, "Invalid Request: "+err.Error())
		return
	}
	max := s.opts.MaxMessageSize
	if r.ContentLength > int64(max) {
		writeHTTPError(w, http.StatusRequestEntityTooLarge, tooLargeMsg(max))
		return
	}
	if !s.takePostSlot(w, r) {
		return
	}
	defer func() { <-s.posts }()
	if s.opts.ReadTimeout > 0 {
		// Bounds a slow body even under an http.Server without ReadTimeout.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, int64(max)), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeHTTPError(w, http.StatusRequestEntityTooLarge, tooLargeMsg(max))
		case errors.Is(err, os.ErrDeadlineExceeded):
			writeHTTPError(w, http.StatusRequestTimeout, "Invalid Request: body not received in time")
		default:
			writeHTTPError(w, http.StatusBadRequest, "Invalid Request: reading body failed")
		}
		return
	}
	tr := newTracker(&s.opts.Hooks, "http", r.RemoteAddr, s.connOpts.MaxBatch)
	resp, ok := s.dispatch(r.Context(), body, tr)
	if !ok {
		writeHTTPError(w, http.StatusServiceUnavailable, "Request cancelled")
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// takePostSlot waits for one of the MaxHTTPRequests slots, up to
// HTTPQueueTimeout; false when it answered instead (503) or the client
// left.
func (s *Server) takePostSlot(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.posts <- struct{}{}:
		return true
	default:
	}
	if d := s.opts.HTTPQueueTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case s.posts <- struct{}{}:
			return true
		case <-r.Context().Done():
			return false // nobody is left to answer
		case <-s.ctx.Done():
			writeHTTPError(w, http.StatusServiceUnavailable, "Server shutting down")
			return false
		case <-t.C:
		}
	}
	w.Header().Set("Retry-After", "1")
	writeHTTPError(w, http.StatusServiceUnavailable, "Server overloaded: too many HTTP requests at once")
	return false
}

// readBody reads a request body of length n (-1: unknown). A known length
// is read into one buffer of that size, so that a body costs its length
// and no more.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func tooLargeMsg(max int) string {
	return "Invalid Request: body larger than " + strconv.Itoa(max) + " bytes"
}

// description is the GET answer.
type description struct {
	Name      string   `json:"name"`
	Protocol  string   `json:"protocol"`
	Post      string   `json:"post"`
	WebSocket bool     `json:"websocket"`
	Discover  string   `json:"discover"`
	Methods   []string `json:"methods"`
}

func (s *Server) describe(w http.ResponseWriter) {
	names := s.reg.Names()
	if names == nil {
		names = []string{}
	}
	b, err := json.Marshal(description{
		Name:      s.opts.Name,
		Protocol:  "JSON-RPC 2.0",
		Post:      "application/json",
		WebSocket: !s.opts.DisableWebSocket,
		Discover:  "rpc.discover",
		Methods:   names,
	})
	if err != nil {
		writeHTTPError(w, http.StatusInternalServerError, "Internal error")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeHTTPError(w, http.StatusServiceUnavailable, "Server shutting down")
		return
	}
	defer s.wg.Done()
	select {
	case s.slots <- struct{}{}:
	default:
		writeHTTPError(w, http.StatusServiceUnavailable, "Server overloaded: too many connections")
		return
	}
	defer func() { <-s.slots }()
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	st := newWSStream(ws, lineConfig{
		max:   s.opts.MaxMessageSize,
		idle:  s.opts.IdleTimeout,
		read:  s.opts.ReadTimeout,
		write: s.opts.WriteTimeout,
	})
	s.serveStream(s.ctx, st, "ws", r.RemoteAddr)
}
