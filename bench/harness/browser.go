package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerd/peerd/binchannel"
	"github.com/peerd/peerd/peer"
	"github.com/peerd/peerd/peer/browser"
	"github.com/peerd/peerd/peer/browser/browsertest"
	"github.com/peerd/peerd/rpc"
	"github.com/peerd/peerd/signaling"
)

// Browser cases: upload from headless Chromium to a Go peer through the
// peerd client (rpc calls carrying binaries over the data channel), and
// download from the Go peer to the tab, next to the same amount sent over
// a raw data channel between two Chromium tabs.
// Both run on loopback in the same browser build. They need Chromium
// (browsertest.Path); without it their set-up fails with the install hint.
func init() {
	throughputCases = append(throughputCases,
		ThroughputCase{Name: "chromium to chromium dc", Setup: setupChromiumRaw},
		ThroughputCase{Name: "chromium to go peerd", Baseline: "chromium to chromium dc", Setup: setupChromiumToGo},
		ThroughputCase{Name: "chromium to go raw", Baseline: "chromium to chromium dc", Setup: setupChromiumToGoRaw},
		ThroughputCase{Name: "go to chromium peerd", Baseline: "chromium to chromium dc", Setup: setupGoToChromium},
	)
	conditionFuncs = append(conditionFuncs, func(c map[string]string) {
		c["chromium"] = browsertest.Path()
		c["chromium to go peerd"] = "rpc calls of up to 8 MiB of payload-sized binaries, 4 in flight, the client's default 32 KiB of binary per message; client backpressure 4 MiB / 1 MiB"
		c["chromium to chromium dc"] = "raw RTCDataChannel.send of min(payload, max-message-size) with the same backpressure"
		c["chromium to go raw"] = "the same raw sends to a Go peer's raw data channel (peerd's tuned options, detached reads, no binchannel or rpc)"
		c["go to chromium peerd"] = "download: the tab calls a Go source for up to 8 MiB of payload-sized binaries per call, 4 calls in flight; the Go peer fills each message to the negotiated 256 KiB; no target, measured for what it shows"
		c["chromium cases cpu"] = "the Go process only (Chromium's own CPU is not counted)"
	})
}

// benchPage loads the client and defines the page-side halves of both
// cases.
const benchPage = `<!doctype html>
<meta charset="utf-8"><title>peerd bench</title>
<script type="module">
import * as peerd from "/peerd.js";
window.peerd = peerd;

// Raw receiver: counts binary bytes; a string "N:<total>" announces a run,
// answered with "ack" once total bytes arrived.
window.rawListen = async (room) => {
  await peerd.listen({ room, raw: true, onconnection: (l) => {
    const ch = l.channel;
    ch.binaryType = "arraybuffer";
    let want = Infinity, got = 0;
    ch.onmessage = (e) => {
      if (typeof e.data === "string") { want = Number(e.data.slice(2)); got = 0; }
      else got += e.data.byteLength;
      if (got >= want) { want = Infinity; ch.send("ack"); }
    };
  }});
  return true;
};

window.rawConnect = async (room) => {
  window.link = await peerd.connect({ room, raw: true, connectTimeout: 20000 });
  link.channel.binaryType = "arraybuffer";
  return link.maxMessageSize;
};

// Raw sender: announces the run to a tab receiver with "N:<total>" and
// waits for its "ack"; a Go receiver (toGo) gets no announcement and
// answers with any one message once it has every byte.
window.rawSend = async (total, payload, toGo = false) => {
  const ch = link.channel;
  const size = Math.min(payload, link.maxMessageSize);
  const buf = new Uint8Array(size).fill(7);
  const ack = new Promise((resolve) => {
    const on = (e) => { if (toGo || e.data === "ack") { ch.removeEventListener("message", on); resolve(); } };
    ch.addEventListener("message", on);
  });
  ch.bufferedAmountLowThreshold = 1 << 20;
  if (!toGo) ch.send("N:" + total);
  for (let sent = 0; sent < total; ) {
    while (ch.bufferedAmount > 4 << 20) await new Promise((r) => ch.addEventListener("bufferedamountlow", r, { once: true }));
    const n = Math.min(size, total - sent);
    ch.send(n === size ? buf : buf.subarray(0, n));
    sent += n;
  }
  await ack;
  return true;
};

window.goConnect = async (room) => {
  window.pair = await peerd.connect({ room, connectTimeout: 20000 });
  return pair.maxMessageSize;
};

window.goSend = async (total, payload) => {
  const buf = new Uint8Array(payload).fill(7);
  const per = Math.max(1, Math.floor((8 << 20) / payload));
  const inflight = [];
  for (let sent = 0; sent < total; ) {
    const n = Math.min(per, Math.ceil((total - sent) / payload));
    inflight.push(pair.remote.sink(new Array(n).fill(buf)));
    sent += n * payload;
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  return true;
};
// goFetch downloads total bytes from the Go peer's source in calls of up
// to 8 MiB of payload-sized binaries, 4 in flight, and returns the bytes
// that arrived.
window.goFetch = async (total, payload) => {
  const per = Math.max(1, Math.floor((8 << 20) / payload));
  const inflight = [];
  let got = 0;
  const count = (bins) => { for (const b of bins) got += b.byteLength; };
  for (let asked = 0; asked < total; ) {
    const n = Math.min(per, Math.ceil((total - asked) / payload));
    inflight.push(pair.remote.source(n, payload).then(count));
    asked += n * payload;
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  return got;
};
window.benchReady = true;
</script>
`

// browserRig is one Chromium with an HTTP server on 127.0.0.1 serving the
// bench page, the client and a signaling endpoint.
type browserRig struct {
	br    *browsertest.Browser
	sig   *signaling.Server
	srv   *http.Server
	done  chan struct{}
	base  string
	wsURL string
	tabs  []context.CancelFunc
}

func newBrowserRig() (*browserRig, error) {
	br, err := browsertest.Start()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		br.Close()
		return nil, err
	}
	r := &browserRig{
		br:    br,
		sig:   signaling.NewServer(signaling.ServerOptions{}),
		done:  make(chan struct{}),
		base:  "http://" + ln.Addr().String(),
		wsURL: "ws://" + ln.Addr().String() + "/signal",
	}
	mux := http.NewServeMux()
	mux.Handle("/signal", r.sig)
	mux.Handle("/peerd.js", browser.Handler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(benchPage))
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// tab opens the bench page in a new tab, bounded by the rig's lifetime.
func (r *browserRig) tab() (context.Context, error) {
	ctx, cancel := r.br.Tab(time.Hour)
	r.tabs = append(r.tabs, cancel)
	if err := browsertest.Open(ctx, r.base+"/", "window.benchReady === true"); err != nil {
		return nil, err
	}
	return ctx, nil
}

// eval runs a page function under ctx's deadline as well as the tab's.
func eval(ctx, tab context.Context, body string, out any) error {
	errc := make(chan error, 1)
	go func() { errc <- browsertest.Eval(tab, body, out) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *browserRig) close() error {
	for _, c := range r.tabs {
		c()
	}
	r.br.Close()
	_ = r.sig.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	<-r.done
	return err
}

var roomSeq atomic.Int64

func benchRoom() string { return "bench-" + strconv.FormatInt(roomSeq.Add(1), 10) }

// setupChromiumRaw connects two tabs with a raw data channel; Move sends
// from the second to the first.
func setupChromiumRaw(ctx context.Context, payload int) (Mover, error) {
	r, err := newBrowserRig()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Mover, error) {
		_ = r.close()
		return nil, err
	}
	rx, err := r.tab()
	if err != nil {
		return fail(err)
	}
	tx, err := r.tab()
	if err != nil {
		return fail(err)
	}
	room := benchRoom()
	if err := eval(ctx, rx, fmt.Sprintf("return await rawListen(%q)", room), nil); err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	if err := eval(ctx, tx, fmt.Sprintf("return await rawConnect(%q)", room), nil); err != nil {
		return fail(fmt.Errorf("connect: %w", err))
	}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			return eval(ctx, tx, fmt.Sprintf("return await rawSend(%d, %d)", total, payload), nil)
		},
		close: sync.OnceValue(r.close),
	}, nil
}

// connectGoPeer makes a Go peer listen with o in a fresh room of r, opens a
// tab and has the page function connectFn (rawConnect or goConnect) connect
// to it. cleanup closes the connection, the listener and r; on error all of
// them are closed already.
func connectGoPeer(ctx context.Context, r *browserRig, o peer.Options, connectFn string) (tab context.Context, conn *peer.Conn, cleanup func() error, err error) {
	room := benchRoom()
	ln, err := peer.Listen(ctx, r.wsURL, room, o)
	if err != nil {
		_ = r.close()
		return nil, nil, nil, fmt.Errorf("go peer: %w", err)
	}
	accepted := make(chan *peer.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- c
	}()
	cleanup = func() error {
		errs := []error{}
		if conn != nil {
			errs = append(errs, conn.Close())
		}
		errs = append(errs, ln.Close(), r.close())
		return errors.Join(errs...)
	}
	tab, err = r.tab()
	if err == nil {
		err = eval(ctx, tab, fmt.Sprintf("return await %s(%q)", connectFn, room), nil)
	}
	if err != nil {
		// Closing the listener ends Accept; a connection it made
		// meanwhile is closed with the rest.
		_ = ln.Close()
		select {
		case conn = <-accepted:
		default:
		}
		_ = cleanup()
		return nil, nil, nil, fmt.Errorf("connect: %w", err)
	}
	select {
	case conn = <-accepted:
	case err = <-acceptErr:
		_ = cleanup()
		return nil, nil, nil, fmt.Errorf("accept: %w", err)
	}
	return tab, conn, cleanup, nil
}

// connectGoRPC starts a browser rig and connects a tab (the page's
// goConnect) to a Go peer with peerd's default options serving reg.
func connectGoRPC(ctx context.Context, reg *rpc.Registry) (tab context.Context, cleanup func() error, err error) {
	r, err := newBrowserRig()
	if err != nil {
		return nil, nil, err
	}
	tab, _, cleanup, err = connectGoPeer(ctx, r, peer.Options{Network: peer.NetworkLoopback, RPC: rpc.Options{Registry: reg}}, "goConnect")
	return tab, cleanup, err
}

// setupChromiumToGoRaw connects a tab to a Go peer's raw data channel
// (peerd's tuned options, no binchannel or rpc); Move writes as the
// Chromium-to-Chromium case does and the Go side answers once it has every
// byte. It tells the peerd client's share of the upload from Pion's.
func setupChromiumToGoRaw(ctx context.Context, payload int) (Mover, error) {
	r, err := newBrowserRig()
	if err != nil {
		return nil, err
	}
	tab, conn, cleanup, err := connectGoPeer(ctx, r, peer.Options{Network: peer.NetworkLoopback, Raw: true}, "rawConnect")
	if err != nil {
		return nil, err
	}
	tr := conn.Transport()
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			errc := make(chan error, 1)
			go func() {
				var got int64
				for got < total {
					m, err := tr.ReadMessage(ctx)
					if err != nil {
						errc <- err
						return
					}
					for _, p := range m {
						got += int64(len(p))
					}
				}
				errc <- tr.WriteMessage(ctx, []byte{1})
			}()
			if err := eval(ctx, tab, fmt.Sprintf("return await rawSend(%d, %d, true)", total, payload), nil); err != nil {
				return err
			}
			return <-errc
		},
		close: sync.OnceValue(cleanup),
	}, nil
}

// setupChromiumToGo connects a tab to a Go peer; Move uploads with rpc
// calls whose binaries the Go side counts.
func setupChromiumToGo(ctx context.Context, payload int) (Mover, error) {
	var received atomic.Int64
	reg := rpc.NewRegistry()
	if err := reg.Register("sink", func(bins []binchannel.Binary) int64 {
		var n int64
		for _, b := range bins {
			n += b.Len()
		}
		received.Add(n)
		return n
	}); err != nil {
		return nil, err
	}
	tab, cleanup, err := connectGoRPC(ctx, reg)
	if err != nil {
		return nil, err
	}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			start := received.Load()
			if err := eval(ctx, tab, fmt.Sprintf("return await goSend(%d, %d)", total, payload), nil); err != nil {
				return err
			}
			// Every call was answered, so the Go side has counted it all.
			if got := received.Load() - start; got < total {
				return fmt.Errorf("go peer received %d of %d bytes", got, total)
			}
			return nil
		},
		close: sync.OnceValue(cleanup),
	}, nil
}

// setupGoToChromium connects a tab to a Go peer whose source method
// returns payload-sized binaries (one shared buffer, sent without
// copying); Move has the tab download total bytes.
func setupGoToChromium(ctx context.Context, payload int) (Mover, error) {
	buf := make([]byte, payload)
	reg := rpc.NewRegistry()
	if err := reg.Register("source", func(n, size int) ([][]byte, error) {
		if n < 1 || n > 1<<16 || size != len(buf) {
			return nil, fmt.Errorf("source(%d, %d): want 1..65536 binaries of %d bytes", n, size, len(buf))
		}
		out := make([][]byte, n)
		for i := range out {
			out[i] = buf
		}
		return out, nil
	}); err != nil {
		return nil, err
	}
	tab, cleanup, err := connectGoRPC(ctx, reg)
	if err != nil {
		return nil, err
	}
	return funcMover{
		move: func(ctx context.Context, total int64) error {
			var got int64
			if err := eval(ctx, tab, fmt.Sprintf("return await goFetch(%d, %d)", total, payload), &got); err != nil {
				return err
			}
			if got < total {
				return fmt.Errorf("the tab received %d of %d bytes", got, total)
			}
			return nil
		},
		close: sync.OnceValue(cleanup),
	}, nil
}
