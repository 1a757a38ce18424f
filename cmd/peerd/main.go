// Command peerd runs the peerd daemon and its command-line tools. With no
// arguments it starts, on localhost with built-in defaults, a signaling
// server, a store peer that accepts published bundles over WebRTC data
// channels, and a web page.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	startGCTuner()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], &cliEnv{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin})
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "peerd:", err)
		os.Exit(exitCode(err))
	}
}

// cliEnv is what a command may touch besides its arguments.
type cliEnv struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	// ready, if set, is told the daemon's base URL once it serves (tests).
	ready func(d *daemon)
}

// exitCode maps an error to the process exit status: 2 for usage errors,
// 1 for everything else.
func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

func commands() []*command {
	return []*command{
		daemonCommand,
		publishCommand,
		fetchCommand,
		shareCommand,
		getCommand,
		callCommand,
		signalCommand,
		serveCommand,
		benchCommand,
		versionCommand,
	}
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, env *cliEnv) error {
	env.ctx = ctx
	cmds := commands()
	c := cmds[0]
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			if len(args) == 1 {
				writeCommandList(env.stdout, cmds)
				fs := newFlagSet(daemonCommand, env.stdout)
				daemonFlags(fs)
				fmt.Fprintln(env.stdout, "\ndaemon flags (each also read from the environment variable shown):")
				fs.PrintDefaults()
				return nil
			}
			args = append(args[1:2], "--help")
		}
		for _, k := range cmds[1:] {
			if k.name == args[0] {
				c, args = k, args[1:]
				break
			}
		}
		if c == daemonCommand && len(args) > 0 && args[0] != "" && args[0][0] != '-' {
			writeCommandList(env.stderr, cmds)
			return usageErr("unknown command %q", args[0])
		}
	}
	fs := newFlagSet(c, env.stderr)
	err := c.run(env, fs, args)
	if errors.Is(err, errUsage) {
		fs.Usage()
	}
	return err
}

var versionCommand = &command{
	name:    "version",
	summary: "print peerd's version",
	run: func(env *cliEnv, fs *flag.FlagSet, args []string) error {
		if _, err := parseInterleaved(fs, args); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "peerd", version)
		return nil
	},
}
