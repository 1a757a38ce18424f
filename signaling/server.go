package signaling

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Server is the signaling server. It is an http.Handler that upgrades
// requests to WebSocket connections speaking the protocol of
// docs/PROTOCOL.md section 6; Serve and ListenAndServe run it on a listener.
//
// Concurrency: all methods are safe for concurrent use. Each connection costs
// the goroutines package rpc keeps for it (its reader among them) and, only
// while events are waiting for it, one that writes them. A connection's
// requests are served one at a time, in arrival order.
type Server struct {
	opts     ServerOptions
	stats    counters
	hub      *hub
	origin   *originChecker
	upgrader websocket.Upgrader
	api      *serverAPI

	mu       sync.Mutex // guards conns, perAddr, closing, drained, httpSrvs
	conns    map[*serverConn]struct{}
	perAddr  map[string]int
	closing  bool
	drained  chan struct{} // closed once conns is empty after closing
	httpSrvs map[*http.Server]struct{}
}

// writeBufferPool shares WebSocket write buffers between connections, so an
// idle connection holds none.
var writeBufferPool = &sync.Pool{}

// NewServer returns a Server configured by o (zero fields take their
// documented defaults).
func NewServer(o ServerOptions) *Server {
	s := &Server{
		opts:     o.withDefaults(),
		conns:    make(map[*serverConn]struct{}),
		perAddr:  make(map[string]int),
		drained:  make(chan struct{}),
		httpSrvs: make(map[*http.Server]struct{}),
	}
	s.hub = newHub(&s.opts, &s.stats)
	s.origin = newOriginChecker(s.opts.AllowedOrigins)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: s.opts.HandshakeTimeout,
		ReadBufferSize:   512,
		WriteBufferSize:  4096,
		WriteBufferPool:  writeBufferPool,
		CheckOrigin:      func(*http.Request) bool { return true }, // checked before Upgrade
	}
	s.api = newServerAPI(s)
	return s
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ServeHTTP upgrades r to a signaling connection. It answers 403 to a
// refused origin, 429 when the remote address has MaxConnsPerAddr
// connections and 503 while shutting down. It returns as soon as the
// connection is set up; the connection lives on until closed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := s.opts.Logger
	check := s.origin.check
	if s.opts.CheckOrigin != nil {
		check = s.opts.CheckOrigin
	}
	if !check(r) {
		s.stats.addError("origin")
		log.Info("signaling: origin refused", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "signaling: origin not allowed", http.StatusForbidden)
		return
	}
	addr := s.opts.RemoteAddr(r)
	if err := s.reserve(addr); err != nil {
		code := http.StatusTooManyRequests
		if errors.Is(err, ErrShuttingDown) {
			code = http.StatusServiceUnavailable
		} else {
			s.stats.addError("conn_limit")
		}
		log.Info("signaling: connection refused", "remote", addr, "err", err)
		http.Error(w, err.Error(), code)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.stats.addError("upgrade")
		s.release(nil, addr)
		log.Debug("signaling: upgrade failed", "remote", addr, "err", err)
		return
	}
	c := newServerConn(s, ws, addr, r)
	c.start()
	s.mu.Lock()
	closing := s.closing
	if !c.released {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	s.stats.connsTotal.Add(1)
	log.Debug("signaling: connected", "remote", addr)
	c.open()
	if closing {
		c.shut(ReasonShutdown)
	}
}

var errConnLimit = errors.New("signaling: too many connections from this address")

// reserve counts a connection from addr, or refuses it.
func (s *Server) reserve(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrShuttingDown
	}
	if over(s.perAddr[addr], s.opts.MaxConnsPerAddr) {
		return errConnLimit
	}
	s.perAddr[addr]++
	s.stats.conns.Add(1)
	return nil
}

// release undoes reserve and forgets c (nil before the upgrade).
func (s *Server) release(c *serverConn, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c != nil {
		c.released = true
		delete(s.conns, c)
	}
	if s.perAddr[addr]--; s.perAddr[addr] <= 0 {
		delete(s.perAddr, addr)
	}
	s.stats.conns.Add(-1)
	if s.closing && len(s.conns) == 0 {
		s.closeDrainedLocked()
	}
}

func (s *Server) closeDrainedLocked() {
	select {
	case <-s.drained:
	default:
		close(s.drained)
	}
}

// Serve accepts connections on ln until ctx is done or Shutdown is called.
// When ctx ends it shuts down gracefully (allowing 5 seconds) before
// returning. It returns nil after a shutdown, ErrClosed when the server was
// already shut down, and the listener's error otherwise. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: s.opts.HandshakeTimeout}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.httpSrvs[hs] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.httpSrvs, hs)
		s.mu.Unlock()
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
		<-errc
		return nil
	}
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Shutdown stops the server gracefully: listeners started by Serve close,
// new connections and joins are refused, every connected peer gets a
// shutdown event, then every connection is closed. It waits for all of this
// until ctx is done, then closes whatever is left at once and returns
// ctx.Err(). Calling it again waits again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.startShutdown()
	s.mu.Lock()
	s.closing = true
	if len(s.conns) == 0 {
		s.closeDrainedLocked()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	hss := make([]*http.Server, 0, len(s.httpSrvs))
	for hs := range s.httpSrvs {
		hss = append(hss, hs)
	}
	s.mu.Unlock()

	for _, hs := range hss {
		_ = hs.Shutdown(ctx)
	}
	for _, c := range conns {
		c.sess.enqueue(&wireEvent{Kind: EventShutdown})
	}
	for _, c := range conns {
		if c.sess.flush(ctx) != nil {
			break
		}
	}
	for _, c := range conns {
		c.shut(ReasonShutdown)
	}
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.abort()
		}
		return ctx.Err()
	}
}

// Close closes every connection and listener at once, without telling the
// peers (Shutdown with an expired context).
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
