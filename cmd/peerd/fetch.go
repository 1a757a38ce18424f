package main

import (
	"flag"
	"fmt"

	"github.com/peerd/peerd/cmd/peerd/store"
)

var fetchCommand = &command{
	name:    "fetch",
	usage:   "NAME -o DIR [--signal URL] [--room ROOM]",
	summary: "download a bundle from the store peer, verify its SHA-256 and unpack it",
	run: func(env *cliEnv, fs *flag.FlagSet, args []string) error {
		pf := addPeerFlags(fs)
		out := envString(fs, "o", "PEERD_OUT", "", "directory to unpack into (created; must be empty); default ./NAME")
		window := envInt(fs, "window", "PEERD_WINDOW", 16, "read `calls` in flight")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("fetch takes one NAME")
		}
		name := pos[0]
		if err := store.ValidName(name); err != nil {
			return usageErr("%v", err)
		}
		if *out == "" {
			*out = name
		}
		conn, closeConn, err := dialRoom(env.ctx, *pf.signal, *pf.room, *pf.token, env.stderr)
		if err != nil {
			return err
		}
		defer closeConn()
		bar := newProgressBar(env.stdout, "fetch "+name)
		info, err := store.FetchInto(env.ctx, conn, name, *out, store.Limits{}, store.TransferOptions{Window: *window, Progress: bar.Update})
		if err != nil {
			return fmt.Errorf("fetch %s: %w", name, err)
		}
		fmt.Fprintf(env.stdout, "fetched %s into %s (%s, sha256 %s verified)\n", name, *out, plural(info.Files, "file"), info.SHA256[:16])
		return nil
	},
}
