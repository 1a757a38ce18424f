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
	usage:   "--signal URL [--room ROOM] [--data DIR] [--http ADDR]",
	summary: "run only the store peer, against a signaling server elsewhere",
	run:     runServe,
}

func runServe(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	data := envString(fs, "data", "PEERD_DATA", "peerd-data", "data directory for published bundles")
	httpAddr := envString(fs, "http", "PEERD_HTTP", "", "also serve /sites/NAME/ over HTTP on this address")
	maxBundle := envString(fs, "max-bundle", "PEERD_MAX_BUNDLE", "4GiB", "largest bundle archive accepted")
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
	// A token presented with --token admits this peer to the room; whoever
	// reaches it may publish (the signaling server vets who joins).
	reg, err := newRegistry(&store.Service{Store: st}, time.Now())
	if err != nil {
		return err
	}
	if err := reg.Register("peer.auth", func(string) string { return "publisher" }, "token"); err != nil {
		return err
	}
	stop, err := listenRoom(env.ctx, *pf.signal, *pf.room, *pf.token, reg, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "store peer in room %q via %s, data in %s\n", *pf.room, *pf.signal, *data)
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
