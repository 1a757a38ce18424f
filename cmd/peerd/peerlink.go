package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// peerOptions are the data-channel options of every connection peerd makes:
// tuned defaults, ICE on loopback when the signaling server is on loopback
// (same machine), private addresses otherwise.
func peerOptions(signalURL, token string, role signaling.Role) peer.Options {
	o := peer.Options{Network: peer.NetworkPrivate}
	if isLoopbackURL(signalURL) {
		o.Network = peer.NetworkLoopback
	}
	o.Signaling.Token = token
	if token == "" {
		o.Signaling.Role = role
	}
	return o
}

// isLoopbackURL reports whether u names a loopback host.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

// dialRoom connects to the serving peer of room (the first publisher there)
// over a data channel and returns its rpc connection and a function that
// closes it, draining what was queued.
//
// The serving peer says peer.closing before it goes away (a daemon
// shutting down); dialRoom reports that on stderr, so a user whose transfer
// breaks knows why.
func dialRoom(ctx context.Context, signalURL, room, token string, stderr io.Writer) (*rpc.Conn, func() error, error) {
	o := peerOptions(signalURL, token, signaling.RoleSubscriber)
	o.RPC.Registry = rpc.NewRegistry()
	if err := o.RPC.Registry.Register("peer.closing", func(reason string) {
		fmt.Fprintf(stderr, "\nthe serving peer is closing: %s\n", reason)
	}, "reason"); err != nil {
		return nil, nil, err
	}
	c, err := peer.Dial(ctx, signalURL, room, o)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to room %q via %s: %w", room, signalURL, err)
	}
	rc := c.RPC()
	if token != "" {
		// A token may grant more than joining: let the serving peer see it.
		if err := rc.Call(ctx, "peer.auth", nil, token); err != nil && !isMethodNotFound(err) {
			c.Close()
			return nil, nil, err
		}
	}
	return rc, c.Close, nil
}

func isMethodNotFound(err error) bool {
	var re *rpc.Error
	return errors.As(err, &re) && re.Code == rpc.CodeMethodNotFound
}

// listenRoom joins room as its serving peer and serves reg on every data
// channel a peer opens to it, until ctx ends or stop is called. onConn, if
// set, is told of each connection as it opens and again (open=false) when
// it closes. When the listener loses the signaling server (a restart, a
// network failure), it joins again with backoff; connections already open
// keep running meanwhile.
func listenRoom(ctx context.Context, signalURL, room, token string, reg *rpc.Registry, onConn func(c *rpc.Conn, open bool)) (stop func(context.Context) error, err error) {
	o := peerOptions(signalURL, token, signaling.RolePublisher)
	o.RPC.Registry = reg
	first, err := peer.Listen(ctx, signalURL, room, o)
	if err != nil {
		return nil, fmt.Errorf("join room %q via %s: %w", room, signalURL, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu    sync.Mutex // guards conns and ln
		conns = map[*peer.Conn]struct{}{}
		ln    = first
		wg    sync.WaitGroup
	)
	track := func(c *peer.Conn) {
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		if onConn != nil {
			onConn(c.RPC(), true)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.Done():
			case <-ctx.Done():
				// Stopping: stop shuts down the connections it saw; one
				// accepted after that is closed here.
				_ = c.Close()
			}
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			if onConn != nil {
				onConn(c.RPC(), false)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cur := first
		for {
			for {
				c, err := cur.Accept(ctx)
				if err != nil {
					break
				}
				track(c)
			}
			_ = cur.Close()
			if cur = relisten(ctx, signalURL, room, o); cur == nil {
				return
			}
			mu.Lock()
			ln = cur
			mu.Unlock()
			// stop may have closed the old listener before the swap: the
			// new one is closed here, or by the Accept loop once ctx ends.
			if ctx.Err() != nil {
				_ = cur.Close()
				return
			}
		}
	}()
	var once sync.Once
	stop = func(sctx context.Context) error {
		var errs []error
		once.Do(func() {
			// Close the listener, take the open connections, and only then
			// cancel: a connection goroutine that sees the cancel removes
			// itself from conns, so reading conns later could miss it.
			mu.Lock()
			cur := ln
			mu.Unlock()
			errs = append(errs, cur.Close())
			mu.Lock()
			open := make([]*peer.Conn, 0, len(conns))
			for c := range conns {
				open = append(open, c)
			}
			mu.Unlock()
			cancel()
			shut := make(chan error, len(open))
			for _, c := range open {
				// Drain what is queued (bounded by sctx), then close.
				go func() { shut <- c.Shutdown(sctx) }()
			}
			// A connection's own end (the peer left, ICE failed, the drain
			// timed out) is its business, not a failure to stop.
			for range open {
				<-shut
			}
			wg.Wait()
		})
		return errors.Join(errs...)
	}
	return stop, nil
}

// Backoff bounds for joining a room again after losing signaling.
const (
	relistenMin = 100 * time.Millisecond
	relistenMax = 10 * time.Second
)

// relisten joins room again, waiting relistenMin, then twice as long after
// each failure up to relistenMax. It returns nil once ctx ends.
func relisten(ctx context.Context, signalURL, room string, o peer.Options) *peer.Listener {
	wait := relistenMin
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ln, err := peer.Listen(ctx, signalURL, room, o)
		if err == nil {
			return ln
		}
		wait = min(2*wait, relistenMax)
		t.Reset(wait)
	}
}
