package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/rpc"
)

// shareRoomPrefix starts the room of a direct share; the code follows.
const shareRoomPrefix = "share-"

// codeAlphabet has no look-alike characters (no 0/o, 1/l/i).
const codeAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newShareCode returns a short random code such as "k7m2-x9qa" (about 40
// bits): enough that guessing a live share is impractical.
func newShareCode() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b[:4]) + "-" + string(b[4:]), nil
}

// validCode checks a code typed by a user.
func validCode(code string) error {
	if len(code) != 9 || code[4] != '-' {
		return usageErr("a share code looks like k7m2-x9qa, got %q", code)
	}
	for i, r := range code {
		if i != 4 && !strings.ContainsRune(codeAlphabet, r) {
			return usageErr("a share code looks like k7m2-x9qa, got %q", code)
		}
	}
	return nil
}

// shareService serves one archive to getters: the stat and read methods of
// the store, without a store.
type shareService struct {
	info    store.Info
	archive io.ReaderAt

	mu       sync.Mutex // guards complete
	complete map[*rpc.Conn]bool
}

// markComplete records that the caller's connection has read the last byte.
func (s *shareService) markComplete(ctx context.Context) {
	c := rpc.ConnFromContext(ctx)
	s.mu.Lock()
	s.complete[c] = true
	s.mu.Unlock()
}

// closed forgets a connection and reports whether it had read everything.
func (s *shareService) closed(c *rpc.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := s.complete[c]
	delete(s.complete, c)
	return done
}

func (s *shareService) Stat(ctx context.Context, name string) (store.Info, error) {
	if name != s.info.Name {
		return store.Info{}, fmt.Errorf("%w: %s", store.ErrNotFound, name)
	}
	return s.info, nil
}

func (s *shareService) Read(ctx context.Context, name string, offset int64, length int) ([]byte, error) {
	if name != s.info.Name {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, name)
	}
	if length < 0 || length > 1<<20 || offset < 0 {
		return nil, fmt.Errorf("%w: offset %d, length %d", store.ErrReadTooLarge, offset, length)
	}
	if offset >= s.info.Size {
		return []byte{}, nil
	}
	buf := make([]byte, min(int64(length), s.info.Size-offset))
	n, err := s.archive.ReadAt(buf, offset)
	if err == io.EOF {
		err = nil
	}
	if offset+int64(n) == s.info.Size {
		s.markComplete(ctx)
	}
	return buf[:n], err
}

var shareCommand = &command{
	name:    "share",
	usage:   "PATH [--signal URL] [--keep]",
	summary: "offer a directory or file directly to one peer; prints a code for 'peerd get'",
	run: func(env *cliEnv, fs *flag.FlagSet, args []string) error {
		signal := envString(fs, "signal", "PEERD_SIGNAL", "ws://127.0.0.1:8080/signal", "signaling server URL")
		token := envString(fs, "token", "PEERD_TOKEN", "", "room token, when the signaling server requires one")
		code := envString(fs, "code", "PEERD_CODE", "", "use this code instead of a random one")
		keep := envBool(fs, "keep", "PEERD_KEEP", false, "keep sharing after the first complete download")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("share takes one PATH")
		}
		if *code == "" {
			if *code, err = newShareCode(); err != nil {
				return err
			}
		} else if err := validCode(*code); err != nil {
			return err
		}
		fi, err := os.Stat(pos[0])
		if err != nil {
			return err
		}
		archive, size, sum, _, err := packToTemp(pos[0])
		if err != nil {
			return err
		}
		defer os.Remove(archive.Name())
		defer archive.Close()
		served := make(chan struct{}, 1)
		svc := &shareService{
			info:     store.Info{Name: "share", Size: size, SHA256: sum, Mtime: fi.ModTime().UTC(), Published: time.Now().UTC()},
			archive:  archive,
			complete: map[*rpc.Conn]bool{},
		}
		reg := rpc.NewRegistry()
		if err := reg.Register("share.stat", svc.Stat, "name"); err != nil {
			return err
		}
		if err := reg.Register("share.read", svc.Read, "name", "offset", "length"); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(env.ctx)
		defer cancel()
		// A getter that read everything and then hung up has its copy.
		stop, err := listenRoom(ctx, *signal, shareRoomPrefix+*code, *token, reg, func(c *rpc.Conn, open bool) {
			if !open && svc.closed(c) {
				select {
				case served <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			return err
		}
		defer stop(context.Background())
		fmt.Fprintf(env.stdout, "sharing %s (%s)\non the other machine run:\n  %s get %s -o DIR --signal %s\n", pos[0], humanSize(size), selfCommand(), *code, *signal)
		for {
			select {
			case <-served:
				fmt.Fprintln(env.stdout, "a peer downloaded the whole share")
				if !*keep {
					return nil
				}
			case <-ctx.Done():
				if errors.Is(env.ctx.Err(), context.Canceled) {
					return nil
				}
				return ctx.Err()
			}
		}
	},
}

var getCommand = &command{
	name:    "get",
	usage:   "CODE -o DIR [--signal URL]",
	summary: "download what 'peerd share' offers under CODE, verify and unpack it",
	run: func(env *cliEnv, fs *flag.FlagSet, args []string) error {
		signal := envString(fs, "signal", "PEERD_SIGNAL", "ws://127.0.0.1:8080/signal", "signaling server URL")
		token := envString(fs, "token", "PEERD_TOKEN", "", "room token, when the signaling server requires one")
		out := envString(fs, "o", "PEERD_OUT", "", "directory to unpack into (created; must be empty)")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("get takes one CODE")
		}
		if err := validCode(pos[0]); err != nil {
			return err
		}
		if *out == "" {
			return usageErr("get needs -o DIR")
		}
		conn, closeConn, err := dialRoom(env.ctx, *signal, shareRoomPrefix+pos[0], *token, env.stderr)
		if err != nil {
			return err
		}
		defer closeConn()
		bar := newProgressBar(env.stdout, "get "+pos[0])
		info, err := store.FetchInto(env.ctx, conn, "share", *out, store.Limits{}, store.TransferOptions{Namespace: "share", Progress: bar.Update})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "received %s into %s (sha256 %s verified)\n", humanSize(info.Size), *out, info.SHA256[:16])
		return nil
	},
}
