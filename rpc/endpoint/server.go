package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerd/peerd/rpc"
)

// Server serves the methods of one rpc.Registry to JSON-RPC clients over
// newline-delimited TCP (Serve), HTTP POST and WebSocket (ServeHTTP, an
// http.Handler, also run on a listener by ServeHTTPOn).
//
// Concurrency: all methods are safe for concurrent use; Serve and
// ServeHTTPOn may run on many listeners at once. Each TCP or WebSocket
// connection has its own rpc.Conn; each HTTP request its own short-lived
// one.
type Server struct {
	reg      *rpc.Registry
	opts     Options
	connOpts rpc.Options // of every rpc.Conn the Server runs: see connOptions
	up       websocket.Upgrader
	slots    chan struct{} // one token per live TCP or WebSocket connection
	posts    chan struct{} // one token per HTTP POST being served

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup // connections, listeners and HTTP servers

	// mu guards closed.
	mu     sync.Mutex
	closed bool
}

// NewServer returns a Server for reg with default Options.
func NewServer(reg *rpc.Registry) *Server { return NewServerWithOptions(reg, Options{}) }

// NewServerWithOptions returns a Server for reg. A nil reg serves no
// method but rpc.discover.
func NewServerWithOptions(reg *rpc.Registry, o Options) *Server {
	if reg == nil {
		reg = rpc.NewRegistry()
	}
	o = o.withDefaults()
	s := &Server{
		reg:      reg,
		opts:     o,
		connOpts: connOptions(o, reg),
		slots:    make(chan struct{}, o.MaxConns),
		posts:    make(chan struct{}, o.MaxHTTPRequests),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.up = websocket.Upgrader{
		HandshakeTimeout: o.WriteTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		CheckOrigin:      o.CheckOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeHTTPError(w, status, "Invalid Request: websocket handshake: "+reason.Error())
		},
	}
	return s
}

// connOptions returns the rpc.Options of every rpc.Conn a Server runs, one
// per TCP or WebSocket connection and one per HTTP request: the configured
// Options.RPC serving reg. It is the one place where these Options are
// made, so the defaults suited to a network endpoint rather than to a
// data-channel peer are set here: a handler's plain error text is hidden
// unless Options.ExposeErrors, and ExposeDetails is left off unless
// configured.
func connOptions(o Options, reg *rpc.Registry) rpc.Options {
	ro := o.RPC
	ro.Registry = reg
	if !o.ExposeErrors {
		ro.HideErrors = true
	}
	return ro
}

// Registry returns the registry the Server serves.
func (s *Server) Registry() *rpc.Registry { return s.reg }

// ServeTCP serves reg on ln with newline-delimited JSON until ctx ends,
// then closes the connections and returns once they are done.
func ServeTCP(ctx context.Context, ln net.Listener, reg *rpc.Registry, o Options) error {
	s := NewServerWithOptions(reg, o)
	err := s.Serve(ctx, ln)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := s.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

// Serve accepts TCP connections on ln (under TLS when Options.TLSConfig is
// set) and serves newline-delimited JSON-RPC on each. It returns nil once
// ctx ends or Shutdown is called, after closing ln and the connections it
// accepted and waiting for their handlers; else the accept error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.enter() {
		_ = ln.Close()
		return ErrClosed
	}
	defer s.wg.Done()
	if s.opts.TLSConfig != nil {
		ln = tls.NewListener(ln, s.opts.TLSConfig)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	stopLn := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stopLn()
	var conns sync.WaitGroup
	defer func() {
		// Whatever ended the loop, the connections end with it.
		cancel()
		_ = ln.Close()
		conns.Wait()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil
				}
				continue
			}
			return err
		}
		// At MaxConns, the accepted connection waits for a slot and no
		// other is accepted meanwhile.
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			_ = nc.Close()
			return nil
		}
		delay = 0
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer func() { <-s.slots }()
			s.serveTCPConn(ctx, nc)
		}()
	}
}

// enter registers a serving goroutine; false after Shutdown.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) serveTCPConn(ctx context.Context, nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		d := s.opts.ReadTimeout
		if d <= 0 {
			d = DefaultReadTimeout
		}
		hctx, cancel := context.WithTimeout(ctx, d)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			if t := newTracker(&s.opts.Hooks, "tcp", nc.RemoteAddr().String(), 0); t != nil {
				t.failed(err)
			}
			return
		}
	}
	st := newLineStream(nc, lineConfig{
		max:          s.opts.MaxMessageSize,
		idle:         s.opts.IdleTimeout,
		read:         s.opts.ReadTimeout,
		write:        s.opts.WriteTimeout,
		replyTooLong: true,
	})
	s.serveStream(ctx, st, "tcp", nc.RemoteAddr().String())
}

// serveStream runs an rpc.Conn over st until it ends or ctx does.
func (s *Server) serveStream(ctx context.Context, st rpcStream, endpoint, remote string) {
	tr := newTracker(&s.opts.Hooks, endpoint, remote, s.connOpts.MaxBatch)
	c := rpc.NewWithOptions(rpc.NewStreamTransport(track(st, tr)), s.connOpts)
	select {
	case <-c.Done():
	case <-ctx.Done():
		_ = c.Close()
		<-c.Done()
	}
	if err := c.Err(); !orderly(err) {
		tr.failed(err)
	}
}

// orderly reports whether a connection ended normally: closed by either
// side.
func orderly(err error) bool {
	return err == nil || errors.Is(err, rpc.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) ||
		websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway)
}

// ServeHTTPOn runs an http.Server with s as its handler on ln (under TLS
// when Options.TLSConfig is set) until ctx ends or Shutdown is called, then
// shuts it down (waiting up to 5 seconds for running requests) and returns
// nil; else it returns the server's error. The http.Server uses
// ReadHeaderTimeout, ReadHeaderTimeout + ReadTimeout as its ReadTimeout,
// WriteTimeout, IdleTimeout and 64 KiB of headers at most, and logs
// nothing.
func (s *Server) ServeHTTPOn(ctx context.Context, ln net.Listener) error {
	if !s.enter() {
		_ = ln.Close()
		return ErrClosed
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopS := context.AfterFunc(s.ctx, cancel)
	defer stopS()
	hs := s.httpServer()
	if s.opts.TLSConfig != nil {
		cfg := s.opts.TLSConfig.Clone()
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	shut := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(shut)
		s.shutdownHTTP(hs)
	})
	err := hs.Serve(ln)
	if !stop() {
		<-shut
	} else {
		_ = hs.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) httpServer() *http.Server {
	o := s.opts
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if o.ReadTimeout > 0 {
		hs.ReadTimeout = o.ReadHeaderTimeout + o.ReadTimeout
	}
	return hs
}

// shutdownHTTP stops hs, waiting a bounded time for running requests.
func (s *Server) shutdownHTTP(hs *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if hs.Shutdown(ctx) != nil {
		_ = hs.Close()
	}
}

// Shutdown stops every Serve and ServeHTTPOn, closes all TCP and WebSocket
// connections and waits for their handlers and for running HTTP requests,
// or until ctx ends (then it returns ctx's error). Later Serve calls fail
// with ErrClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
