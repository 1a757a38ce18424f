package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two-process benchmark: the test binary re-executes itself as the
// receiving peer. Signals travel as "SIG <json>" lines over the child's
// stdin/stdout; when the child has received every byte it prints
// "DONE <cpu-ns>" (its CPU time from the first to the last message).
//
//	go test -run '^$' -bench TwoProcess -benchtime 1x -count 5 ./peer/
//
// PEERD_TWOPROC_MB sets the bytes per configuration (default 64 MiB);
// PEERD_TWOPROC_PROFILES names a directory that receives a CPU profile of
// each side of each configuration (send-<name>-<KiB>.pprof and recv-...).

const childEnv = "PEERD_TWOPROC_CHILD"

// twoProcConfig is one configuration, serialised to the child.
type twoProcConfig struct {
	Name         string
	Raw          bool // rawDefaultOptions
	UDPBuffer    int
	High, Low    int
	RTOMaxMS     int
	SCTPRecvBuf  int
	MinCwnd      int
	CAStep       int
	FastRtxWnd   int
	OnMessage    bool
	MsgCap       int // payloads go as messages of at most this size
	ZeroChecksum bool
	GCBudget     int // both processes run TuneGC(GCBudget)
	Total, MsgSz int
}

func (c twoProcConfig) options() Options {
	if c.Raw {
		return rawDefaultOptions()
	}
	o := tunedOptions()
	o.UDPBufferSize = c.UDPBuffer
	o.HighWatermark, o.LowWatermark = c.High, c.Low
	o.SCTPRTOMax = time.Duration(c.RTOMaxMS) * time.Millisecond
	o.SCTPReceiveBuffer = c.SCTPRecvBuf
	o.SCTPMinCwnd, o.SCTPCwndCAStep, o.SCTPFastRtxWnd = c.MinCwnd, c.CAStep, c.FastRtxWnd
	o.onMessage = c.OnMessage
	o.zeroChecksum = c.ZeroChecksum

	return o
}

// twoProcConfigs are compared in every run, interleaved.
var twoProcConfigs = []twoProcConfig{
	{Name: "default", Raw: true},
	{Name: "tuned"},
	{Name: "udp-default-buffers", UDPBuffer: -1},
	{Name: "wm-1M", High: 1 << 20, Low: 512 << 10},
	{Name: "rto100ms", RTOMaxMS: 100},
	{Name: "sctp-recv-4M", SCTPRecvBuf: 4 << 20},
	{Name: "onmessage", OnMessage: true},
	{Name: "min-cwnd-128K", MinCwnd: 128 << 10},
	{Name: "ca-step-16mtu", CAStep: 16 * 1228},
	{Name: "fast-rtx-64K", FastRtxWnd: 64 << 10},
	{Name: "msg-64K", MsgCap: 64 << 10},
	{Name: "msg-32K", MsgCap: 32 << 10},
	{Name: "msg-16K", MsgCap: 16 << 10},
	{Name: "zero-checksum", ZeroChecksum: true},
	{Name: "gc-budget-24M", GCBudget: DefaultGCBudget},
}

// PEERD_TWOPROC_ONLY, a comma-separated list of configuration names,
// limits a run to those (always with "default" and "tuned").
func selectedConfigs() []twoProcConfig {
	only := os.Getenv("PEERD_TWOPROC_ONLY")
	if only == "" {
		return twoProcConfigs
	}
	want := map[string]bool{"default": true, "tuned": true}
	for _, n := range strings.Split(only, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []twoProcConfig
	for _, c := range twoProcConfigs {
		if want[c.Name] {
			out = append(out, c)
		}
	}

	return out
}

func twoProcTotal() int {
	if s := os.Getenv("PEERD_TWOPROC_MB"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n << 20
		}
	}

	return 64 << 20
}

func BenchmarkTwoProcess(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	total := twoProcTotal()
	configs := selectedConfigs()
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("msg=%dKiB", size>>10), func(b *testing.B) {
			wall := map[string]time.Duration{}
			cpu := map[string]time.Duration{}
			drops := map[string]int64{}
			b.SetBytes(int64(total * len(configs)))
			for range b.N {
				for _, cfg := range configs {
					cfg.Total, cfg.MsgSz = total, size
					d0 := udpRcvbufErrors()
					w, c, err := runTwoProc(exe, cfg)
					if err != nil {
						b.Fatalf("%s: %v", cfg.Name, err)
					}
					drops[cfg.Name] += udpRcvbufErrors() - d0
					wall[cfg.Name] += w
					cpu[cfg.Name] += c
				}
			}
			n := float64(b.N*total) / 1e6
			for _, cfg := range configs {
				b.ReportMetric(n/wall[cfg.Name].Seconds(), cfg.Name+"-MB/s")
				b.ReportMetric(float64(cpu[cfg.Name].Milliseconds())/n, cfg.Name+"-cpu-ms/MB")
				b.ReportMetric(float64(drops[cfg.Name])/float64(b.N), cfg.Name+"-udpdrops/run")
			}
			b.ReportMetric(float64(wall["default"])/float64(wall["tuned"]), "tuned/default")
		})
	}
}

// pipeSignaler carries signals as "SIG <json>" lines.
type pipeSignaler struct {
	mu sync.Mutex // guards w
	w  io.Writer
	in chan []byte
}

func (p *pipeSignaler) Send(_ context.Context, b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := fmt.Fprintf(p.w, "SIG %s\n", b)

	return err
}

func (p *pipeSignaler) Recv() <-chan []byte { return p.in }

// runTwoProc starts the child, connects to it as the offerer, sends
// cfg.Total bytes and returns the wall time until the child has them all
// and the CPU time of both processes over the transfer.
func runTwoProc(exe string, cfg twoProcConfig) (time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	js, _ := json.Marshal(cfg)
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()

	sig := &pipeSignaler{w: stdin, in: make(chan []byte, 64)}
	doneLine := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.HasPrefix(line, []byte("SIG ")):
				sig.in <- bytes.Clone(line[4:])
			case bytes.HasPrefix(line, []byte("DONE ")):
				doneLine <- string(line[5:])
			}
		}
		close(doneLine)
	}()

	if cfg.GCBudget > 0 {
		defer TuneGC(cfg.GCBudget)()
	}
	o := cfg.options().withDefaults()
	api, err := NewAPI(o)
	if err != nil {
		return 0, 0, err
	}
	c, err := establish(ctx, api, o, true, sig)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()

	msg := make([]byte, cfg.MsgSz)
	if cfg.MsgCap > 0 && cfg.MsgCap < len(msg) {
		msg = msg[:cfg.MsgCap]
	}
	stopProfile, err := profileSide("send", cfg)
	if err != nil {
		return 0, 0, err
	}
	defer stopProfile()
	c0, t0 := cpuTime(), time.Now()
	if err := sendRaw(ctx, c, msg, cfg.Total); err != nil {
		return 0, 0, err
	}
	line, ok := <-doneLine
	wall, parentCPU := time.Since(t0), cpuTime()-c0
	if !ok {
		return 0, 0, errors.New("child ended without DONE")
	}
	childNS, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, 0, err
	}

	return wall, parentCPU + time.Duration(childNS), nil
}

// runChildIfRequested runs the receiving peer when this binary was started
// by runTwoProc; it reports whether it did.
func runChildIfRequested() bool {
	js := os.Getenv(childEnv)
	if js == "" {
		return false
	}
	if err := runChild(js); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}

	return true
}

func runChild(js string) error {
	var cfg twoProcConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sig := &pipeSignaler{w: os.Stdout, in: make(chan []byte, 64)}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if line := sc.Bytes(); bytes.HasPrefix(line, []byte("SIG ")) {
				sig.in <- bytes.Clone(line[4:])
			}
		}
		cancel() // parent went away
	}()
	if cfg.GCBudget > 0 {
		TuneGC(cfg.GCBudget)
	}
	o := cfg.options().withDefaults()
	api, err := NewAPI(o)
	if err != nil {
		return err
	}
	c, err := establish(ctx, api, o, false, sig)
	if err != nil {
		return err
	}
	defer c.Close()
	// CPU from the first message on: the first read waits for the sender.
	first, err := c.tr.ReadMessage(ctx)
	if err != nil {
		return err
	}
	stopProfile, err := profileSide("recv", cfg)
	if err != nil {
		return err
	}
	defer stopProfile()
	c0 := cpuTime()
	if err := recvRaw(ctx, c, cfg.Total-len(first[0])); err != nil {
		return err
	}
	sig.mu.Lock()
	_, err = fmt.Fprintf(os.Stdout, "DONE %d\n", int64(cpuTime()-c0))
	sig.mu.Unlock()

	return err
}

// profileSide writes a CPU profile of this side ("send" or "recv") of cfg
// to $PEERD_TWOPROC_PROFILES/<side>-<name>-<KiB>.pprof until the returned
// stop is called; without the variable it does nothing.
func profileSide(side string, cfg twoProcConfig) (stop func(), err error) {
	dir := os.Getenv("PEERD_TWOPROC_PROFILES")
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.pprof", side, cfg.Name, cfg.MsgSz>>10)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()

		return nil, err
	}

	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
