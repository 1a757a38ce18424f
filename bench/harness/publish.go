package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The publish suite runs the real peerd program in two processes — the
// daemon and `peerd publish` — and reports each side's peak RSS and the
// upload rate, so memory is measured per side, as a user would see it.

var (
	bannerURL   = regexp.MustCompile(`signaling\s+(ws://\S+)`)
	uploadedRow = regexp.MustCompile(`uploaded .* \(([0-9.]+) MB/s\)`)
)

// peerdBinary returns the peerd program to run: cfg.PeerdBinary, or one
// built from this module into dir.
func peerdBinary(ctx context.Context, cfg Config, dir string) (string, error) {
	if cfg.PeerdBinary != "" {
		return cfg.PeerdBinary, nil
	}
	bin := filepath.Join(dir, "peerd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/peerd/peerd/cmd/peerd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build peerd: %v\n%s", err, out)
	}
	return bin, nil
}

// writeIncompressible writes n bytes that gzip cannot shrink: a random
// 1 MiB block repeated (further apart than gzip's 32 KiB window).
func writeIncompressible(path string, n int64) error {
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for left := n; left > 0; left -= int64(len(block)) {
		if _, err := w.Write(block[:min(int64(len(block)), left)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	// On disk before anything is timed: the kernel writing these pages
	// back during the publish would take from it.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// maxRSS returns a finished process's peak resident set size in bytes as
// wait4 reports it. On Linux this figure is not the child's own: execve
// keeps the larger of the old and new address space's peak, and Go starts
// children with vfork, so the old one is this process's. It is only the
// fallback of hwmWatcher.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// hwmWatcher follows a running child's own peak resident set size (VmHWM
// in /proc/<pid>/status, which belongs to the address space made by exec)
// by reading it every few milliseconds until stop.
type hwmWatcher struct {
	done chan struct{}
	out  chan int64
}

func watchHWM(pid int) *hwmWatcher {
	w := &hwmWatcher{done: make(chan struct{}), out: make(chan int64, 1)}
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			v := procField(path, "VmHWM")
			if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
				peak = max(peak, kb*1024)
			}
			select {
			case <-w.done:
				w.out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop returns the peak seen, or fallback (the wait4 figure) when /proc
// gave nothing.
func (w *hwmWatcher) stop(fallback int64) int64 {
	close(w.done)
	if peak := <-w.out; peak > 0 {
		return peak
	}
	return fallback
}

func runPublishSuite(ctx context.Context, cfg Config, rep *Report) error {
	param := sizeName(int(min(cfg.PublishBytes, 1<<62)))
	base := Result{Suite: "publish", Case: "peerd publish", Param: param}
	fail := func(err error) error {
		r := base
		r.Metric, r.Unit = "throughput", "MB/s"
		rep.Results = append(rep.Results, errResult(r, err))
		fmt.Fprintf(cfg.Progress, "publish    error: %v\n", err)
		return nil
	}
	reps := max(1, cfg.Reps)
	ctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout*time.Duration(reps+1))
	defer cancel()
	dir, err := os.MkdirTemp("", "peerd-bench-publish-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := peerdBinary(ctx, cfg, dir)
	if err != nil {
		return fail(err)
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	if err := writeIncompressible(filepath.Join(src, "data.bin"), cfg.PublishBytes); err != nil {
		return fail(err)
	}

	// Each publish is bracketed by raw tuned Pion between two processes,
	// measured right before and right after it, so that the host's load at
	// the time falls on both; the raw run after one publish is the one
	// before the next. Each publish's ratio is its rate over the mean of
	// its two brackets, and the figure is the median of those ratios.
	baseBytes := min(cfg.PublishBytes, publishBaselineBytes)
	baseBytes -= baseBytes % (256 << 10)
	var rawRates []float64
	var rawErr error
	measureRaw := func(i int) {
		if rawErr != nil || baseBytes == 0 {
			return
		}
		r, err := rawTwoprocRate(ctx, baseBytes, 256<<10, cfg.CaseTimeout, fmt.Sprintf("publish-baseline-%d", i))
		if err != nil {
			rawErr = fmt.Errorf("raw baseline %d: %w", i, err)
			return
		}
		rawRates = append(rawRates, r)
	}
	measureRaw(0)
	var rates, ratios, senderPeaks, receiverPeaks []float64
	for i := range reps {
		run, err := publishOnce(ctx, bin, src, filepath.Join(dir, fmt.Sprintf("data-%d", i)))
		if err != nil {
			return fail(err)
		}
		measureRaw(i + 1)
		rates = append(rates, run.rate)
		senderPeaks = append(senderPeaks, float64(run.senderPeak)/(1<<20))
		receiverPeaks = append(receiverPeaks, float64(run.receiverPeak)/(1<<20))
		if rawErr == nil && len(rawRates) == i+2 {
			ratios = append(ratios, run.rate/((rawRates[i]+rawRates[i+1])/2))
		}
		fmt.Fprintf(cfg.Progress, "publish    %-22s %8s %.1f MB/s, peak RSS sender %.1f MiB, receiver %.1f MiB\n",
			base.Case, param, run.rate, senderPeaks[i], receiverPeaks[i])
	}
	tr := base
	tr.Metric, tr.Unit, tr.Stat = "throughput", "MB/s", summarize(rates)
	bl := Result{Suite: "publish", Case: publishBaseline, Param: sizeName(int(baseBytes)), Metric: "throughput", Unit: "MB/s"}
	if rawErr != nil || len(ratios) == 0 {
		if rawErr == nil {
			rawErr = errors.New("not measured")
		}
		rep.Results = append(rep.Results, errResult(bl, rawErr))
	} else {
		bl.Stat = summarize(rawRates)
		rep.Results = append(rep.Results, bl)
		tr.Baseline, tr.Ratio = publishBaseline+" (median of per-publish ratios)", summarize(ratios).Median
	}
	// Peak RSS: the table shows the median; max is the worst publish.
	sender := base
	sender.Metric, sender.Unit, sender.Stat = "peak RSS sender", "MiB", summarize(senderPeaks)
	receiver := base
	receiver.Metric, receiver.Unit, receiver.Stat = "peak RSS receiver", "MiB", summarize(receiverPeaks)
	rep.Results = append(rep.Results, tr, sender, receiver)
	return nil
}

// publishRun is one publish: the upload rate `peerd publish` printed and
// each side's peak RSS in bytes.
type publishRun struct {
	rate                     float64
	senderPeak, receiverPeak int64
}

// publishOnce starts a daemon on a fresh data directory, publishes src to
// it with `peerd publish`, stops the daemon and removes its data.
func publishOnce(ctx context.Context, bin, src, data string) (publishRun, error) {
	defer os.RemoveAll(data)
	daemon := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", data)
	daemon.Env = cleanEnv()
	out, err := daemon.StdoutPipe()
	if err != nil {
		return publishRun{}, err
	}
	daemon.Stderr = io.Discard
	if err := daemon.Start(); err != nil {
		return publishRun{}, err
	}
	daemonHWM := watchHWM(daemon.Process.Pid)
	var daemonPeak int64
	stopDaemon := func() *os.ProcessState {
		// The daemon's peak is taken before it is told to stop.
		daemonPeak = daemonHWM.stop(0)
		_ = daemon.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = daemon.Process.Kill()
			<-done
		}
		return daemon.ProcessState
	}
	signalURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := bannerURL.FindStringSubmatch(sc.Text()); m != nil {
				signalURL <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-signalURL:
	case <-ctx.Done():
		stopDaemon()
		return publishRun{}, fmt.Errorf("daemon did not start: %w", ctx.Err())
	}

	pub := exec.CommandContext(ctx, bin, "publish", src, "--name", "benchdata", "--signal", url)
	pub.Env = cleanEnv()
	var pubBuf strings.Builder
	pub.Stdout, pub.Stderr = &pubBuf, &pubBuf
	var pubPeak int64
	if err = pub.Start(); err == nil {
		w := watchHWM(pub.Process.Pid)
		// The watcher reads /proc while the process runs; after Wait the
		// pid is gone, so its last reading is the peak.
		err = pub.Wait()
		pubPeak = w.stop(maxRSS(pub.ProcessState))
	}
	pubOut := []byte(pubBuf.String())
	dstate := stopDaemon()
	if daemonPeak == 0 && dstate != nil {
		daemonPeak = maxRSS(dstate)
	}
	if err != nil {
		return publishRun{}, fmt.Errorf("publish: %v\n%s", err, tail(pubOut, 500))
	}
	m := uploadedRow.FindSubmatch(pubOut)
	if m == nil {
		return publishRun{}, fmt.Errorf("publish printed no upload rate:\n%s", tail(pubOut, 500))
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)

	return publishRun{rate: rate, senderPeak: pubPeak, receiverPeak: daemonPeak}, nil
}

// publishBaseline names the raw rates measured around the publish, and
// publishBaselineBytes caps what each of them moves.
const (
	publishBaseline      = "pion raw tuned two processes, before and after"
	publishBaselineBytes = 256 << 20
)

// cleanEnv is the environment without PEERD_ variables, so the user's
// settings cannot redirect the benchmark.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PEERD_") {
			env = append(env, kv)
		}
	}
	return env
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// findResult returns the first result matching suite, case, param and
// metric.
func findResult(rep *Report, suite, name, param, metric string) (Result, bool) {
	for _, r := range rep.Results {
		if r.Suite == suite && r.Case == name && r.Param == param && r.Metric == metric && r.Err == "" {
			return r, true
		}
	}
	return Result{}, false
}

func init() {
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["publish"] = "the peerd daemon and `peerd publish` as two processes over loopback; peak RSS is each process's own VmHWM, " +
			"read from /proc while it runs; the ratio compares the upload rate with the mean of two raw tuned Pion transfers between two processes (256KiB writes, up to 256MiB each), one right before the publish and one right after it"
	})
}
