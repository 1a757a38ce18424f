package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerd/peerd/signaling"
)

// The signaling suite measures the signaling server as issue 5 defines it:
// idle joined connections held, with the server's heap growth per
// connection (the clients live in another process: the bench program
// started again with idleClientsEnv), and the one-way relay latency of
// signals paced at relayRate per second round robin over pairs in many
// rooms, next to a bare WebSocket relay (gorilla, no rpc, no rooms)
// measured in the same run.

// idleClientsEnv carries the idle-client job (JSON) to the re-executed
// program.
const idleClientsEnv = "PEERD_BENCH_IDLE_CLIENTS"

// relayRate is the pace of the relay measurement, in signals per second.
const relayRate = 1000

type idleJob struct {
	URL     string        `json:"url"`
	Conns   int           `json:"conns"`
	Timeout time.Duration `json:"timeout"`
}

func init() {
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["signaling idle"] = "clients in a second process (the bench program re-executed), joined two per room, client pings off; " +
			"heap growth of the server process after GC divided by connections"
		c["signaling relay"] = fmt.Sprintf("one-way latency (Signal call to the recipient's event) paced at %d signals/s round robin over pairs, "+
			"one pair per room, clients and server in one process; baseline: bare gorilla WebSocket relay, same pacing", relayRate)
	})
}

func runSignaling(ctx context.Context, cfg Config, rep *Report) error {
	if selected(cfg, "signaling idle", nil) {
		rep.Results = append(rep.Results, measureIdle(ctx, cfg)...)
	}
	if selected(cfg, "signaling relay", []string{"websocket relay"}) {
		rep.Results = append(rep.Results, measureRelay(ctx, cfg)...)
	}
	setRatios(rep.Results)
	return nil
}

// startSignaling serves a signaling server on loopback until the returned
// stop is called.
func startSignaling(o signaling.ServerOptions) (srv *signaling.Server, url string, stop func(), err error) {
	srv = signaling.NewServer(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(sctx, ln)
	}()
	stop = func() {
		c, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelShutdown()
		_ = srv.Shutdown(c)
		cancel()
		<-served
	}
	return srv, "ws://" + ln.Addr().String(), stop, nil
}

func memNow() (heap, stack uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine()
}

// measureIdle holds cfg.SignalingConns idle connections and reports the
// server's heap, heap plus stacks and goroutines per connection.
func measureIdle(ctx context.Context, cfg Config) []Result {
	n := cfg.SignalingConns
	param := fmt.Sprintf("%d conns", n)
	heap := Result{Suite: "signaling", Case: "signaling idle", Param: param, Metric: "heap/conn", Unit: "KiB"}
	total := Result{Suite: "signaling", Case: "signaling idle", Param: param, Metric: "heap+stack/conn", Unit: "KiB"}
	gor := Result{Suite: "signaling", Case: "signaling idle", Param: param, Metric: "goroutines/conn", Unit: "goroutines"}
	fail := func(err error) []Result {
		return []Result{errResult(heap, err), errResult(total, err), errResult(gor, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, max(cfg.CaseTimeout, 2*time.Minute))
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	srv, url, stop, err := startSignaling(signaling.ServerOptions{MaxConnsPerAddr: -1, MaxRooms: -1})
	if err != nil {
		return fail(err)
	}
	defer stop()
	// One connection's worth of lazily built state first (pools, maps).
	if warm, err := signaling.Dial(ctx, url, signaling.ClientOptions{}); err == nil {
		_, _ = warm.Join(ctx, "warm")
		_ = warm.Close()
	}
	waitFor(ctx, func() bool { return srv.Stats().Connections == 0 })

	var hs, ss, gs []float64
	for range max(1, min(cfg.Reps, 3)) {
		h0, s0, g0 := memNow()
		js, _ := json.Marshal(idleJob{URL: url, Conns: n, Timeout: max(cfg.CaseTimeout, 2*time.Minute)})
		cmd := exec.CommandContext(ctx, exe, childArgs...)
		cmd.Env = append(os.Environ(), idleClientsEnv+"="+string(js))
		var stderr strings.Builder
		cmd.Stderr = &limitedWriter{w: &stderr, n: 4 << 10}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return fail(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return fail(err)
		}
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
		finish := func() error {
			_ = stdin.Close()
			err := cmd.Wait()
			waitFor(ctx, func() bool { return srv.Stats().Connections == 0 })
			if err != nil {
				return fmt.Errorf("idle clients: %w: %s", err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}
		sc := bufio.NewScanner(stdout)
		ready := false
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready = true
				break
			}
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		if !ready {
			return fail(errors.Join(errors.New("idle clients did not get ready"), finish()))
		}
		if !waitFor(ctx, func() bool { return srv.Stats().Peers == int64(n) }) {
			return fail(errors.Join(fmt.Errorf("server holds %d of %d peers", srv.Stats().Peers, n), finish()))
		}
		h1, s1, g1 := memNow()
		if err := finish(); err != nil {
			return fail(err)
		}
		f := float64(n)
		hs = append(hs, (float64(h1)-float64(h0))/f/1024)
		ss = append(ss, (float64(h1)+float64(s1)-float64(h0)-float64(s0))/f/1024)
		gs = append(gs, float64(g1-g0)/f)
	}
	heap.Stat, total.Stat, gor.Stat = summarize(hs), summarize(ss), summarize(gs)
	fmt.Fprintf(cfg.Progress, "signaling  %-22s %8s heap %.1f KiB/conn, heap+stack %.1f KiB/conn, %.1f goroutines/conn\n",
		"idle", param, heap.Stat.Median, total.Stat.Median, gor.Stat.Median)
	return []Result{heap, total, gor}
}

// waitFor polls cond every 10 ms until it holds or ctx is done.
func waitFor(ctx context.Context, cond func() bool) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// runIdleClients is the idle-client process: it connects j.Conns clients,
// joins them two per room, prints READY and holds them until stdin closes
// or the job's timeout passes.
func runIdleClients(ctx context.Context, j idleJob, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, j.Timeout)
	defer cancel()
	clients := make([]*signaling.Client, j.Conns)
	errs := make([]error, j.Conns)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := signaling.Dial(ctx, j.URL, signaling.ClientOptions{PingInterval: -1})
			if err != nil {
				errs[i] = err
				return
			}
			clients[i] = c
			_, errs[i] = c.Join(ctx, fmt.Sprintf("idle-%d", i/2))
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "READY")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, stdin)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// idleChildJob returns the idle-client job when this program was started
// as the idle-client process.
func idleChildJob() (idleJob, bool, error) {
	v, ok := os.LookupEnv(idleClientsEnv)
	if !ok {
		return idleJob{}, false, nil
	}
	var j idleJob
	if err := json.Unmarshal([]byte(v), &j); err != nil || j.Conns <= 0 || j.URL == "" || j.Timeout <= 0 {
		return j, true, fmt.Errorf("idle clients: bad job %q", v)
	}
	return j, true, nil
}

// measureRelay reports one-way relay latency percentiles through the
// signaling server and through the bare WebSocket relay.
func measureRelay(ctx context.Context, cfg Config) []Result {
	param := fmt.Sprintf("%d rooms", cfg.SignalingRooms)
	mk := func(name, base string) []Result {
		rs := make([]Result, 2)
		for i, p := range []string{"p50", "p99"} {
			rs[i] = Result{Suite: "signaling", Case: name, Param: param, Metric: p, Unit: "ms", Baseline: base}
		}
		return rs
	}
	base, sig := mk("websocket relay", ""), mk("signaling relay", "websocket relay")
	ctx, cancel := context.WithTimeout(ctx, max(cfg.CaseTimeout, 2*time.Minute))
	defer cancel()
	for _, m := range []struct {
		rs  []Result
		run func(ctx context.Context, pairs, n int) ([]time.Duration, error)
	}{{base, bareRelay}, {sig, signalingRelay}} {
		var p50, p99 []float64
		var err error
		for range cfg.Reps {
			var d []time.Duration
			if d, err = m.run(ctx, cfg.SignalingRooms, cfg.RelaySignals); err != nil {
				break
			}
			slices.Sort(d)
			p50 = append(p50, float64(percentile(d, 50))/1e6)
			p99 = append(p99, float64(percentile(d, 99))/1e6)
		}
		if err != nil {
			m.rs[0], m.rs[1] = errResult(m.rs[0], err), errResult(m.rs[1], err)
		} else {
			m.rs[0].Stat, m.rs[1].Stat = summarize(p50), summarize(p99)
		}
		fmt.Fprintf(cfg.Progress, "signaling  %-22s %8s p50 %s; p99 %s\n", m.rs[0].Case, param, progressLine(m.rs[0]), progressLine(m.rs[1]))
	}
	return append(base, sig...)
}

// pace calls send(i) for i in [0, n) at relayRate per second.
func pace(ctx context.Context, n int, send func(i int)) error {
	tick := time.NewTicker(time.Second / relayRate)
	defer tick.Stop()
	for i := range n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		send(i)
	}
	return nil
}

// collect gathers n latencies from lat, bounded by ctx.
func collect(ctx context.Context, lat <-chan time.Duration, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for len(out) < n {
		select {
		case d := <-lat:
			out = append(out, d)
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d signals arrived: %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

func stamp() []byte { return strconv.AppendInt(nil, time.Now().UnixNano(), 10) }

func since(b []byte) time.Duration {
	t, _ := strconv.ParseInt(strings.Trim(string(b), `"{}t: `), 10, 64)
	return time.Duration(time.Now().UnixNano() - t)
}

// signalingRelay relays n signals through a signaling server over pairs
// joined one pair per room.
func signalingRelay(ctx context.Context, pairs, n int) ([]time.Duration, error) {
	_, url, stop, err := startSignaling(signaling.ServerOptions{MaxConnsPerAddr: -1, MaxRooms: -1})
	if err != nil {
		return nil, err
	}
	defer stop()
	type pair struct {
		a, b *signaling.Client
		bID  string
	}
	ps := make([]pair, 0, pairs)
	var recv sync.WaitGroup
	defer func() {
		for _, p := range ps {
			_ = p.a.Close()
			_ = p.b.Close()
		}
		recv.Wait()
	}()
	lat := make(chan time.Duration, n)
	for i := range pairs {
		a, err := signaling.Dial(ctx, url, signaling.ClientOptions{})
		if err != nil {
			return nil, err
		}
		b, err := signaling.Dial(ctx, url, signaling.ClientOptions{})
		if err != nil {
			_ = a.Close()
			return nil, err
		}
		ps = append(ps, pair{a: a, b: b})
		room := fmt.Sprint("relay-", i)
		if _, err := a.Join(ctx, room); err != nil {
			return nil, err
		}
		jb, err := b.Join(ctx, room)
		if err != nil {
			return nil, err
		}
		ps[i].bID = jb.ID
		recv.Add(1)
		go func() {
			defer recv.Done()
			for ev := range b.Events() {
				if ev.Kind == signaling.EventSignal {
					select {
					case lat <- since(ev.Payload):
					default:
					}
				}
			}
		}()
	}
	// One sender goroutine per pair keeps each pair's signals in order while
	// a slow Signal call on one pair does not hold back the pace.
	queues := make([]chan struct{}, pairs)
	var send sync.WaitGroup
	var errMu sync.Mutex // guards sendErr
	var sendErr error
	for i := range queues {
		queues[i] = make(chan struct{}, 64)
		send.Add(1)
		go func(p pair, in chan struct{}) {
			defer send.Done()
			for range in {
				payload := fmt.Appendf(nil, `{"t":%s}`, stamp())
				if err := p.a.Signal(ctx, p.bID, payload); err != nil {
					errMu.Lock()
					sendErr = errors.Join(sendErr, err)
					errMu.Unlock()
				}
			}
		}(ps[i], queues[i])
	}
	perr := pace(ctx, n, func(i int) {
		select {
		case queues[i%pairs] <- struct{}{}:
		case <-ctx.Done():
		}
	})
	for _, q := range queues {
		close(q)
	}
	send.Wait()
	if err := errors.Join(perr, sendErr); err != nil {
		return nil, err
	}
	return collect(ctx, lat, n)
}

// bareRelay relays n messages through a gorilla WebSocket server that
// forwards each message from a pair's first connection to its second.
func bareRelay(ctx context.Context, pairs, n int) ([]time.Duration, error) {
	var mu sync.Mutex // guards dst
	dst := map[string]*websocket.Conn{}
	ready := map[string]chan struct{}{}
	for i := range pairs {
		ready[strconv.Itoa(i)] = make(chan struct{})
	}
	var handlers sync.WaitGroup
	up := websocket.Upgrader{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("pair")
		rc, ok := ready[id]
		if !ok {
			http.Error(w, "no such pair", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		if r.URL.Query().Get("side") == "b" {
			mu.Lock()
			dst[id] = ws
			mu.Unlock()
			close(rc)
			return
		}
		defer ws.Close()
		select {
		case <-rc:
		case <-ctx.Done():
			return
		}
		mu.Lock()
		to := dst[id]
		mu.Unlock()
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := to.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return
			}
		}
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	url := "ws://" + ln.Addr().String()
	as := make([]*websocket.Conn, 0, pairs)
	bs := make([]*websocket.Conn, 0, pairs)
	lat := make(chan time.Duration, n)
	var readers sync.WaitGroup
	defer func() {
		for _, c := range as {
			_ = c.Close()
		}
		for _, c := range bs {
			_ = c.Close()
		}
		readers.Wait()
		_ = hs.Close()
		<-served
		mu.Lock()
		for _, c := range dst {
			_ = c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	}()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for i := range pairs {
		b, _, err := d.DialContext(ctx, fmt.Sprintf("%s?pair=%d&side=b", url, i), nil)
		if err != nil {
			return nil, err
		}
		bs = append(bs, b)
		a, _, err := d.DialContext(ctx, fmt.Sprintf("%s?pair=%d&side=a", url, i), nil)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, msg, err := b.ReadMessage()
				if err != nil {
					return
				}
				select {
				case lat <- since(msg):
				default:
				}
			}
		}()
	}
	var werr error
	if err := pace(ctx, n, func(i int) {
		if err := as[i%pairs].WriteMessage(websocket.BinaryMessage, stamp()); err != nil && werr == nil {
			werr = err
		}
	}); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	return collect(ctx, lat, n)
}
