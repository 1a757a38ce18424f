package binchannel

import (
	"context"
	"errors"
	"fmt"
)

// job is one packet's messages, ready to write. Headers live in one arena and
// the data parts are sub-slices of the caller's memory: building a job never
// copies payload bytes.
type job struct {
	msgs [][][]byte // parts of each message, in order
	next int        // index of the first message not yet written
	size int64      // bytes of all messages, for queue accounting

	// wctx is the context handed to the transport while this job's sender
	// is the writer; it marks re-entrant Sends.
	wctx writerCtx

	// Inline storage so that a small packet costs one allocation.
	hdrBuf   [OpenHeaderSize + 2*BinHeaderSize]byte
	partsBuf [4][]byte
	msgsBuf  [2][][]byte
}

// writerCtx wraps the writer's context so that a Send re-entered from inside
// Transport.WriteMessage with (a context derived from) it can recognise
// itself and skip the queue bound instead of waiting for itself.
type writerCtx struct {
	context.Context
	c *Channel
}

type writerKey struct{}

func (w *writerCtx) Value(key any) any {
	if key == (writerKey{}) {
		return w.c
	}
	return w.Context.Value(key)
}

func ceilDiv(n, d int64) int64 { return (n + d - 1) / d }

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// buildJob cuts p into messages for a transport whose largest message is max
// bytes.
func (c *Channel) buildJob(p Packet, id uint32, max int) (*job, error) {
	binRoom := minInt(c.o.ChunkSize, max-BinHeaderSize)
	openRoom := minInt(c.o.ChunkSize, max-OpenHeaderSize)
	jsonRoom := minInt(c.o.ChunkSize, max-JSONHeaderSize)
	if binRoom < 1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageSizeTooSmall, max)
	}
	jsonLen := int64(len(p.JSON))
	if jsonLen > maxWireLen || int64(len(p.Bins)) > maxWireLen {
		return nil, ErrPacketTooLarge
	}
	// Count messages, parts and header bytes.
	total := jsonLen
	nmsg, nparts, nhdr := int64(1), int64(1), int64(OpenHeaderSize)
	if jsonLen > 0 {
		nparts++
	}
	if rest := jsonLen - int64(openRoom); rest > 0 {
		k := ceilDiv(rest, int64(jsonRoom))
		nmsg += k
		nparts += 2 * k
		nhdr += k * JSONHeaderSize
	}
	for _, b := range p.Bins {
		n := b.Len()
		total += n
		k := max64(1, ceilDiv(n, int64(binRoom)))
		nmsg += k
		nhdr += k * BinHeaderSize
		// One header part per message plus the data pieces: each
		// non-empty source chunk is one piece, plus one more for every
		// message boundary that falls inside a chunk (at most k-1).
		nparts += k
		if n > 0 {
			nparts += k - 1
			for _, ch := range b.chunks {
				if len(ch) > 0 {
					nparts++
				}
			}
		}
	}
	if total > c.o.MaxPacketSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrPacketTooLarge, total, c.o.MaxPacketSize)
	}

	j := &job{size: total + nhdr}
	var hdr []byte
	if nhdr <= int64(len(j.hdrBuf)) {
		hdr = j.hdrBuf[:0]
	} else {
		hdr = make([]byte, 0, nhdr)
	}
	var parts [][]byte
	if nparts <= int64(len(j.partsBuf)) {
		parts = j.partsBuf[:0]
	} else {
		parts = make([][]byte, 0, nparts)
	}
	if nmsg <= int64(len(j.msgsBuf)) {
		j.msgs = j.msgsBuf[:0]
	} else {
		j.msgs = make([][][]byte, 0, nmsg)
	}
	start := 0
	endMsg := func() {
		j.msgs = append(j.msgs, parts[start:len(parts):len(parts)])
		start = len(parts)
	}
	addHdr := func(h []byte) {
		n := len(hdr)
		hdr = h
		parts = append(parts, hdr[n:len(hdr):len(hdr)])
	}

	// Skeleton.
	js := p.JSON
	k := minInt(len(js), openRoom)
	addHdr(AppendOpenHeader(hdr, id, uint32(len(p.Bins)), uint32(len(js))))
	if k > 0 {
		parts = append(parts, js[:k:k])
	}
	endMsg()
	for off := k; off < len(js); {
		k := minInt(len(js)-off, jsonRoom)
		addHdr(AppendJSONHeader(hdr, id, uint32(off)))
		parts = append(parts, js[off:off+k:off+k])
		endMsg()
		off += k
	}

	// Binaries.
	for i, b := range p.Bins {
		n := uint64(b.Len())
		if n == 0 {
			addHdr(AppendBinHeader(hdr, id, uint32(i), 0, 0))
			endMsg()
			continue
		}
		var off uint64
		room := 0
		for _, ch := range b.chunks {
			for len(ch) > 0 {
				if room == 0 {
					if off > 0 {
						endMsg()
					}
					addHdr(AppendBinHeader(hdr, id, uint32(i), n, off))
					room = binRoom
				}
				m := minInt(len(ch), room)
				parts = append(parts, ch[:m:m])
				ch = ch[m:]
				room -= m
				off += uint64(m)
			}
		}
		endMsg()
	}
	return j, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// SendPacket queues p's messages as one contiguous block behind everything
// already queued and, unless another Send is already writing, writes the
// queue until it is empty.
//
// SendPacket returns once p is written, or as soon as it is queued behind a
// Send that is writing (that Send, or the background writer it hands over
// to when its own packet is out, then writes p). Either way the
// transport may hand p's memory to the receiver without copying: the caller
// must not modify p.JSON or the binaries afterwards.
//
// If the transport fails, SendPacket returns the error (wrapped) and the
// message that failed stays at the head of the queue: nothing is lost and
// no gap is left, and the next SendPacket or Flush resumes from it. Call
// Reset to drop it instead. If instead ctx ends while SendPacket is
// writing, it returns ctx's error and a background goroutine takes over
// the writing of what is queued (the rest of this packet included), so
// that other Sends' packets are not held up; it ends when the queue is
// empty, the transport fails (reported through OnError) or the Channel is
// closed. When the queue is at its bound (MaxQueueBytes,
// MaxQueuePackets) SendPacket waits for room until ctx is done.
//
// A SendPacket made from inside Transport.WriteMessage (re-entrant) appends
// to the tail and returns without waiting for itself; pass it the context
// WriteMessage received (or one derived from it) so that it also skips the
// queue bound.
//
// SendPacket is safe for concurrent use.
func (c *Channel) SendPacket(ctx context.Context, p Packet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j, err := c.buildJob(p, c.nextID.Add(1), c.t.MaxMessageSize())
	if err != nil {
		return err
	}
	c.mu.Lock()
	if err := c.waitRoomLocked(ctx); err != nil {
		c.mu.Unlock()
		return err
	}
	c.q.push(j)
	c.qBytes += j.size
	if c.writing {
		c.mu.Unlock()
		return nil
	}
	return c.drainLocked(ctx, j)
}

// Flush returns once the output queue is empty: it writes what is queued
// (for example what a failed Send left behind) or, while another Send or
// the background writer is writing, waits for it. Packets queued by others
// meanwhile are waited for too. It returns early with ctx's error, or with
// the transport's error if its own write fails.
func (c *Channel) Flush(ctx context.Context) error {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.q.len() == 0 {
			c.mu.Unlock()
			return nil
		}
		if !c.writing {
			return c.drainLocked(ctx, &job{})
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// waitRoomLocked waits until the queue is below its bounds, the channel is
// closed, nobody is writing (so the caller will write) or ctx is done.
// c.mu is held on entry and on return.
func (c *Channel) waitRoomLocked(ctx context.Context) error {
	for {
		if c.closed {
			return ErrClosed
		}
		if !c.writing || (c.qBytes < c.o.MaxQueueBytes && c.q.len() < c.o.MaxQueuePackets) {
			return nil
		}
		if w, _ := ctx.Value(writerKey{}).(*Channel); w == c {
			return nil // re-entrant: the writer is our own caller
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// wakeLocked wakes every Send waiting for room and every Flush waiting for
// the queue to move.
func (c *Channel) wakeLocked() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// drainLocked makes the caller the writer and writes the queue until it is
// empty or a write fails. c.mu is held on entry and released on return.
// mine supplies the storage for the writer context; when mine is a queued
// packet and others are queued behind it once it is written, the writer
// role passes to a background goroutine so that the caller is not held up
// by a stream of other Sends.
func (c *Channel) drainLocked(ctx context.Context, mine *job) error {
	c.writing = true
	mine.wctx = writerCtx{Context: ctx, c: c}
	wctx := &mine.wctx
	for {
		if c.closed {
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return ErrClosed
		}
		j := c.q.head()
		if j == nil {
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return nil
		}
		parts := j.msgs[j.next]
		gen := c.gen
		c.mu.Unlock()
		err := c.t.WriteMessage(wctx, parts...)
		c.mu.Lock()
		if err != nil {
			if c.closed {
				c.writing = false
				c.wakeLocked()
				c.mu.Unlock()
				return ErrClosed
			}
			if ctx.Err() != nil {
				// Our caller gave up, but what is queued (the rest of
				// its packet, other Sends' packets) must not wait for
				// the next Send: hand the writer role on.
				go c.drainInBackground()
				c.mu.Unlock()
				return err
			}
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return fmt.Errorf("binchannel: send: %w", err)
		}
		if gen != c.gen {
			continue // Reset dropped the queue while we wrote
		}
		j.next++
		if j.next == len(j.msgs) {
			c.q.pop()
			c.qBytes -= j.size
			c.wakeLocked()
			if j == mine && c.q.len() > 0 {
				go c.drainInBackground()
				c.mu.Unlock()
				return nil
			}
		}
	}
}

// drainInBackground takes over the writer role from a Send that is done
// (its packet written, or its ctx ended) and writes the queue until it is
// empty, the transport fails or the Channel closes. A failure is reported through OnError and leaves the
// queue for the next Send or Flush.
func (c *Channel) drainInBackground() {
	c.mu.Lock()
	if err := c.drainLocked(context.Background(), &job{}); err != nil && !errors.Is(err, ErrClosed) {
		c.report(err)
	}
}

// jobQueue is a FIFO ring of jobs.
type jobQueue struct {
	buf []*job
	h   int // index of the head in buf
	n   int
}

func (q *jobQueue) len() int { return q.n }

func (q *jobQueue) head() *job {
	if q.n == 0 {
		return nil
	}
	return q.buf[q.h]
}

func (q *jobQueue) push(j *job) {
	if q.n == len(q.buf) {
		nb := make([]*job, max(8, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.h+i)%len(q.buf)]
		}
		q.buf, q.h = nb, 0
	}
	q.buf[(q.h+q.n)%len(q.buf)] = j
	q.n++
}

func (q *jobQueue) pop() {
	q.buf[q.h] = nil
	q.h = (q.h + 1) % len(q.buf)
	q.n--
}

func (q *jobQueue) clear() {
	for q.n > 0 {
		q.pop()
	}
	q.h = 0
}
