package harness

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// latencyPercentiles are the percentiles the latency suite reports.
var latencyPercentiles = []struct {
	name string
	p    float64
}{{"p50", 50}, {"p90", 90}, {"p99", 99}}

func lcNames(c LatencyCase) (string, string) { return c.Name, c.Baseline }

// latencyDependents returns the names of latency cases compared to name,
// as their baseline or one of their further comparisons.
func latencyDependents(name string) []string {
	out := dependents(latencyCases, name, lcNames)
	for _, c := range latencyCases {
		if slices.Contains(c.Also, name) {
			out = append(out, c.Name)
		}
	}
	return out
}

func runLatency(ctx context.Context, cfg Config, rep *Report) error {
	for _, c := range latencyCases {
		if !selected(cfg, c.Name, latencyDependents(c.Name)) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rs := measureLatency(ctx, cfg, c)
		rep.Results = append(rep.Results, rs...)
		fmt.Fprintf(cfg.Progress, "latency    %-22s %8s %s\n", c.Name, "p50", progressLine(rs[0]))
	}
	setRatios(rep.Results)
	return nil
}

// measureLatency returns one result per percentile, in latencyPercentiles
// order; each is the median over repetitions of that percentile.
func measureLatency(ctx context.Context, cfg Config, c LatencyCase) []Result {
	results := make([]Result, len(latencyPercentiles))
	for i, p := range latencyPercentiles {
		results[i] = Result{Suite: "latency", Case: c.Name, Param: fmt.Sprintf("%dB", pingSize), Metric: p.name, Unit: "µs", Baseline: c.Baseline}
		for _, a := range c.Also {
			results[i].Also = append(results[i].Also, RatioTo{Baseline: a})
		}
	}
	fail := func(err error) []Result {
		for i := range results {
			results[i] = errResult(results[i], err)
		}
		return results
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
	defer cancel()
	pg, err := c.Setup(ctx)
	if err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	defer pg.Close()
	for range max(cfg.RoundTrips/10, 10) {
		if err := pg.RoundTrip(ctx); err != nil {
			return fail(fmt.Errorf("warm-up: %w", err))
		}
	}
	per := make([][]float64, len(latencyPercentiles))
	samples := make([]time.Duration, cfg.RoundTrips)
	for range cfg.Reps {
		for i := range samples {
			t0 := time.Now()
			if err := pg.RoundTrip(ctx); err != nil {
				return fail(err)
			}
			samples[i] = time.Since(t0)
		}
		slices.Sort(samples)
		for i, p := range latencyPercentiles {
			per[i] = append(per[i], micros(percentile(samples, p.p)))
		}
	}
	for i := range results {
		results[i].Stat = summarize(per[i])
	}
	return results
}
