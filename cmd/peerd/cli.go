package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
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

// envInt declares an int flag whose default comes from the environment
// variable env when set. A value there that is not an integer fails the
// command when it parses its flags.
func envInt(fs *flag.FlagSet, name, env string, def int, usage string) *int {
	f := &intFlag{p: new(int), env: env}
	*f.p = def
	if v, ok := os.LookupEnv(env); ok && v != "" {
		f.envErr = f.Set(v)
	}
	fs.Var(f, name, usage+" (env "+env+")")
	return f.p
}

// envBool declares a bool flag whose default comes from the environment
// variable env when set (1, t, true, 0, f, false, ...). A value there that
// is not a boolean fails the command when it parses its flags.
func envBool(fs *flag.FlagSet, name, env string, def bool, usage string) *bool {
	f := &boolFlag{p: new(bool), env: env}
	*f.p = def
	if v, ok := os.LookupEnv(env); ok && v != "" {
		f.envErr = f.Set(v)
	}
	fs.Var(f, name, usage+" (env "+env+")")
	return f.p
}

// intFlag is the flag.Value of envInt.
type intFlag struct {
	p      *int
	env    string
	envErr error
}

func (f *intFlag) String() string {
	if f == nil || f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *intFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*f.p = int(n)
	return nil
}

func (f *intFlag) envError() error {
	if f.envErr == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", f.env, f.envErr)
}

// boolFlag is the flag.Value of envBool.
type boolFlag struct {
	p      *bool
	env    string
	envErr error
}

func (f *boolFlag) String() string {
	if f == nil || f.p == nil {
		return "false"
	}
	return strconv.FormatBool(*f.p)
}

func (f *boolFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*f.p = b
	return nil
}

func (f *boolFlag) IsBoolFlag() bool { return true }

func (f *boolFlag) envError() error {
	if f.envErr == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", f.env, f.envErr)
}

// checkEnv returns a usage error for the first flag, among those not given
// on the command line, whose environment variable held a value that does not
// parse.
func checkEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if e, ok := f.Value.(interface{ envError() error }); ok && err == nil && !given[f.Name] {
			if eerr := e.envError(); eerr != nil {
				err = usageErr("%v (for -%s)", eerr, f.Name)
			}
		}
	})
	return err
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, and returns the positional ones. "--" ends flags.
// An environment variable that holds a bad value for a flag not given on the
// command line is an error.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, checkEnv(fs)
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), checkEnv(fs)
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
	fmt.Fprintf(w, "\nRun 'peerd COMMAND --help' for a command's flags; 'peerd --help' lists the daemon's.\n"+
		"The garbage collector lets the heap grow to %d MiB before collecting (fewer collections\n"+
		"during transfers); setting GOGC in the environment restores the Go runtime's own policy.\n", gcBudget>>20)
}
