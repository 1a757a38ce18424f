package signaling

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// liveness pings a WebSocket peer and reports it dead when it answers
// neither with a pong nor with any message within a timeout of a ping. It
// uses one timer and no goroutine while waiting, so idle connections stay
// cheap.
type liveness struct {
	ws       *websocket.Conn
	interval time.Duration
	timeout  time.Duration
	onDead   func() // called at most once, from the timer's goroutine

	lastSeen atomic.Int64 // UnixNano of the last pong or message

	mu      sync.Mutex // guards timer, pingAt, stopped
	timer   *time.Timer
	pingAt  int64 // UnixNano of the unanswered ping; 0 when none
	stopped bool
}

// newLiveness installs a pong handler on ws and starts the ping timer.
func newLiveness(ws *websocket.Conn, interval, timeout time.Duration, onDead func()) *liveness {
	l := &liveness{ws: ws, interval: interval, timeout: timeout, onDead: onDead}
	l.seen()
	ws.SetPongHandler(func(string) error { l.seen(); return nil })
	l.mu.Lock()
	l.timer = time.AfterFunc(interval, l.tick)
	l.mu.Unlock()
	return l
}

// seen records that the peer is alive now.
func (l *liveness) seen() { l.lastSeen.Store(time.Now().UnixNano()) }

// stop cancels the timer; onDead will not be called afterwards.
func (l *liveness) stop() {
	l.mu.Lock()
	l.stopped = true
	l.timer.Stop()
	l.mu.Unlock()
}

func (l *liveness) tick() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	now := time.Now()
	last := l.lastSeen.Load()
	if l.pingAt != 0 {
		if last < l.pingAt {
			deadline := time.Unix(0, l.pingAt).Add(l.timeout)
			if !now.Before(deadline) {
				l.stopped = true
				l.mu.Unlock()
				l.onDead()
				return
			}
			l.timer.Reset(deadline.Sub(now))
			l.mu.Unlock()
			return
		}
		l.pingAt = 0
	}
	if next := time.Unix(0, last).Add(l.interval); next.After(now) {
		l.timer.Reset(next.Sub(now))
		l.mu.Unlock()
		return
	}
	l.pingAt = now.UnixNano()
	l.timer.Reset(min(l.interval, l.timeout))
	l.mu.Unlock()
	// WriteControl may run beside the connection's writer (gorilla allows it)
	// and is bounded by the same timeout.
	_ = l.ws.WriteControl(websocket.PingMessage, nil, now.Add(l.timeout))
}
