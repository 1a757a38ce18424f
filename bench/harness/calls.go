package harness

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The calls suite measures small-call throughput (calls per second) with
// one caller and with many concurrent callers, for rpc over the in-memory
// pipe next to the standard library's net/rpc over net.Pipe (issue 4). It
// reuses the latency cases' connections.

// callsCases are the latency cases the calls suite drives.
var callsCases = []string{"net/rpc pipe", "rpc pipe"}

// callers are the concurrency levels of the calls suite.
var callers = []int{1, 64}

func init() {
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["calls"] = fmt.Sprintf("add(1, 2) calls/s with %v concurrent callers on one connection; each figure is 10x the latency suite's round trips", callers)
	})
}

func findLatencyCase(name string) (LatencyCase, bool) {
	for _, c := range latencyCases {
		if c.Name == name {
			return c, true
		}
	}
	return LatencyCase{}, false
}

func runCalls(ctx context.Context, cfg Config, rep *Report) error {
	for _, name := range callsCases {
		c, ok := findLatencyCase(name)
		if !ok || !selected(cfg, name, latencyDependents(name)) {
			continue
		}
		for _, n := range callers {
			if err := ctx.Err(); err != nil {
				return err
			}
			r := measureCalls(ctx, cfg, c, n)
			rep.Results = append(rep.Results, r)
			fmt.Fprintf(cfg.Progress, "calls      %-22s %8s %s\n", c.Name, r.Param, progressLine(r))
		}
	}
	setRatios(rep.Results)
	return nil
}

// measureCalls makes 10*cfg.RoundTrips calls spread over n goroutines, cfg.Reps
// times, and reports calls per second.
func measureCalls(ctx context.Context, cfg Config, c LatencyCase, n int) Result {
	r := Result{Suite: "calls", Case: c.Name, Param: fmt.Sprintf("%d callers", n), Metric: "calls/s", Unit: "calls/s", Baseline: c.Baseline}
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
	defer cancel()
	pg, err := c.Setup(ctx)
	if err != nil {
		return errResult(r, fmt.Errorf("setup: %w", err))
	}
	defer pg.Close()
	total := int64(10 * cfg.RoundTrips)
	run := func(calls int64) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= calls {
					if err := pg.RoundTrip(ctx); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
	if err := run(max(total/10, int64(n))); err != nil {
		return errResult(r, fmt.Errorf("warm-up: %w", err))
	}
	var rates []float64
	for range cfg.Reps {
		t0 := time.Now()
		if err := run(total); err != nil {
			return errResult(r, err)
		}
		rates = append(rates, float64(total)/time.Since(t0).Seconds())
	}
	r.Stat = summarize(rates)
	return r
}
