package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestProgressPlainPrintsEveryTenPercent(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressBar(&buf, "upload")
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	for done := int64(0); done <= 1000; done += 25 {
		clock = clock.Add(10 * time.Millisecond)
		p.Update(done, 1000)
	}
	p.Update(1000, 1000)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, 11, "0%%, 10%%, …, 100%% once each")
	assert.Contains(t, lines[0], "  0%")
	assert.Contains(t, lines[10], "100%")
	assert.Contains(t, lines[10], "1000 B / 1000 B")
	assert.NotContains(t, lines[10], "ETA")
	assert.Contains(t, lines[5], "ETA")
}

func TestProgressReportsResume(t *testing.T) {
	var buf bytes.Buffer
	p := newProgressBar(&buf, "upload")
	p.Update(512<<10, 1<<20)
	assert.Contains(t, buf.String(), "resuming at 512.0 KiB")
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		assert.Equal(t, want, humanSize(n))
	}
}
