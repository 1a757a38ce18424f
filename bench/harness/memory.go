package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memoryCases names, in order of preference, the throughput case the memory
// suite moves MemoryBytes through; the first registered one is used.
var memoryCases []string

// memoryPayload is the message size of the memory suite.
const memoryPayload = 1 << 20

func runMemory(ctx context.Context, cfg Config, rep *Report) error {
	var c ThroughputCase
	found := false
	for _, name := range memoryCases {
		if c, found = findCase(name); found {
			break
		}
	}
	if !found {
		return nil
	}
	heap := Result{Suite: "memory", Case: c.Name, Param: sizeName(int(min(cfg.MemoryBytes, 1<<62))), Metric: "peak heap", Unit: "MiB"}
	rss := heap
	rss.Metric, rss.Unit = "peak RSS", "MiB"
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
	defer cancel()
	m, err := c.Setup(ctx, memoryPayload)
	if err != nil {
		rep.Results = append(rep.Results, errResult(heap, err), errResult(rss, err))
		return nil
	}
	defer m.Close()
	runtime.GC()
	s := startSampler(5 * time.Millisecond)
	err = m.Move(ctx, cfg.MemoryBytes-cfg.MemoryBytes%memoryPayload)
	peakHeap, peakRSS := s.stop()
	if err != nil {
		rep.Results = append(rep.Results, errResult(heap, err), errResult(rss, err))
		return nil
	}
	heap.Stat = summarize([]float64{float64(peakHeap) / (1 << 20)})
	rss.Stat = summarize([]float64{float64(peakRSS) / (1 << 20)})
	rep.Results = append(rep.Results, heap, rss)
	fmt.Fprintf(cfg.Progress, "memory     %-22s %8s peak heap %.1f MiB, peak RSS %.1f MiB\n", c.Name, heap.Param, heap.Stat.Median, rss.Stat.Median)
	return nil
}

// sampler records the peak live heap and resident set size while it runs.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	heap uint64 // peak, written by the sampling goroutine only
	rss  int64  // peak, written by the sampling goroutine only
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			s.heap = max(s.heap, sample[0].Value.Uint64())
		}
		s.rss = max(s.rss, currentRSS())
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

func (s *sampler) stop() (heap uint64, rss int64) {
	close(s.done)
	s.wg.Wait()
	return s.heap, s.rss
}

// currentRSS reads VmRSS from /proc/self/status, falling back to the
// process's lifetime peak where /proc is missing.
func currentRSS() int64 {
	v := procField("/proc/self/status", "VmRSS")
	kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	if err != nil {
		if _, statErr := os.Stat("/proc/self/status"); statErr != nil {
			return peakRSS()
		}
		return 0
	}
	return kb * 1024
}
