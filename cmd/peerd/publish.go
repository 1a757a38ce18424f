package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
)

// peerFlags are the flags of every command that reaches a peer.
type peerFlags struct {
	signal, room, token *string
}

func addPeerFlags(fs *flag.FlagSet) peerFlags {
	return peerFlags{
		signal: envString(fs, "signal", "PEERD_SIGNAL", "ws://127.0.0.1:8080/signal", "signaling server URL"),
		room:   envString(fs, "room", "PEERD_ROOM", "public", "room of the peer to reach"),
		token:  envString(fs, "token", "PEERD_TOKEN", "", "room token, when the signaling server requires one"),
	}
}

var publishCommand = &command{
	name:    "publish",
	usage:   "PATH --name NAME [--signal URL] [--room ROOM] [--token TOKEN]",
	summary: "pack a directory (or file) as tar.gz and publish it to the store peer",
	run:     runPublish,
}

func runPublish(env *cliEnv, fs *flag.FlagSet, args []string) error {
	pf := addPeerFlags(fs)
	name := envString(fs, "name", "PEERD_NAME", "", "bundle name (default: the directory's name)")
	chunk := envInt(fs, "chunk", "PEERD_CHUNK", store.DefaultChunk, "`bytes` per write call")
	window := envInt(fs, "window", "PEERD_WINDOW", 8, "write `calls` in flight")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("publish takes one PATH")
	}
	src := pos[0]
	if *name == "" {
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		*name = sanitizeName(filepath.Base(abs))
	}
	if err := store.ValidName(*name); err != nil {
		return usageErr("%v", err)
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	archive, size, sum, skipped, err := packToTemp(src)
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	for _, s := range skipped {
		fmt.Fprintf(env.stderr, "skipped %s (not a regular file or directory)\n", s)
	}
	fmt.Fprintf(env.stdout, "packed %s: %s, sha256 %s\n", src, humanSize(size), sum[:16])

	conn, closeConn, err := dialRoom(env.ctx, *pf.signal, *pf.room, *pf.token, env.stderr)
	if err != nil {
		return err
	}
	defer closeConn()
	bar := newProgressBar(env.stdout, "publish "+*name)
	start := time.Now()
	res, err := store.Upload(env.ctx, conn, *name, archive, size, sum, info.ModTime(),
		store.TransferOptions{Chunk: *chunk, Window: *window, Progress: bar.Update})
	if err != nil {
		return fmt.Errorf("publish %s: %w (run the same command again to resume)", *name, err)
	}
	el := time.Since(start)
	fmt.Fprintf(env.stdout, "uploaded %s in %s (%.1f MB/s)\n", humanSize(size), el.Round(time.Millisecond), float64(size)/el.Seconds()/1e6)
	fmt.Fprintf(env.stdout, "published %s (%s, %s unpacked)\n", res.Name, plural(res.Files, "file"), humanSize(res.Unpacked))
	// The store peer knows where, if anywhere, it serves bundles over HTTP.
	var si sysInfo
	if err := conn.Call(env.ctx, "sys.info", &si); err == nil && si.HTTP != "" {
		fmt.Fprintf(env.stdout, "served at %s/sites/%s/\n", strings.TrimSuffix(si.HTTP, "/"), res.Name)
	}
	return nil
}

// packToTemp packs src into a temporary file and returns it (open, at
// offset 0) with its size and hex SHA-256. The archive is deterministic, so
// a second run after an interruption resumes the same upload.
func packToTemp(src string) (f *os.File, size int64, sum string, skipped []string, err error) {
	f, err = os.CreateTemp("", "peerd-publish-*.tar.gz")
	if err != nil {
		return nil, 0, "", nil, err
	}
	fail := func(err error) (*os.File, int64, string, []string, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, "", nil, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if skipped, err = store.Pack(src, cw); err != nil {
		return fail(err)
	}
	return f, cw.n, hex.EncodeToString(h.Sum(nil)), skipped, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// sanitizeName turns a directory name into a bundle name: lower case, with
// characters outside a-z 0-9 . _ - replaced by '-'.
func sanitizeName(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			out = append(out, byte(r-'A'+'a'))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			out = append(out, byte(r))
		default:
			out = append(out, '-')
		}
	}
	for len(out) > 0 && (out[0] == '.' || out[0] == '-' || out[0] == '_') {
		out = out[1:]
	}
	if len(out) > 64 {
		out = out[:64]
	}
	if len(out) == 0 {
		return "bundle"
	}
	return string(out)
}
