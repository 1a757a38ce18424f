package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerd/peerd/bench/harness"
	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/signaling"
)

// storeFlags are the flags of a store peer's store: the daemon's and
// serve's.
type storeFlags struct {
	data, maxBundle, maxStore, maxUnpacked *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		data:        envString(fs, "data", "PEERD_DATA", "peerd-data", "data directory for published bundles"),
		maxBundle:   envString(fs, "max-bundle", "PEERD_MAX_BUNDLE", "4GiB", "largest bundle archive accepted"),
		maxStore:    envString(fs, "max-store", "PEERD_MAX_STORE", "64GiB", "total size of all bundles, uploads in progress counted at their full size"),
		maxUnpacked: envString(fs, "max-unpacked", "PEERD_MAX_UNPACKED", "8GiB", "largest total size of the files one bundle unpacks to (archive bombs)"),
	}
}

// options returns the store options the flags ask for.
func (f storeFlags) options() (store.Options, error) {
	var o store.Options
	for _, s := range []struct {
		v   string
		dst *int64
	}{{*f.maxBundle, &o.MaxBundleSize}, {*f.maxStore, &o.MaxStoreSize}, {*f.maxUnpacked, &o.Unpack.MaxUnpacked}} {
		n, err := harness.ParseSize(s.v)
		if err != nil {
			return o, usageErr("%v", err)
		}
		*s.dst = n
	}
	return o, nil
}

// daemonOpts are the daemon's flag values.
type daemonOpts struct {
	storeFlags
	addr, room, secret, logLevel, rpcTCP *string
}

func daemonFlags(fs *flag.FlagSet) daemonOpts {
	return daemonOpts{
		storeFlags: addStoreFlags(fs),
		addr:       envString(fs, "addr", "PEERD_ADDR", "127.0.0.1:8080", "listen address for the web page, signaling and status"),
		room:       envString(fs, "room", "PEERD_ROOM", "public", "room the store peer joins"),
		secret:     envString(fs, "secret", "PEERD_SECRET", "", "signaling secret: when set, joining needs a token and publishing a publisher token"),
		logLevel:   envString(fs, "log", "PEERD_LOG", "warn", "log level: debug, info, warn, error"),
		rpcTCP:     envString(fs, "rpc-tcp", "PEERD_RPC_TCP", "", "also serve JSON-RPC as newline-delimited JSON over TCP on this address"),
	}
}

var daemonCommand = &command{
	usage:   "[flags]",
	summary: "Runs a signaling server, a store peer and the web page in one process on localhost.",
	run:     runDaemon,
}

func newLogger(level string, env *cliEnv) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErr("bad -log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: l})), nil
}

func runDaemon(env *cliEnv, fs *flag.FlagSet, args []string) error {
	o := daemonFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	logger, err := newLogger(*o.logLevel, env)
	if err != nil {
		return err
	}
	cfg := daemonConfig{dataDir: *o.data, room: *o.room, logger: logger}
	if *o.secret != "" {
		cfg.secret = []byte(*o.secret)
	}
	if cfg.store, err = o.options(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *o.addr)
	if err != nil {
		return err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		cfg.loopbackOnly = tcp.IP.IsLoopback()
	}
	if *o.rpcTCP != "" {
		if cfg.rpcTCP, err = net.Listen("tcp", *o.rpcTCP); err != nil {
			ln.Close()
			return err
		}
	}
	d, err := startDaemon(env.ctx, ln, cfg)
	if err != nil {
		ln.Close()
		if cfg.rpcTCP != nil {
			cfg.rpcTCP.Close()
		}
		return err
	}
	printBanner(env, d)
	if env.ready != nil {
		env.ready(d)
	}
	<-env.ctx.Done()
	fmt.Fprintln(env.stdout, "\nstopping: telling peers, finishing requests (up to 10s)…")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintln(env.stdout, "peerd stopped")
	return nil
}

// selfCommand is how the user ran this program, for "next command" hints:
// "go run ./cmd/peerd" under go run, else the program name.
func selfCommand() string {
	exe := os.Args[0]
	if strings.Contains(exe, "go-build") || strings.HasSuffix(filepath.Dir(exe), "/exe") {
		return "go run ./cmd/peerd"
	}
	return filepath.Base(exe)
}

func printBanner(env *cliEnv, d *daemon) {
	data, _ := filepath.Abs(d.cfg.dataDir)
	self := selfCommand()
	fmt.Fprintf(env.stdout, `peerd %s is running
  web page    %s/
  status      %s/status
  signaling   %s   (store peer in room %q)
  JSON-RPC    %s/rpc   (POST; GET lists methods; WebSocket on the same URL)
  data        %s
`, version, d.baseURL, d.baseURL, d.signalURL, d.cfg.room, d.baseURL, data)
	if d.cfg.rpcTCP != nil {
		fmt.Fprintf(env.stdout, "  JSON-RPC    tcp://%s   (newline-delimited)\n", d.cfg.rpcTCP.Addr())
	}
	if len(d.cfg.secret) > 0 {
		fmt.Fprintln(env.stdout, "  auth        tokens required (publish with --token)")
	}
	fmt.Fprintf(env.stdout, `
next, in another terminal:
  %s publish ./some-directory --name hello --signal %s
  then open %s/sites/hello/
Ctrl-C stops peerd.
`, self, d.signalURL, d.baseURL)
}

var signalCommand = &command{
	name:    "signal",
	usage:   "[flags]",
	summary: "run only the signaling server",
	run: func(env *cliEnv, fs *flag.FlagSet, args []string) error {
		addr := envString(fs, "addr", "PEERD_ADDR", "127.0.0.1:8080", "listen address")
		secret := envString(fs, "secret", "PEERD_SECRET", "", "signaling secret: when set, joining needs a token")
		level := envString(fs, "log", "PEERD_LOG", "warn", "log level: debug, info, warn, error")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usageErr("unexpected argument %q", pos[0])
		}
		logger, err := newLogger(*level, env)
		if err != nil {
			return err
		}
		o := signaling.ServerOptions{Logger: logger}
		if *secret != "" {
			o.Secret = []byte(*secret)
		}
		srv := signaling.NewServer(o)
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "peerd signaling on ws://%s/ (any path); Ctrl-C stops it\n", ln.Addr())
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(env.ctx, ln) }()
		err = <-errc
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	},
}

var benchCommand = &command{
	name:    "bench",
	usage:   "[-quick] [flags]",
	summary: "measure throughput and latency next to baselines (same as go run ./bench)",
	run: func(env *cliEnv, _ *flag.FlagSet, args []string) error {
		stopGCTuner()
		return harness.Main(env.ctx, args, env.stdout, env.stderr)
	},
}
