package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/rpc/endpoint"
	"github.com/peerd/peerd/signaling"
)

// daemonConfig is what the all-in-one daemon runs with.
type daemonConfig struct {
	dataDir string
	room    string
	// secret, when set, makes rooms require tokens and publishing require a
	// publisher token.
	secret []byte
	// loopbackOnly keeps ICE on loopback addresses (tests, and the default
	// when listening on a loopback address).
	loopbackOnly bool
	store        store.Options
	logger       *slog.Logger
	// rpcTCP, if set, also serves the registry as newline-delimited
	// JSON-RPC on this listener.
	rpcTCP net.Listener
}

// daemon is one running peerd: signaling server, store peer and HTTP server
// on one listener.
type daemon struct {
	cfg       daemonConfig
	started   time.Time
	store     *store.Store
	sig       *signaling.Server
	reg       *rpc.Registry
	http      *http.Server
	rpcServer *endpoint.Server
	signalURL string
	baseURL   string

	mu    sync.Mutex // guards peers
	peers map[*rpc.Conn]struct{}

	wg       sync.WaitGroup // the HTTP server
	stopPeer func(context.Context) error
}

// startDaemon starts every service on ln and returns once they accept
// requests. Stop it with shutdown.
func startDaemon(ctx context.Context, ln net.Listener, cfg daemonConfig) (*daemon, error) {
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st, err := store.Open(cfg.dataDir, cfg.store)
	if err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	d := &daemon{
		cfg:       cfg,
		started:   time.Now(),
		store:     st,
		signalURL: "ws://" + ln.Addr().String() + "/signal",
		baseURL:   "http://" + ln.Addr().String(),
		peers:     map[*rpc.Conn]struct{}{},
	}
	if d.reg, err = newStoreRegistry(st, d.auth(), d.started, advertisedBase(ln.Addr())); err != nil {
		st.Close()
		return nil, err
	}
	d.sig = signaling.NewServer(signaling.ServerOptions{Secret: cfg.secret, Logger: cfg.logger})
	d.rpcServer = endpoint.NewServerWithOptions(d.reg, endpoint.Options{Name: "peerd"})

	mux := http.NewServeMux()
	mux.Handle("/signal", d.sig)
	mux.Handle("/rpc", d.rpcServer)
	mux.HandleFunc("GET /status", d.handleStatusPage)
	mux.HandleFunc("GET /status.json", d.handleStatusJSON)
	mux.HandleFunc("GET /config.json", d.handleConfig)
	mux.HandleFunc("GET /sites/{name}", d.handleSite)
	mux.HandleFunc("GET /sites/{name}/{rest...}", d.handleSite)
	d.routeWeb(mux)
	d.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.logger.Handler(), slog.LevelDebug),
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.logger.Error("http server", "err", err)
		}
	}()
	if cfg.rpcTCP != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.rpcServer.Serve(context.WithoutCancel(ctx), cfg.rpcTCP); err != nil && !errors.Is(err, endpoint.ErrClosed) {
				cfg.logger.Error("json-rpc tcp server", "err", err)
			}
		}()
	}
	if err := d.startStorePeer(ctx); err != nil {
		d.shutdown(context.Background())
		return nil, fmt.Errorf("start store peer: %w", err)
	}
	return d, nil
}

// auth is the daemon's store authorization: its secret and room.
func (d *daemon) auth() storeAuth {
	return storeAuth{secret: d.cfg.secret, room: d.cfg.room}
}

func (d *daemon) addPeer(c *rpc.Conn) {
	d.mu.Lock()
	d.peers[c] = struct{}{}
	d.mu.Unlock()
}

func (d *daemon) removePeer(c *rpc.Conn) {
	d.mu.Lock()
	delete(d.peers, c)
	d.mu.Unlock()
}

func (d *daemon) peerCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.peers)
}

// shutdown stops accepting, tells connected peers, lets in-flight requests
// finish until ctx expires, and closes the store. Partial uploads stay on
// disk under temporary names and resume later.
func (d *daemon) shutdown(ctx context.Context) error {
	var errs []error
	d.tellPeers(ctx, "peerd is shutting down")
	errs = append(errs, d.stopStorePeer(ctx))
	if err := d.rpcServer.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		errs = append(errs, err)
	}
	if err := d.sig.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		errs = append(errs, err)
	}
	if err := d.http.Shutdown(ctx); err != nil {
		errs = append(errs, err, d.http.Close())
	}
	d.wg.Wait()
	errs = append(errs, d.store.Close())
	return errors.Join(errs...)
}

// tellPeers notifies every connected peer that the store peer is closing,
// so a client mid-transfer can say why its transfer stops.
func (d *daemon) tellPeers(ctx context.Context, reason string) {
	d.mu.Lock()
	conns := make([]*rpc.Conn, 0, len(d.peers))
	for c := range d.peers {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		_ = c.Notify(ctx, "peer.closing", reason)
	}
}
