package harness

import (
	"context"
	"time"
)

// A Mover moves bytes one way over an established connection, in messages of
// the payload size it was set up with.
type Mover interface {
	// Move sends total bytes and returns once the receiving side has all of
	// them.
	Move(ctx context.Context, total int64) error
	// Close tears the connection down and waits for its goroutines.
	Close() error
}

// ThroughputCase is one way of moving bytes, measured at each payload size.
type ThroughputCase struct {
	// Name identifies the case in tables and charts.
	Name string
	// Baseline names the case this one is compared to; empty for none.
	Baseline string
	// Setup establishes a connection for payload-sized messages. Its time is
	// not measured.
	Setup func(ctx context.Context, payload int) (Mover, error)
	// MinDuration is the least time one measurement of this case runs
	// whatever Config.Duration says: movers that finish Config.Bytes in
	// well under a millisecond repeat it, so that their medians hold still.
	MinDuration time.Duration
}

// inMemoryMinDuration is the MinDuration of the cases that move bytes within
// memory (copy and the in-memory pipe).
const inMemoryMinDuration = 100 * time.Millisecond

// A Pinger makes one small round trip per call over an established
// connection.
type Pinger interface {
	RoundTrip(ctx context.Context) error
	Close() error
}

// LatencyCase is one way of making a small round trip.
type LatencyCase struct {
	// Name identifies the case in tables and charts.
	Name string
	// Baseline names the case this one is compared to; empty for none.
	Baseline string
	// Also names further cases this one is compared to; the table shows
	// these ratios beside the baseline's.
	Also []string
	// Setup establishes a connection. Its time is not measured.
	Setup func(ctx context.Context) (Pinger, error)
}

// funcMover adapts a pair of functions to Mover.
type funcMover struct {
	move  func(ctx context.Context, total int64) error
	close func() error
}

func (m funcMover) Move(ctx context.Context, total int64) error { return m.move(ctx, total) }
func (m funcMover) Close() error                                { return m.close() }

// funcPinger adapts a pair of functions to Pinger.
type funcPinger struct {
	rt    func(ctx context.Context) error
	close func() error
}

func (p funcPinger) RoundTrip(ctx context.Context) error { return p.rt(ctx) }
func (p funcPinger) Close() error                        { return p.close() }

// registry holds every case the harness knows, in presentation order.
var (
	throughputCases []ThroughputCase
	latencyCases    []LatencyCase
)

// moveFor moves total bytes with m, and again until at least d has passed
// on the clock now. It returns the bytes moved and the wall and CPU time
// taken. Each Move is bounded by ctx.
func moveFor(ctx context.Context, m Mover, total int64, d time.Duration, now func() time.Time) (moved int64, wall, cpu time.Duration, err error) {
	c0 := processCPU()
	t0 := now()
	for {
		if err := m.Move(ctx, total); err != nil {
			return moved, 0, 0, err
		}
		moved += total
		if wall = now().Sub(t0); wall >= d {
			return moved, wall, processCPU() - c0, nil
		}
	}
}
