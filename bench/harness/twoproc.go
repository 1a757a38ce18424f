package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// The twoproc suite moves bytes between two processes: this one sends, and
// the bench program started again (os.Executable, with twoprocEnv set)
// receives. The two find each other through a signaling server on
// loopback that this process runs. Every measurement starts a fresh
// receiver and connection (not timed), and the configurations alternate
// within each repetition so that load from elsewhere falls on all alike.

// twoprocEnv carries the receiver's job (JSON) to the re-executed program.
const twoprocEnv = "PEERD_BENCH_TWOPROC_CHILD"

// childArgs are the arguments the re-executed program needs before it
// reaches Main (such as "bench" for the peerd command); Main sets them.
var childArgs []string

// twoprocSizes are the payload sizes the twoproc suite measures, when the
// configured sizes include them.
var twoprocSizes = []int{64 << 10, 256 << 10}

// twoprocConfig is one configuration of the twoproc suite.
type twoprocConfig struct {
	name     string
	baseline string
	opts     peer.Options
	also     []string // further baselines for ratios
	bin      bool     // binchannel over the channel instead of raw writes
	rpc      bool     // rpc calls carrying the payload, twoprocRPCWindow in flight
	gcBudget int      // both processes run peer.TuneGC(gcBudget), as peerd does
}

// twoprocRPCWindow is how many calls the rpc configuration keeps in flight,
// as peerd publish does.
const twoprocRPCWindow = 8

var twoprocConfigs = []twoprocConfig{
	{name: "pion raw default", opts: peer.Options{Raw: true, PionDefaults: true}},
	{name: "pion raw tuned", baseline: "pion raw default", opts: peer.Options{Raw: true}},
	{name: "binchannel pion tuned", baseline: "pion raw tuned", opts: peer.Options{Raw: true}, bin: true},
	{name: "rpc pion tuned", baseline: "pion raw tuned", rpc: true},
	{name: "pion raw tuned gc budget", baseline: "pion raw default", also: []string{"pion raw tuned"}, opts: peer.Options{Raw: true}, gcBudget: peer.DefaultGCBudget},
}

func init() {
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["twoproc"] = "sender and receiver in two processes (the bench program re-executed), found through a loopback signaling server; " +
			"each measurement on a fresh connection, configurations alternating; CPU is both processes' over the transfer"
		c["twoproc pion raw tuned gc budget"] = fmt.Sprintf("pion raw tuned with both processes under peer.TuneGC(%d MiB), the garbage-collector budget the peerd program runs with", peer.DefaultGCBudget>>20)
		c["twoproc rpc pion tuned"] = fmt.Sprintf("one call per payload carrying it as a binary argument, %d calls in flight (as peerd publish), peerd's default options", twoprocRPCWindow)
	})
}

// twoprocJob is what the receiving process is told.
type twoprocJob struct {
	// Role is what the child does: receive (the default), send, or pipe
	// (both ends of binchannel over the in-memory pipe in the child).
	Role   string `json:"role,omitempty"`
	URL    string `json:"url"`
	Room   string `json:"room"`
	Config string `json:"config"`
	Total  int64  `json:"total"`
	// Size is the payload size of the send and pipe roles.
	Size    int           `json:"size,omitempty"`
	Timeout time.Duration `json:"timeout"`
	// Memory asks the child to follow its peak heap and, after stdin
	// closes, print "MEM <peak RSS> <peak heap>" in bytes.
	Memory bool `json:"memory,omitempty"`
}

// The roles of a twoproc child.
const (
	roleReceive = ""
	roleSend    = "send"
	rolePipe    = "pipe"
)

func (j twoprocJob) config() (twoprocConfig, bool) {
	i := slices.IndexFunc(twoprocConfigs, func(c twoprocConfig) bool { return c.name == j.Config })
	if i < 0 {
		return twoprocConfig{}, false
	}
	return twoprocConfigs[i], true
}

func runTwoproc(ctx context.Context, cfg Config, rep *Report) error {
	var sizes []int
	for _, s := range twoprocSizes {
		if slices.Contains(cfg.Sizes, s) {
			sizes = append(sizes, s)
		}
	}
	if len(sizes) == 0 {
		sizes = twoprocSizes[:1]
	}
	var configs []twoprocConfig
	for _, c := range twoprocConfigs {
		if selected(cfg, c.name, dependents(twoprocConfigs, c.name, func(c twoprocConfig) (string, string) { return c.name, c.baseline })) {
			configs = append(configs, c)
		}
	}
	if len(configs) == 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("twoproc: %w", err)
	}
	_, url, stopSig, err := startSignaling(signaling.ServerOptions{MaxConnsPerAddr: -1})
	if err != nil {
		return fmt.Errorf("twoproc: %w", err)
	}
	defer stopSig()

	total := cfg.Bytes
	for _, size := range sizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := max(total, 4*int64(size))
		n -= n % int64(size)
		mbps := make([][]float64, len(configs))
		cpu := make([][]float64, len(configs))
		errs := make([]error, len(configs))
		cctx, cancel := context.WithTimeout(ctx, cfg.CaseTimeout)
		for r := range cfg.Reps {
			for k := range configs {
				i := k
				if r%2 == 1 {
					i = len(configs) - 1 - k
				}
				if errs[i] != nil {
					continue
				}
				job := twoprocJob{URL: url, Room: fmt.Sprintf("twoproc-%d-%d-%d", size, r, i), Config: configs[i].name, Total: n, Timeout: cfg.CaseTimeout}
				wall, used, err := twoprocOnce(cctx, exe, configs[i], job, size)
				if err != nil {
					errs[i] = err
					continue
				}
				mbps[i] = append(mbps[i], float64(n)/wall.Seconds()/1e6)
				cpu[i] = append(cpu[i], used.Seconds()*1e3/(float64(n)/1e6))
			}
		}
		cancel()
		for i, c := range configs {
			tr := Result{Suite: "twoproc", Case: c.name, Param: sizeName(size), Size: size, Metric: "throughput", Unit: "MB/s", Baseline: c.baseline}
			cr := Result{Suite: "twoproc", Case: c.name, Param: sizeName(size), Size: size, Metric: "cpu", Unit: "CPU ms/MB", Baseline: c.baseline}
			for _, a := range c.also {
				tr.Also = append(tr.Also, RatioTo{Baseline: a})
				cr.Also = append(cr.Also, RatioTo{Baseline: a})
			}
			if errs[i] != nil {
				tr, cr = errResult(tr, errs[i]), errResult(cr, errs[i])
			} else {
				tr.Stat, cr.Stat = summarize(mbps[i]), summarize(cpu[i])
			}
			rep.Results = append(rep.Results, tr, cr)
			fmt.Fprintf(cfg.Progress, "twoproc    %-22s %8s %s, %s\n", c.name, sizeName(size), progressLine(tr), progressLine(cr))
		}
	}
	setRatios(rep.Results)
	return nil
}

// rawTwoprocRate measures peerd's tuned raw data channel between two
// processes (the twoproc suite's "pion raw tuned") once: total bytes in
// size-byte writes, in MB/s.
func rawTwoprocRate(ctx context.Context, total int64, size int, timeout time.Duration, room string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	_, url, stop, err := startSignaling(signaling.ServerOptions{MaxConnsPerAddr: -1})
	if err != nil {
		return 0, err
	}
	defer stop()
	c, _ := twoprocJob{Config: "pion raw tuned"}.config()
	job := twoprocJob{URL: url, Room: room, Config: c.name, Total: total, Timeout: timeout}
	wall, _, err := twoprocOnce(ctx, exe, c, job, size)
	if err != nil {
		return 0, err
	}
	return float64(total) / wall.Seconds() / 1e6, nil
}

// twoprocOnce starts a receiver, connects to it and sends job.Total bytes
// in size-byte payloads. It returns the wall time from the first write
// until the receiver has every byte, and the CPU time both processes spent
// over it.
func twoprocOnce(ctx context.Context, exe string, c twoprocConfig, job twoprocJob, size int) (wall, cpu time.Duration, err error) {
	if c.gcBudget > 0 {
		defer peer.TuneGC(c.gcBudget)()
	}
	rcv, err := startChild(ctx, exe, job)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			rcv.kill()
		}
		if ferr := rcv.finish(); ferr != nil && err == nil {
			err = fmt.Errorf("receiver: %w", ferr)
		}
	}()
	if _, err := rcv.expect(ctx, "READY"); err != nil {
		return 0, 0, fmt.Errorf("receiver not ready: %w", err)
	}
	o := c.opts
	o.Network = peer.NetworkLoopback
	conn, err := peer.Dial(ctx, job.URL, job.Room, o)
	if err != nil {
		return 0, 0, err
	}
	defer closePion(conn)
	var send func(context.Context) error
	if c.rpc {
		buf := make([]byte, size)
		send = func(ctx context.Context) error {
			return callSink(ctx, conn.RPC(), buf, int(job.Total/int64(size)), twoprocRPCWindow)
		}
	} else {
		var closeSend func()
		send, closeSend = twoprocSender(conn.Transport(), c, size, job.Total)
		defer closeSend()
	}
	c0, t0 := processCPU(), time.Now()
	if err := send(ctx); err != nil {
		return 0, 0, err
	}
	ns, err := rcv.expect(ctx, "DONE ")
	wall, cpu = time.Since(t0), processCPU()-c0
	if err != nil {
		return 0, 0, err
	}
	childCPU, perr := strconv.ParseInt(ns, 10, 64)
	if perr != nil {
		return 0, 0, fmt.Errorf("receiver said %q", "DONE "+ns)
	}
	return wall, cpu + time.Duration(childCPU), nil
}

// twoprocSender returns a function that sends total bytes over tr in
// size-byte payloads as configuration c does (binchannel packets or raw
// writes), and a function that releases what it set up.
func twoprocSender(tr binchannel.Transport, c twoprocConfig, size int, total int64) (send func(ctx context.Context) error, release func()) {
	if c.bin {
		ch := binchannel.NewWithOptions(tr, binchannel.Options{ChunkSize: tr.MaxMessageSize()})
		buf := make([]byte, size)
		pkt := binchannel.Packet{JSON: binSkeleton, Bins: []binchannel.Binary{binchannel.BytesBinary(buf)}}
		return func(ctx context.Context) error {
			for sent := int64(0); sent < total; sent += int64(size) {
				if err := ch.SendPacket(ctx, pkt); err != nil {
					return err
				}
			}
			return nil
		}, func() { _ = ch.Close() }
	}
	msg := make([]byte, min(size, tr.MaxMessageSize()))
	return func(ctx context.Context) error {
		for sent := int64(0); sent < total; sent += int64(size) {
			for left := size; left > 0; left -= len(msg) {
				if err := tr.WriteMessage(ctx, msg[:min(left, len(msg))]); err != nil {
					return err
				}
			}
		}
		return nil
	}, func() {}
}

// childProc is the bench program started again with a twoprocJob. It
// speaks in lines on stdout and ends when its stdin closes.
type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *tailBuffer

	waitOnce sync.Once
	waitErr  error
}

// startChild starts exe (with childArgs) as a child running job; the child
// is killed when ctx is done.
func startChild(ctx context.Context, exe string, job twoprocJob) (*childProc, error) {
	js, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, childArgs...)
	cmd.Env = append(os.Environ(), twoprocEnv+"="+string(js))
	p := &childProc{cmd: cmd, lines: make(chan string, 8), stderr: &tailBuffer{n: 4 << 10}}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p, nil
}

// expect skips lines until one starting with prefix and returns the rest
// of it. Lines the program prints on its own (peerd bench re-executes
// peerd) are skipped this way.
func (p *childProc) expect(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", p.endedEarly()
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return rest, nil
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// endedEarly waits for a child whose stdout closed before it said what
// was expected, and returns an error with what it wrote to stderr.
func (p *childProc) endedEarly() error {
	werr := p.wait()
	return fmt.Errorf("child ended early (%v): %s", werr, strings.TrimSpace(p.stderr.String()))
}

// wait waits for the child to end and for its stderr to be read.
func (p *childProc) wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.cmd.Wait() })
	return p.waitErr
}

// kill ends the child at once: after a failure it may be waiting for a
// peer that will not come.
func (p *childProc) kill() { _ = p.cmd.Process.Kill() }

// closeStdin tells the child to end.
func (p *childProc) closeStdin() { _ = p.stdin.Close() }

// finish closes the child's stdin, which tells it to end, and waits for
// it.
func (p *childProc) finish() error {
	p.closeStdin()
	err := p.wait()
	for range p.lines {
		// Wait closed stdout: the reading goroutine ends.
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(p.stderr.String()))
	}
	return nil
}

// childJob returns the receiver's job when this program was started as one.
func childJob() (twoprocJob, bool, error) {
	v, ok := os.LookupEnv(twoprocEnv)
	if !ok {
		return twoprocJob{}, false, nil
	}
	var j twoprocJob
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		return j, true, fmt.Errorf("twoproc child: bad job: %w", err)
	}
	_, known := j.config()
	valid := j.Total > 0 && j.Timeout > 0
	switch j.Role {
	case roleReceive:
		valid = valid && known
	case roleSend:
		valid = valid && known && j.Size > 0
	case rolePipe:
		valid = valid && j.Size > 0
	default:
		valid = false
	}
	if !valid {
		return j, true, fmt.Errorf("twoproc child: bad job %q", v)
	}
	return j, true, nil
}

// runChildJob runs the job this program was started for.
func runChildJob(ctx context.Context, j twoprocJob, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, j.Timeout)
	defer cancel()
	if c, ok := j.config(); ok && c.gcBudget > 0 {
		defer peer.TuneGC(c.gcBudget)()
	}
	var s *sampler
	if j.Memory {
		s = startSampler(5 * time.Millisecond)
	}
	var err error
	switch j.Role {
	case roleSend:
		err = runSender(ctx, j, stdin, stdout)
	case rolePipe:
		err = runPipe(ctx, j, stdin, stdout)
	default:
		err = runChild(ctx, j, stdin, stdout)
	}
	if s == nil {
		return err
	}
	heap := s.stop()
	if err != nil {
		return err
	}
	// The transfer is over (the parent closed stdin): report this
	// process's own peaks.
	fmt.Fprintf(stdout, "MEM %d %d\n", ownPeakRSS(), heap)
	return nil
}

// runChild is the receiving process: it listens in the job's room, prints
// READY, accepts one connection, reads job.Total bytes and prints
// "DONE <ns>", its CPU time from the first byte to the last. It returns
// when stdin closes (or ctx is done).
func runChild(ctx context.Context, j twoprocJob, stdin io.Reader, stdout io.Writer) error {
	c, _ := j.config()
	o := c.opts
	o.Network = peer.NetworkLoopback
	if c.rpc {
		return runRPCChild(ctx, j, o, stdin, stdout)
	}
	conn, release, err := acceptReady(ctx, j, o, stdout)
	if err != nil {
		return err
	}
	defer release()
	tr := conn.Transport()
	var recv func() (int, error)
	if c.bin {
		ch := binchannel.NewWithOptions(tr, binchannel.Options{ChunkSize: tr.MaxMessageSize()})
		defer ch.Close()
		recv = func() (int, error) {
			p, err := ch.RecvPacket(ctx)
			if err != nil {
				return 0, err
			}
			if len(p.Bins) != 1 {
				return 0, fmt.Errorf("got %d binaries, want 1", len(p.Bins))
			}
			return int(p.Bins[0].Len()), nil
		}
	} else {
		recv = func() (int, error) {
			m, err := tr.ReadMessage(ctx)
			if err != nil {
				return 0, err
			}
			return len(m[0]), nil
		}
	}
	var got int64
	var c0 time.Duration
	for got < j.Total {
		n, err := recv()
		if err != nil {
			return err
		}
		if got == 0 {
			c0 = processCPU()
		}
		got += int64(n)
	}
	fmt.Fprintf(stdout, "DONE %d\n", int64(processCPU()-c0))
	waitStdin(ctx, stdin)
	return nil
}

// acceptReady listens in the job's room with o, says READY and accepts one
// connection; release closes it and the listener.
func acceptReady(ctx context.Context, j twoprocJob, o peer.Options, stdout io.Writer) (*peer.Conn, func(), error) {
	l, err := peer.Listen(ctx, j.URL, j.Room, o)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintln(stdout, "READY")
	conn, err := l.Accept(ctx)
	if err != nil {
		_ = l.Close()
		return nil, nil, err
	}
	return conn, func() {
		_ = closePion(conn)
		_ = l.Close()
	}, nil
}

// runRPCChild is runChild for the rpc configuration: a sink that counts
// what the calls carry.
func runRPCChild(ctx context.Context, j twoprocJob, o peer.Options, stdin io.Reader, stdout io.Writer) error {
	var (
		mu   sync.Mutex
		got  int64
		c0   time.Duration
		done = make(chan struct{})
	)
	reg := rpc.NewRegistry()
	if err := reg.Register("sink", func(data binchannel.Binary) int {
		mu.Lock()
		defer mu.Unlock()
		if got == 0 {
			c0 = processCPU()
		}
		was := got
		got += data.Len()
		if was < j.Total && got >= j.Total {
			close(done)
		}
		return int(data.Len())
	}); err != nil {
		return err
	}
	o.RPC.Registry = reg
	conn, release, err := acceptReady(ctx, j, o, stdout)
	if err != nil {
		return err
	}
	defer release()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	case <-conn.Done():
		return fmt.Errorf("connection closed: %w", conn.Err())
	}
	mu.Lock()
	used := processCPU() - c0
	mu.Unlock()
	fmt.Fprintf(stdout, "DONE %d\n", int64(used))
	waitStdin(ctx, stdin)
	return nil
}

// runSender is the sending process of the memory suite: it dials the
// receiver in the job's room, sends job.Total bytes in job.Size payloads,
// prints SENT and returns when stdin closes (or ctx is done).
func runSender(ctx context.Context, j twoprocJob, stdin io.Reader, stdout io.Writer) error {
	c, _ := j.config()
	o := c.opts
	o.Network = peer.NetworkLoopback
	conn, err := peer.Dial(ctx, j.URL, j.Room, o)
	if err != nil {
		return err
	}
	defer closePion(conn)
	send, release := twoprocSender(conn.Transport(), c, j.Size, j.Total)
	defer release()
	if err := send(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "SENT")
	waitStdin(ctx, stdin)
	return nil
}

// runPipe moves job.Total bytes through binchannel over the in-memory pipe
// in job.Size packets, both ends in this process, prints "DONE 0" and
// returns when stdin closes (or ctx is done).
func runPipe(ctx context.Context, j twoprocJob, stdin io.Reader, stdout io.Writer) error {
	m, err := setupBinchannelPipe(ctx, j.Size)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Move(ctx, j.Total); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "DONE 0")
	waitStdin(ctx, stdin)
	return nil
}

// waitStdin returns when stdin closes or ctx is done.
func waitStdin(ctx context.Context, stdin io.Reader) {
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		_, _ = io.Copy(io.Discard, stdin)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
	}
}

// tailBuffer keeps the first n bytes written to it; it is safe to read
// while a process writes to it.
type tailBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	n  int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := min(len(p), t.n-t.b.Len()); k > 0 {
		t.b.Write(p[:k])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
