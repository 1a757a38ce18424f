package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Config selects what a run measures. The zero Config is completed by
// defaults (see each field).
type Config struct {
	// Suites lists the suites to run (see AllSuites). Empty means all.
	Suites []string
	// Cases, when not empty, keeps only cases whose name contains one of
	// these substrings (baselines of kept cases are always kept).
	Cases []string
	// Sizes are the throughput payload sizes in bytes. Default: 1 KiB,
	// 16 KiB, 64 KiB, 256 KiB, 1 MiB, 16 MiB.
	Sizes []int
	// Reps is how often each measurement repeats. Default 5.
	Reps int
	// Bytes is how much one throughput measurement moves at least (it moves at
	// least four payloads). Default 64 MiB.
	Bytes int64
	// Duration is the least time one throughput measurement (throughput
	// and cpu suites) runs: the transfer of Bytes repeats until it has
	// passed, and the figure is all bytes moved over the time taken. Zero
	// means one transfer, except for cases with a MinDuration of their own
	// (those moving bytes within memory). The twoproc, memory and publish
	// suites move their bytes once per measurement whatever it says.
	Duration time.Duration
	// RoundTrips is the number of round trips in one latency measurement.
	// Default 2000.
	RoundTrips int
	// MemoryBytes is how much each repetition of the memory suite moves.
	// Default 1 GiB.
	MemoryBytes int64
	// PublishBytes is the size of the file the publish suite publishes
	// through the real peerd program. Default 1 GiB.
	PublishBytes int64
	// PeerdBinary is the peerd program the publish suite runs; default:
	// built from this module with the go command.
	PeerdBinary string
	// SignalingConns is how many idle connections the signaling suite
	// holds. Default 5000.
	SignalingConns int
	// SignalingRooms is how many rooms (one pair each) the signaling relay
	// measurement spreads its signals over. Default 500.
	SignalingRooms int
	// RelaySignals is how many signals one relay measurement sends, paced
	// at 1,000 per second. Default 3000.
	RelaySignals int
	// CaseTimeout bounds the set-up and all repetitions of one case at one
	// size. Default 2 minutes.
	CaseTimeout time.Duration
	// Progress, when set, receives a line per finished measurement.
	Progress io.Writer

	// now is the clock of throughput measurements; nil means time.Now.
	now func() time.Time
}

func (c Config) clock() func() time.Time {
	if c.now == nil {
		return time.Now
	}
	return c.now
}

// Quick returns the configuration of the -quick mode: every suite at small
// sizes with few repetitions, finishing in well under a minute.
func Quick() Config {
	return Config{
		Sizes:        []int{64 << 10, 1 << 20},
		Reps:         3,
		Bytes:        4 << 20,
		RoundTrips:   300,
		MemoryBytes:  32 << 20,
		PublishBytes: 32 << 20,
		CaseTimeout:  20 * time.Second,

		SignalingConns: 500,
		SignalingRooms: 100,
		RelaySignals:   500,
	}
}

// AllSuites lists the suites in the order they run.
var AllSuites = []string{"throughput", "latency", "calls", "memory", "cpu", "twoproc", "signaling", "publish"}

func (c Config) withDefaults() Config {
	if len(c.Suites) == 0 {
		c.Suites = AllSuites
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 16 << 20}
	}
	if c.Reps <= 0 {
		c.Reps = 5
	}
	if c.Bytes <= 0 {
		c.Bytes = 64 << 20
	}
	if c.RoundTrips <= 0 {
		c.RoundTrips = 2000
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = 1 << 30
	}
	if c.PublishBytes <= 0 {
		c.PublishBytes = 1 << 30
	}
	if c.SignalingConns <= 0 {
		c.SignalingConns = 5000
	}
	if c.SignalingRooms <= 0 {
		c.SignalingRooms = 500
	}
	if c.RelaySignals <= 0 {
		c.RelaySignals = 3000
	}
	if c.CaseTimeout <= 0 {
		c.CaseTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Result is one measured figure.
type Result struct {
	Suite string `json:"suite"`
	Case  string `json:"case"`
	// Param is the condition of the measurement, such as the payload size.
	Param string `json:"param,omitempty"`
	// Size is the payload size in bytes for throughput results.
	Size   int    `json:"size,omitempty"`
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	Stat   Stat   `json:"stat"`
	// Baseline names the case measured in the same run that Ratio compares
	// against; Ratio is this median over the baseline's median.
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	// Also holds this median over further cases' medians from the same
	// run.
	Also []RatioTo `json:"also,omitempty"`
	// Err is set when the measurement failed; Stat is then empty.
	Err string `json:"error,omitempty"`
}

// RatioTo is a result's median over the median of the case named Baseline.
type RatioTo struct {
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"ratio,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Machine    Machine           `json:"machine"`
	Conditions map[string]string `json:"conditions"`
	Config     Config            `json:"-"`
	Started    time.Time         `json:"started"`
	Elapsed    time.Duration     `json:"elapsed_ns"`
	Results    []Result          `json:"results"`
}

// Run measures what cfg selects. It stops early, returning what it has, when
// ctx is done.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	rep := &Report{
		Machine:    readMachine(),
		Conditions: conditions(),
		Config:     cfg,
		Started:    time.Now(),
	}
	if slices.Contains(cfg.Suites, "throughput") || slices.Contains(cfg.Suites, "cpu") {
		rep.Conditions["throughput time"] = throughputTimeCondition(cfg)
	}
	for _, s := range cfg.Suites {
		var err error
		switch s {
		case "throughput":
			err = runThroughput(ctx, cfg, rep)
		case "latency":
			err = runLatency(ctx, cfg, rep)
		case "memory":
			err = runMemory(ctx, cfg, rep)
		case "cpu":
			err = runCPU(ctx, cfg, rep)
		case "calls":
			err = runCalls(ctx, cfg, rep)
		case "twoproc":
			err = runTwoproc(ctx, cfg, rep)
		case "signaling":
			err = runSignaling(ctx, cfg, rep)
		case "publish":
			err = runPublishSuite(ctx, cfg, rep)
		default:
			err = fmt.Errorf("bench: unknown suite %q (have %s)", s, strings.Join(AllSuites, ", "))
		}
		if err != nil {
			rep.Elapsed = time.Since(rep.Started)
			return rep, err
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	return rep, nil
}

// selected reports whether a case with this name and baseline is kept by
// cfg.Cases; a case is also kept when it is the baseline of a kept case.
func selected(cfg Config, name string, baselineOf []string) bool {
	if len(cfg.Cases) == 0 {
		return true
	}
	match := func(n string) bool {
		return slices.ContainsFunc(cfg.Cases, func(s string) bool { return strings.Contains(n, s) })
	}
	return match(name) || slices.ContainsFunc(baselineOf, match)
}

// dependents returns the names of cases whose baseline is name.
func dependents[C any](cases []C, name string, base func(C) (string, string)) []string {
	var out []string
	for _, c := range cases {
		if n, b := base(c); b == name {
			out = append(out, n)
		}
	}
	return out
}

// setRatios fills Ratio (and the ratios in Also) for results whose
// baseline was measured with the same suite, metric and param.
func setRatios(results []Result) {
	ratio := func(r *Result, baseline string) float64 {
		for _, b := range results {
			if b.Case == baseline && b.Suite == r.Suite && b.Metric == r.Metric && b.Param == r.Param && b.Err == "" && b.Stat.Median != 0 {
				return r.Stat.Median / b.Stat.Median
			}
		}
		return 0
	}
	for i := range results {
		r := &results[i]
		if r.Err != "" {
			continue
		}
		if r.Baseline != "" {
			r.Ratio = ratio(r, r.Baseline)
		}
		for k := range r.Also {
			r.Also[k].Ratio = ratio(r, r.Also[k].Baseline)
		}
	}
}

// errResult records a failed measurement.
func errResult(r Result, err error) Result {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out: %w", err)
	}
	r.Err = err.Error()
	return r
}

// sizeName renders a byte count as 1KiB, 64KiB, 16MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
