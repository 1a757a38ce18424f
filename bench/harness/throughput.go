package harness

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// cpuCases names the throughput cases the cpu suite reports, in order.
var cpuCases []string

// cpuSizes are the payload sizes of the cpu suite.
var cpuSizes = []int{64 << 10, 256 << 10}

func runThroughput(ctx context.Context, cfg Config, rep *Report) error {
	for _, c := range throughputCases {
		if !selected(cfg, c.Name, dependents(throughputCases, c.Name, tcNames)) {
			continue
		}
		for _, size := range cfg.Sizes {
			if err := ctx.Err(); err != nil {
				return err
			}
			rep.Results = append(rep.Results, measureThroughput(ctx, cfg, "throughput", c, size)...)
			fmt.Fprintf(cfg.Progress, "throughput %-22s %8s %s\n", c.Name, sizeName(size), progressLine(rep.Results[len(rep.Results)-2]))
		}
	}
	setRatios(rep.Results)
	return nil
}

// measureTime is the least time one measurement of c runs.
func measureTime(cfg Config, c ThroughputCase) time.Duration {
	return max(cfg.Duration, c.MinDuration)
}

// throughputTimeCondition describes how long throughput measurements run.
func throughputTimeCondition(cfg Config) string {
	var fast []string
	for _, c := range throughputCases {
		if c.MinDuration > cfg.Duration {
			fast = append(fast, fmt.Sprintf("%s at least %s", c.Name, c.MinDuration))
		}
	}
	s := fmt.Sprintf("each measurement moves %s once (at least 4 payloads)", sizeName(int(min(cfg.Bytes, 1<<62))))
	if cfg.Duration > 0 {
		s = fmt.Sprintf("each measurement repeats the transfer of %s (at least 4 payloads) until at least %s have passed", sizeName(int(min(cfg.Bytes, 1<<62))), cfg.Duration)
	}
	if len(fast) > 0 {
		s += "; repeated until: " + strings.Join(fast, ", ")
	}
	return s + "; MB/s is all bytes moved over the time taken"
}

func tcNames(c ThroughputCase) (string, string) { return c.Name, c.Baseline }

// progressLine renders a result for the progress stream.
func progressLine(r Result) string {
	if r.Err != "" {
		return "error: " + r.Err
	}
	return fmt.Sprintf("%.1f %s (min %.1f, max %.1f)", r.Stat.Median, r.Unit, r.Stat.Min, r.Stat.Max)
}

// measureThroughput sets c up for size and measures it cfg.Reps times. It
// returns a throughput result (MB/s) and a CPU result (CPU seconds per GiB),
// in that order.
func measureThroughput(ctx context.Context, cfg Config, suite string, c ThroughputCase, size int) []Result {
	tr := Result{Suite: suite, Case: c.Name, Param: sizeName(size), Size: size, Metric: "throughput", Unit: "MB/s", Baseline: c.Baseline}
	cr := Result{Suite: suite, Case: c.Name, Param: sizeName(size), Size: size, Metric: "cpu", Unit: "CPU s/GiB", Baseline: c.Baseline}
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
	defer cancel()
	m, err := c.Setup(ctx, size)
	if err != nil {
		return []Result{errResult(tr, fmt.Errorf("setup: %w", err)), errResult(cr, err)}
	}
	defer m.Close()
	total := max(cfg.Bytes, 4*int64(size))
	total -= total % int64(size)
	// Warm up: connections ramp up their windows and pools fill.
	if err := m.Move(ctx, max(total/8, int64(size))/int64(size)*int64(size)); err != nil {
		return []Result{errResult(tr, fmt.Errorf("warm-up: %w", err)), errResult(cr, err)}
	}
	var mbps, cpu []float64
	for range cfg.Reps {
		moved, wall, used, err := moveFor(ctx, m, total, measureTime(cfg, c), cfg.clock())
		if err != nil {
			return []Result{errResult(tr, err), errResult(cr, err)}
		}
		mbps = append(mbps, float64(moved)/wall.Seconds()/1e6)
		cpu = append(cpu, used.Seconds()/(float64(moved)/(1<<30)))
	}
	tr.Stat, cr.Stat = summarize(mbps), summarize(cpu)
	return []Result{tr, cr}
}

// runCPU reports CPU seconds per GiB for the cases in cpuCases. When the
// throughput suite already measured them in this run, its figures are reused.
func runCPU(ctx context.Context, cfg Config, rep *Report) error {
	for _, name := range cpuCases {
		c, ok := findCase(name)
		if !ok || !selected(cfg, name, nil) {
			continue
		}
		for _, size := range cpuSizes {
			if reused := reuseCPU(rep, name, size); reused {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rs := measureThroughput(ctx, cfg, "cpu", c, size)
			rep.Results = append(rep.Results, rs[1])
			fmt.Fprintf(cfg.Progress, "cpu        %-22s %8s %s\n", name, sizeName(size), progressLine(rs[1]))
		}
	}
	setRatios(rep.Results)
	return nil
}

// reuseCPU copies the throughput suite's CPU figure for name at size into
// the cpu suite, reporting whether there was one.
func reuseCPU(rep *Report, name string, size int) bool {
	for _, r := range rep.Results {
		if r.Suite == "throughput" && r.Metric == "cpu" && r.Case == name && r.Size == size {
			r.Suite = "cpu"
			r.Ratio = 0
			rep.Results = append(rep.Results, r)
			return true
		}
	}
	return false
}

func findCase(name string) (ThroughputCase, bool) {
	for _, c := range throughputCases {
		if c.Name == name {
			return c, true
		}
	}
	return ThroughputCase{}, false
}

// micros converts round-trip samples to microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
