package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Configurations compared by the benchmarks.
//
// rawDefaultOptions is a default-configured Pion data channel: Pion's
// SettingEngine untouched apart from the loopback candidate policy, Pion's
// OnMessage callback for receiving, and Send throttled as in Pion's
// flow-control example (1 MiB high, 512 KiB low watermarks).
func rawDefaultOptions() Options {
	return Options{
		Network:       NetworkLoopback,
		pionDefaults:  true,
		onMessage:     true,
		UDPBufferSize: -1,
		HighWatermark: 1 << 20,
		LowWatermark:  512 << 10,
		rawTransport:  true,
	}
}

// tunedOptions is peerd's default configuration on loopback.
func tunedOptions() Options { return Options{Network: NetworkLoopback, rawTransport: true} }

// cpuTime is the CPU time (user+system) this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}

	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sendRaw writes total bytes as messages of size bytes through the
// transport (one data-channel write per message, watermark flow control).
func sendRaw(ctx context.Context, c *Conn, msg []byte, total int) error {
	tr := c.tr
	for sent := 0; sent < total; sent += len(msg) {
		if err := tr.WriteMessage(ctx, msg); err != nil {
			return err
		}
	}

	return nil
}

// recvRaw reads until total bytes arrived, straight from Pion: a detached
// channel is read into one reused buffer (no per-message allocation), an
// OnMessage channel takes Pion's per-message copies.
func recvRaw(ctx context.Context, c *Conn, total int) error {
	tr := c.tr
	got := 0
	if tr.rwc == nil {
		for got < total {
			m, err := tr.ReadMessage(ctx)
			if err != nil {
				return err
			}
			got += len(m[0])
		}

		return nil
	}
	buf := make([]byte, tr.recvLimit)
	for got < total {
		n, _, err := tr.rwc.ReadDataChannel(buf)
		if err != nil {
			return err
		}
		got += n
	}

	return nil
}

// measure runs send and recv concurrently and returns the wall time and
// the process CPU time they took.
func measure(send, recv func() error) (wall, cpu time.Duration, err error) {
	c0, t0 := cpuTime(), time.Now()
	errc := make(chan error, 1)
	go func() { errc <- recv() }()
	serr := send()
	rerr := <-errc
	wall, cpu = time.Since(t0), cpuTime()-c0
	if serr != nil || rerr != nil {
		return wall, cpu, fmt.Errorf("send: %w; recv: %w", serr, rerr)
	}

	return wall, cpu, nil
}

func mbps(bytes int, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

// percentile returns the p-th percentile (0..1) of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(p * float64(len(ds)-1))

	return ds[i]
}

var errShort = errors.New("short read")

// udpRcvbufErrors reads the host-wide count of UDP datagrams dropped
// because a socket receive buffer was full (Linux /proc/net/snmp); -1 when
// unavailable. Other processes on the host add to it.
func udpRcvbufErrors() int64 {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return -1
	}
	defer f.Close()
	var header []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		for i, h := range header {
			if h == "RcvbufErrors" && i < len(fields) {
				n, err := strconv.ParseInt(fields[i], 10, 64)
				if err != nil {
					return -1
				}
				return n
			}
		}
	}
	return -1
}

// sample is the wall and CPU time of one measured transfer.
type sample struct{ wall, cpu time.Duration }

// alternate runs every f rounds times in ABBA order (A B B A A B ...), so
// that load from other processes falls on all of them alike, and returns
// the summed samples per f.
func alternate(rounds int, fs ...func() (sample, error)) ([]sample, error) {
	sums := make([]sample, len(fs))
	for r := range rounds {
		for k := range fs {
			i := k
			if r%2 == 1 {
				i = len(fs) - 1 - k
			}
			s, err := fs[i]()
			if err != nil {
				return nil, err
			}
			sums[i].wall += s.wall
			sums[i].cpu += s.cpu
		}
	}

	return sums, nil
}

// transferFn measures one transfer of n bytes with send and recv.
func transferFn(send func(n int) error, recv func(n int) error, n int) func() (sample, error) {
	return func() (sample, error) {
		w, c, err := measure(func() error { return send(n) }, func() error { return recv(n) })

		return sample{w, c}, err
	}
}
