package harness

import (
	"context"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerd/peerd/signaling"
)

// The memory suite moves MemoryBytes through binchannel and reports peak
// resident set size (the kernel's VmHWM of the process) and peak live heap
// (sampled every 5 ms). Every repetition runs in fresh processes started
// for it (the bench program again, as in the twoproc suite), so nothing an
// earlier suite left behind is counted and each side is measured on its
// own.

// memoryPayload is the message size of the memory suite.
const memoryPayload = 1 << 20

// memoryCase is one configuration of the memory suite.
type memoryCase struct {
	name string
	// twoproc names the twoprocConfigs entry the sender and receiver
	// processes use; empty means both ends of binchannel over the
	// in-memory pipe in one process.
	twoproc string
}

// sides returns the metric suffixes of the case: one per process.
func (c memoryCase) sides() []string {
	if c.twoproc == "" {
		return []string{""}
	}
	return []string{" sender", " receiver"}
}

var memoryCases = []memoryCase{
	{name: "binchannel pion (two processes)", twoproc: "binchannel pion tuned"},
	{name: "binchannel pipe (one process)"},
}

func init() {
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["memory"] = fmt.Sprintf("binchannel in %s packets; each repetition starts fresh processes (the bench program re-executed) and is bounded by the case timeout; "+
			"peak RSS is each process's own VmHWM, peak heap its live heap sampled every 5 ms. "+
			"binchannel pion (two processes): sender and receiver in one process each over tuned Pion, connected through a loopback signaling server, each reporting its own figures; "+
			"binchannel pipe (one process): both ends of the in-memory pipe in one process, figures for the two together", sizeName(memoryPayload))
	})
}

// memFigures are one process's peaks, in bytes.
type memFigures struct {
	rss, heap int64
}

func runMemory(ctx context.Context, cfg Config, rep *Report) error {
	total := max(cfg.MemoryBytes-cfg.MemoryBytes%memoryPayload, memoryPayload)
	param := sizeName(int(min(total, 1<<62)))
	var cases []memoryCase
	for _, c := range memoryCases {
		if selected(cfg, c.name, nil) {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	var url string
	for _, c := range cases {
		if c.twoproc != "" {
			_, u, stop, err := startSignaling(signaling.ServerOptions{MaxConnsPerAddr: -1})
			if err != nil {
				return fmt.Errorf("memory: %w", err)
			}
			defer stop()
			url = u
			break
		}
	}
	for ci, c := range cases {
		sides := c.sides()
		rss := make([][]float64, len(sides))
		heap := make([][]float64, len(sides))
		var failed error
		for r := range cfg.Reps {
			if err := ctx.Err(); err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
			figs, err := memoryOnce(rctx, exe, c, url, fmt.Sprintf("memory-%d-%d", ci, r), total, cfg.CaseTimeout)
			cancel()
			if err != nil {
				failed = err
				break
			}
			for i, f := range figs {
				rss[i] = append(rss[i], float64(f.rss)/(1<<20))
				heap[i] = append(heap[i], float64(f.heap)/(1<<20))
			}
		}
		for _, metric := range []struct {
			name string
			vals [][]float64
		}{{"peak RSS", rss}, {"peak heap", heap}} {
			for i, side := range sides {
				res := Result{Suite: "memory", Case: c.name, Param: param, Metric: metric.name + side, Unit: "MiB"}
				if failed != nil {
					res = errResult(res, failed)
				} else {
					res.Stat = summarize(metric.vals[i])
				}
				rep.Results = append(rep.Results, res)
				fmt.Fprintf(cfg.Progress, "memory     %-22s %8s %s: %s\n", c.name, param, res.Metric, progressLine(res))
			}
		}
	}
	return nil
}

// memoryOnce moves total bytes as c says in fresh processes and returns
// each process's peaks, in the order of c.sides().
func memoryOnce(ctx context.Context, exe string, c memoryCase, url, room string, total int64, timeout time.Duration) (figs []memFigures, err error) {
	job := twoprocJob{Role: rolePipe, URL: url, Room: room, Config: c.twoproc, Total: total, Size: memoryPayload, Timeout: timeout, Memory: true}
	var procs []*childProc
	defer func() {
		for _, p := range procs {
			if err != nil {
				p.kill()
			}
			if ferr := p.finish(); ferr != nil && err == nil {
				err = ferr
			}
		}
	}()
	start := func(j twoprocJob) (*childProc, error) {
		p, err := startChild(ctx, exe, j)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	if c.twoproc == "" {
		p, err := start(job)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(ctx, "DONE "); err != nil {
			return nil, err
		}
	} else {
		job.Role = roleReceive
		rcv, err := start(job)
		if err != nil {
			return nil, err
		}
		if _, err := rcv.expect(ctx, "READY"); err != nil {
			return nil, fmt.Errorf("receiver not ready: %w", err)
		}
		job.Role = roleSend
		snd, err := start(job)
		if err != nil {
			return nil, err
		}
		if err := awaitBoth(ctx, snd, rcv); err != nil {
			return nil, err
		}
	}
	for _, p := range procs {
		p.closeStdin()
	}
	for _, p := range procs {
		l, err := p.expect(ctx, "MEM ")
		if err != nil {
			return nil, err
		}
		var f memFigures
		if _, err := fmt.Sscanf(l, "%d %d", &f.rss, &f.heap); err != nil {
			return nil, fmt.Errorf("child said %q", "MEM "+l)
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// awaitBoth waits until the sender has said SENT and the receiver DONE, in
// either order; either process ending first fails.
func awaitBoth(ctx context.Context, snd, rcv *childProc) error {
	sl, rl := snd.lines, rcv.lines
	for sl != nil || rl != nil {
		select {
		case l, ok := <-sl:
			if !ok {
				return fmt.Errorf("sender: %w", snd.endedEarly())
			}
			if l == "SENT" {
				sl = nil
			}
		case l, ok := <-rl:
			if !ok {
				return fmt.Errorf("receiver: %w", rcv.endedEarly())
			}
			if strings.HasPrefix(l, "DONE ") {
				rl = nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// sampler records the peak live heap while it runs.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	heap uint64 // peak, written by the sampling goroutine only
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			s.heap = max(s.heap, sample[0].Value.Uint64())
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-s.done:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak live heap in bytes.
func (s *sampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return int64(s.heap)
}

// ownPeakRSS returns this process's peak resident set size in bytes: VmHWM
// from /proc/self/status, which belongs to the address space made by the
// last exec, or getrusage's maxrss where /proc is missing (on Linux that
// figure also keeps the peak of the process before exec).
func ownPeakRSS() int64 {
	v := procField("/proc/self/status", "VmHWM")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
		return kb * 1024
	}
	return peakRSS()
}
