package harness

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Main runs the benchmark command line: it parses args (see -help), runs
// the selected suites, prints the table to stdout and writes the files.
// Progress goes to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if job, ok, err := childJob(); ok {
		if err != nil {
			return err
		}
		return runChildJob(ctx, job, os.Stdin, stdout)
	}
	if job, ok, err := idleChildJob(); ok {
		if err != nil {
			return err
		}
		return runIdleClients(ctx, job, os.Stdin, stdout)
	}
	// The twoproc suite starts this program again as its receiver: keep
	// whatever arguments led here (such as "bench" for the peerd command).
	if k := len(os.Args) - len(args); k >= 1 && slices.Equal(os.Args[k:], args) {
		childArgs = slices.Clone(os.Args[1:k])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small sizes and few repetitions: finishes in under a minute")
	suites := fs.String("suites", "", "comma-separated suites to run (default all: "+strings.Join(AllSuites, ",")+")")
	cases := fs.String("cases", "", "comma-separated substrings: keep only matching cases (and their baselines)")
	sizes := fs.String("sizes", "", "comma-separated throughput payload sizes, e.g. 1KiB,64KiB,16MiB")
	reps := fs.Int("reps", 0, "repetitions per figure (default 5, quick 3)")
	bytesFlag := fs.String("bytes", "", "bytes moved per throughput measurement (default 64MiB, quick 4MiB)")
	duration := fs.Duration("duration", 0, "least time of each throughput measurement (throughput and cpu suites): the transfer of -bytes repeats until it has passed "+
		"(default 0: one transfer; copy and the in-memory pipe cases always run at least "+inMemoryMinDuration.String()+")")
	rtts := fs.Int("roundtrips", 0, "round trips per latency measurement (default 2000, quick 300)")
	memBytes := fs.String("memory-bytes", "", "bytes moved by each repetition of the memory suite (default 1GiB, quick 32MiB)")
	pubBytes := fs.String("publish-bytes", "", "size of the file the publish suite publishes with the peerd program (default 1GiB, quick 32MiB)")
	peerdBin := fs.String("peerd", "", "peerd program for the publish suite (default: build it with go build)")
	sigConns := fs.Int("signaling-conns", 0, "idle connections the signaling suite holds (default 5000, quick 500)")
	sigRooms := fs.Int("signaling-rooms", 0, "rooms of the signaling relay measurement (default 500, quick 100)")
	relayN := fs.Int("relay-signals", 0, "signals per relay measurement, paced at 1000/s (default 3000, quick 500)")
	timeout := fs.Duration("case-timeout", 0, "bound on one case at one size; on each repetition of the memory suite (default 2m, quick 20s)")
	out := fs.String("out", "bench-out", "directory for results.json, results.txt and charts")
	total := fs.Duration("timeout", 30*time.Minute, "bound on the whole run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (not of child processes or browsers) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg Config
	if *quick {
		cfg = Quick()
	}
	cfg.Progress = stderr
	if *suites != "" {
		cfg.Suites = splitList(*suites)
	}
	if *cases != "" {
		cfg.Cases = splitList(*cases)
	}
	if *sizes != "" {
		cfg.Sizes = nil
		for _, s := range splitList(*sizes) {
			n, err := ParseSize(s)
			if err != nil {
				return err
			}
			cfg.Sizes = append(cfg.Sizes, int(n))
		}
	}
	if *reps > 0 {
		cfg.Reps = *reps
	}
	if *duration < 0 {
		return fmt.Errorf("-duration %s: want 0 or more", *duration)
	}
	cfg.Duration = *duration
	if *rtts > 0 {
		cfg.RoundTrips = *rtts
	}
	if *sigConns > 0 {
		cfg.SignalingConns = *sigConns
	}
	if *sigRooms > 0 {
		cfg.SignalingRooms = *sigRooms
	}
	if *relayN > 0 {
		cfg.RelaySignals = *relayN
	}
	if *timeout > 0 {
		cfg.CaseTimeout = *timeout
	}
	for _, f := range []struct {
		s   string
		dst *int64
	}{{*bytesFlag, &cfg.Bytes}, {*memBytes, &cfg.MemoryBytes}, {*pubBytes, &cfg.PublishBytes}} {
		if f.s == "" {
			continue
		}
		n, err := ParseSize(f.s)
		if err != nil {
			return err
		}
		*f.dst = n
	}
	if *peerdBin != "" {
		cfg.PeerdBinary = *peerdBin
	}
	if d := cfg.withDefaults(); d.Duration > 0 && time.Duration(d.Reps)*d.Duration >= d.CaseTimeout {
		return fmt.Errorf("-duration %s times %d repetitions does not fit in -case-timeout %s", d.Duration, d.Reps, d.CaseTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, *total)
	defer cancel()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, runErr := Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	fmt.Fprintln(stdout)
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	paths, err := rep.WriteFiles(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s (in %s)\n", strings.Join(paths, ", "), rep.Elapsed.Round(time.Millisecond))
	return runErr
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseSize reads a byte count such as 4096, 64KiB, 16MiB or 1GiB.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.m, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q: want a positive count such as 4096, 64KiB, 16MiB or 1GiB", s)
	}
	return n * mult, nil
}
