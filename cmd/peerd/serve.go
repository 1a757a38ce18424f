package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
)

var serveCommand = &command{
	name:    "serve",
	usage:   "--signal URL [--room ROOM] [--data DIR] [--http ADDR] [--max-bundle SIZE] [--max-store SIZE] [--max-unpacked SIZE] [--secret SECRET | --token TOKEN]",
	summary: "run only the store peer, against a signaling server elsewhere",
	run:     runServe,
}

func runServe(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	sf := addStoreFlags(fs)
	httpAddr := envString(fs, "http", "PEERD_HTTP", "", "also serve /sites/NAME/ over HTTP on this address")
	secret := envString(fs, "secret", "PEERD_SECRET", "", "the signaling server's secret: when set, publishing and deleting need a publisher token, and the store peer joins with a publisher token it mints unless --token is given")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	so, err := sf.options()
	if err != nil {
		return err
	}
	st, err := store.Open(*sf.data, so)
	if err != nil {
		return err
	}
	defer st.Close()
	// The HTTP listener comes first: the store peer reports its address
	// (sys.info), so that publishers print where their bundle is served.
	var srv *http.Server
	var ln net.Listener
	base := ""
	if *httpAddr != "" {
		if ln, err = net.Listen("tcp", *httpAddr); err != nil {
			return err
		}
		base = advertisedBase(ln.Addr())
		d := &daemon{store: st}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /sites/{name}", d.handleSite)
		mux.HandleFunc("GET /sites/{name}/{rest...}", d.handleSite)
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	// With a secret, callers present their token through peer.auth and only
	// a publisher token for this room may change the store; without one,
	// whoever the signaling server lets reach this peer may publish.
	auth := storeAuth{room: *pf.room}
	if *secret != "" {
		auth.secret = []byte(*secret)
	}
	token := *pf.token
	if token == "" {
		if token, err = auth.selfToken(); err != nil {
			return closeListener(ln, err)
		}
	}
	reg, err := newStoreRegistry(st, auth, time.Now(), base)
	if err != nil {
		return closeListener(ln, err)
	}
	stop, err := listenRoom(env.ctx, *pf.signal, *pf.room, token, reg, nil)
	if err != nil {
		return closeListener(ln, err)
	}
	fmt.Fprintf(env.stdout, "store peer in room %q via %s, data in %s\n", *pf.room, *pf.signal, *sf.data)
	if len(auth.secret) > 0 {
		fmt.Fprintln(env.stdout, "publishing and deleting need a publisher token (--token)")
	}
	served := make(chan struct{})
	if srv != nil {
		go func() {
			defer close(served)
			_ = srv.Serve(ln)
		}()
		fmt.Fprintf(env.stdout, "sites at %s/sites/NAME/\n", base)
	} else {
		close(served)
	}
	fmt.Fprintln(env.stdout, "Ctrl-C stops it")
	<-env.ctx.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = stop(ctx)
	if srv != nil {
		if serr := srv.Shutdown(ctx); serr != nil {
			err = errors.Join(err, serr, srv.Close())
		}
	}
	<-served
	return err
}

// closeListener closes ln, if any, and returns err.
func closeListener(ln net.Listener, err error) error {
	if ln != nil {
		ln.Close()
	}
	return err
}
