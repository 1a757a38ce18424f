package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one peerd subcommand.
type command struct {
	name    string
	usage   string // argument synopsis after the name
	summary string // one line for the command list
	// run parses args with fs (already holding the common flags) and runs.
	run func(env *cliEnv, fs *flag.FlagSet, args []string) error
}

// newFlagSet returns a flag set whose usage message lists the command's
// synopsis, summary and flags with their environment variables.
func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("peerd "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		name := "peerd"
		if c.name != "" {
			name += " " + c.name
		}
		fmt.Fprintf(stderr, "usage: %s %s\n\n%s\n\nflags (each also read from the environment variable shown):\n", name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// envString declares a string flag whose default comes from the environment
// variable env when set.
func envString(fs *flag.FlagSet, name, env, def, usage string) *string {
	if v, ok := os.LookupEnv(env); ok && v != "" {
		def = v
	}
	return fs.String(name, def, usage+" (env "+env+")")
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, and returns the positional ones. "--" ends flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// errUsage marks an error that should be followed by the usage message.
var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// writeCommandList prints the top-level help.
func writeCommandList(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `peerd moves files and function calls between peers over WebRTC data channels.

usage: peerd [flags]            run signaling, a store peer and the web page on localhost
       peerd COMMAND [args]     run one command

commands:
`)
	for _, c := range cmds {
		if c.name == "" {
			continue
		}
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'peerd COMMAND --help' for a command's flags; 'peerd --help' lists the daemon's.\n")
}
