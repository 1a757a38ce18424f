// Command publish publishes a directory to a running peerd daemon from Go
// code: it packs the directory as tar.gz, connects to the daemon's store
// peer over a WebRTC data channel, and uploads it with a window of chunk
// calls in flight, printing progress.
//
//	go run ./cmd/peerd                                         # in one terminal
//	go run ./examples/publish -name demo ./examples/publish/site
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/peer"
)

func main() {
	signalURL := flag.String("signal", "ws://127.0.0.1:8080/signal", "the daemon's signaling URL")
	room := flag.String("room", "public", "the store peer's room")
	name := flag.String("name", "example", "bundle name")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: publish [-signal URL] [-room ROOM] [-name NAME] DIR")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := publish(ctx, os.Stdout, *signalURL, *room, *name, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func publish(ctx context.Context, out io.Writer, signalURL, room, name, dir string) error {
	// Pack the directory into a temporary file, hashing it on the way:
	// memory stays small whatever the size. store.Pack is deterministic, so
	// publishing the same tree again after an interruption resumes the same
	// upload.
	archive, err := os.CreateTemp("", "publish-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	h := sha256.New()
	if _, err := store.Pack(dir, io.MultiWriter(archive, h)); err != nil {
		return err
	}
	fi, err := archive.Stat()
	if err != nil {
		return err
	}

	// Reach the store peer: the first publisher in the room.
	conn, err := peer.Dial(ctx, signalURL, room, peer.Options{Network: peer.NetworkLoopback})
	if err != nil {
		return err
	}
	defer conn.Close()

	// Upload reads the file with ReadAt, a window of chunks at a time.
	info, err := store.Upload(ctx, conn.RPC(), name, archive, fi.Size(), hex.EncodeToString(h.Sum(nil)), time.Now(),
		store.TransferOptions{
			Progress: func(done, total int64) { fmt.Fprintf(out, "uploaded %d of %d bytes\n", done, total) },
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "published %q: %d files, sha256 %s\n", info.Name, info.Files, info.SHA256)
	return nil
}
