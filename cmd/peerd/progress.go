package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressBar draws transfer progress: a redrawn bar on a terminal, a plain
// line every 10% otherwise. It is safe for concurrent use.
type progressBar struct {
	w     io.Writer
	label string
	tty   bool
	now   func() time.Time

	mu       sync.Mutex // guards the fields below
	start    time.Time
	startAt  int64 // bytes already done when the bar started (a resume)
	last     time.Time
	lastTick int64 // last 10% step printed (plain mode)
	done     bool
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, tty: isTerminal(w), now: time.Now, lastTick: -1}
}

// Update reports done of total bytes.
func (p *progressBar) Update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start, p.startAt = now, done
		if done > 0 {
			fmt.Fprintf(p.w, "%s: resuming at %s\n", p.label, humanSize(done))
		}
	}
	if p.done {
		return
	}
	finished := done >= total
	if p.tty {
		if !finished && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last = now
		fmt.Fprintf(p.w, "\r%s", p.line(done, total, now))
		if finished {
			fmt.Fprintln(p.w)
		}
	} else {
		tick := int64(0)
		if total > 0 {
			tick = done * 10 / total
		}
		if tick == p.lastTick && !finished {
			return
		}
		p.lastTick = tick
		fmt.Fprintln(p.w, p.line(done, total, now))
	}
	p.done = finished
}

// line renders one progress line.
func (p *progressBar) line(done, total int64, now time.Time) string {
	const width = 24
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	rate := 0.0
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = float64(done-p.startAt) / el
	}
	eta := ""
	if rate > 0 && done < total {
		eta = " ETA " + (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("%s %s %3.0f%% %s / %s  %s/s%s", p.label, bar, frac*100, humanSize(done), humanSize(total), humanSize(int64(rate)), eta)
}

// plural renders "1 file", "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
