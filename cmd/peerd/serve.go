package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/peerd/peerd/bench/harness"
	"github.com/peerd/peerd/cmd/peerd/store"
)

var serveCommand = &command{
	name:    "serve",
	usage:   "--signal URL [--room ROOM] [--data DIR] [--http ADDR] [--secret SECRET | --token TOKEN]",
	summary: "run only the store peer, against a signaling server elsewhere",
	run:     runServe,
}

func runServe(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	data := envString(fs, "data", "PEERD_DATA", "peerd-data", "data directory for published bundles")
	httpAddr := envString(fs, "http", "PEERD_HTTP", "", "also serve /sites/NAME/ over HTTP on this address")
	maxBundle := envString(fs, "max-bundle", "PEERD_MAX_BUNDLE", "4GiB", "largest bundle archive accepted")
	secret := envString(fs, "secret", "PEERD_SECRET", "", "the signaling server's secret: when set, publishing and deleting need a publisher token, and the store peer joins with a publisher token it mints unless --token is given")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	var so store.Options
	if so.MaxBundleSize, err = harness.ParseSize(*maxBundle); err != nil {
		return usageErr("%v", err)
	}
	st, err := store.Open(*data, so)
	if err != nil {
		return err
	}
	defer st.Close()
	// With a secret, callers present their token through peer.auth and only
	// a publisher token for this room may change the store; without one,
	// whoever the signaling server lets reach this peer may publish.
	auth := storeAuth{room: *pf.room}
	if *secret != "" {
		auth.secret = []byte(*secret)
	}
	reg, err := newStoreRegistry(st, auth, time.Now())
	if err != nil {
		return err
	}
	token := *pf.token
	if token == "" {
		if token, err = auth.selfToken(); err != nil {
			return err
		}
	}
	stop, err := listenRoom(env.ctx, *pf.signal, *pf.room, token, reg, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "store peer in room %q via %s, data in %s\n", *pf.room, *pf.signal, *data)
	if len(auth.secret) > 0 {
		fmt.Fprintln(env.stdout, "publishing and deleting need a publisher token (--token)")
	}
	var srv *http.Server
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			stop(context.Background())
			return err
		}
		d := &daemon{store: st}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /sites/{name}", d.handleSite)
		mux.HandleFunc("GET /sites/{name}/{rest...}", d.handleSite)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintf(env.stdout, "sites at http://%s/sites/NAME/\n", ln.Addr())
	}
	fmt.Fprintln(env.stdout, "Ctrl-C stops it")
	<-env.ctx.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = stop(ctx)
	if srv != nil {
		err = errors.Join(err, srv.Shutdown(ctx))
	}
	return err
}
