package binchannel

import (
	"context"
	"fmt"
	"time"
)

// msgOverhead is the bookkeeping charged against MaxPendingBytes for each
// message a half-received packet holds, on top of the message's bytes:
// slice headers, the transport's part list and allocation rounding. It
// keeps a flood of tiny messages within the bound in real memory too.
const msgOverhead = 64

// pending is one half-received packet.
type pending struct {
	id       uint32
	nbins    uint32
	jsonLen  uint64
	jsonGot  uint64
	json     [][]byte // views of the skeleton's pieces
	bins     []Binary
	cur      [][]byte // views of the binary being received
	curTotal uint64
	curGot   uint64
	started  bool      // the current binary's first chunk has arrived
	claimed  int64     // skeleton length plus totals of started binaries
	bytes    int64     // charged against MaxPendingBytes
	seen     time.Time // when the expiry sweep first saw it; zero before
}

// RecvPacket returns the next complete packet. Messages that are malformed
// or hostile are reported through Options.OnError and skipped; RecvPacket
// returns an error only when ctx is done or the transport fails or closes.
//
// The returned Packet's JSON and binaries are views of received messages;
// they belong to the caller.
//
// RecvPacket must be called from one goroutine at a time.
func (c *Channel) RecvPacket(ctx context.Context) (Packet, error) {
	for {
		parts, err := c.t.ReadMessage(ctx)
		if err != nil {
			if c.isClosed() {
				return Packet{}, ErrClosed
			}
			return Packet{}, err
		}
		p, ok, err := c.handle(parts)
		if err != nil {
			c.report(err)
		}
		if ok {
			return p, nil
		}
	}
}

func (c *Channel) report(err error) {
	if c.o.OnError != nil {
		c.o.OnError(err)
	}
}

// handle processes one received message. It returns a packet when the
// message completes one.
func (c *Channel) handle(parts [][]byte) (Packet, bool, error) {
	h, data, n, err := parseHeader(parts)
	if err != nil {
		return Packet{}, false, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rclosed {
		return Packet{}, false, nil
	}
	switch h.kind {
	case KindOpen:
		if uint64(n) > h.total && h.index > 0 {
			return c.openWithBinLocked(h, data, n)
		}
		return c.openLocked(h, data, n)
	case KindJSON:
		return c.jsonLocked(h, data, n)
	default:
		return c.binLocked(h, data, n)
	}
}

func (c *Channel) openLocked(h header, data [][]byte, n int) (Packet, bool, error) {
	var err error
	if i := c.findLocked(h.id); i >= 0 {
		c.removeLocked(i, false)
		err = fmt.Errorf("%w: packet %d reopened; dropped its first part", ErrDuplicatePacket, h.id)
	}
	c.forgetDroppedLocked(h.id)
	fail := func(e error) (Packet, bool, error) {
		c.markDroppedLocked(h.id)
		if err != nil {
			e = fmt.Errorf("%w; %w", err, e)
		}
		return Packet{}, false, e
	}
	if int64(h.total) > c.o.MaxPacketSize {
		return fail(fmt.Errorf("%w: packet %d skeleton claims %d bytes, limit %d", ErrPacketTooLarge, h.id, h.total, c.o.MaxPacketSize))
	}
	if uint64(n) > h.total {
		return fail(fmt.Errorf("%w: packet %d carries %d skeleton bytes, declared %d", ErrLength, h.id, n, h.total))
	}
	if h.index == 0 && uint64(n) == h.total {
		js := joinViews(data, n)
		if e := checkPlaceholders(js, 0); e != nil {
			return fail(fmt.Errorf("packet %d: %w", h.id, e))
		}
		return Packet{JSON: js}, true, err
	}
	cost := int64(OpenHeaderSize+n) + msgOverhead
	if len(c.pending) >= c.o.MaxPendingPackets || c.pendingB+cost > c.o.MaxPendingBytes {
		return fail(fmt.Errorf("%w: packet %d refused", ErrTooManyPending, h.id))
	}
	p := c.newPendingLocked()
	p.id, p.nbins, p.jsonLen, p.jsonGot = h.id, h.index, h.total, uint64(n)
	p.claimed = int64(h.total)
	p.bytes = cost
	if n > 0 {
		p.json = append(p.json, data...)
	}
	if h.index > 0 {
		p.bins = make([]Binary, 0, min(h.index, 8))
	}
	c.pendingB += cost
	if c.o.PendingTTL > 0 && c.timer == nil {
		c.timer = c.o.Clock.AfterFunc(c.sweepInterval(), c.expire)
	}
	c.pending = append(c.pending, p)
	return Packet{}, false, err
}

// openWithBinLocked handles an OPEN message that carries the whole
// skeleton followed by the packet's first BIN frame (PROTOCOL.md 2.3): it is
// taken as that OPEN and that BIN in turn. Bytes after the skeleton that are
// not a BIN frame of the same packet make the OPEN a length mismatch.
func (c *Channel) openWithBinLocked(h header, data [][]byte, n int) (Packet, bool, error) {
	skel, rest := splitViews(data, int(h.total))
	bh, bdata, bn, err := parseHeader(rest)
	if err != nil || bh.kind != KindBin || bh.id != h.id {
		return c.openLocked(h, data, n)
	}
	if _, _, err := c.openLocked(h, skel, int(h.total)); err != nil {
		// The packet may still have opened (a reused id); if it was
		// refused, the BIN below finds it dropped and is ignored.
		p, ok, berr := c.binLocked(bh, bdata, bn)
		if berr != nil {
			err = fmt.Errorf("%w; %w", err, berr)
		}
		return p, ok, err
	}
	return c.binLocked(bh, bdata, bn)
}

// splitViews splits views at byte k (within their total) into the views
// before and after it, without copying bytes. views is reused for the
// second half.
func splitViews(views [][]byte, k int) (head, tail [][]byte) {
	for i, v := range views {
		if k <= len(v) {
			head = make([][]byte, 0, i+1)
			head = append(head, views[:i]...)
			if k > 0 {
				head = append(head, v[:k:k])
			}
			views[i] = v[k:]
			return head, views[i:]
		}
		k -= len(v)
	}
	return views, nil
}

func (c *Channel) jsonLocked(h header, data [][]byte, n int) (Packet, bool, error) {
	i := c.findLocked(h.id)
	if i < 0 {
		return c.unknownLocked(h)
	}
	p := c.pending[i]
	var err error
	switch {
	case h.offset < p.jsonGot:
		err = ErrDuplicateChunk
	case h.offset > p.jsonGot:
		err = ErrOutOfOrder
	case n == 0 || uint64(n) > p.jsonLen-p.jsonGot:
		err = ErrLength
	}
	if err != nil {
		c.removeLocked(i, true)
		return Packet{}, false, fmt.Errorf("%w: packet %d skeleton bytes %d+%d, have %d of %d", err, h.id, h.offset, n, p.jsonGot, p.jsonLen)
	}
	if e := c.chargeLocked(i, int64(JSONHeaderSize+n)+msgOverhead); e != nil {
		return Packet{}, false, e
	}
	p.json = append(p.json, data...)
	p.jsonGot += uint64(n)
	return c.maybeCompleteLocked(i)
}

func (c *Channel) binLocked(h header, data [][]byte, n int) (Packet, bool, error) {
	i := c.findLocked(h.id)
	if i < 0 {
		return c.unknownLocked(h)
	}
	p := c.pending[i]
	cur := uint32(len(p.bins))
	var err error
	switch {
	case p.jsonGot < p.jsonLen:
		err = ErrOutOfOrder
	case h.index >= p.nbins:
		err = ErrOutOfRange
	case h.index < cur:
		err = ErrDuplicateChunk
	case h.index > cur:
		err = ErrOutOfOrder
	case !p.started && h.offset != 0:
		err = ErrOutOfOrder
	case p.started && h.total != p.curTotal:
		err = ErrLength
	case h.offset < p.curGot:
		err = ErrDuplicateChunk
	case h.offset > p.curGot:
		err = ErrOutOfOrder
	case (n == 0 && h.total != 0) || uint64(n) > h.total-h.offset:
		err = ErrLength
	case !p.started && h.total > uint64(c.o.MaxPacketSize-p.claimed):
		err = ErrPacketTooLarge
	}
	if err != nil {
		c.removeLocked(i, true)
		return Packet{}, false, fmt.Errorf("%w: packet %d binary %d (of %d) bytes %d+%d of %d", err, h.id, h.index, p.nbins, h.offset, n, h.total)
	}
	if e := c.chargeLocked(i, int64(BinHeaderSize+n)+msgOverhead); e != nil {
		return Packet{}, false, e
	}
	if !p.started {
		p.started = true
		p.curTotal = h.total
		p.claimed += int64(h.total)
		if uint64(n) == h.total {
			// Whole value in one message: the data views are the
			// chunk list, no allocation.
			return c.finishBinLocked(i, data)
		}
	}
	p.cur = append(p.cur, data...)
	p.curGot += uint64(n)
	if p.curGot < p.curTotal {
		return Packet{}, false, nil
	}
	chunks := p.cur
	p.cur = nil
	return c.finishBinLocked(i, chunks)
}

// finishBinLocked appends the completed current binary of pending[i].
func (c *Channel) finishBinLocked(i int, chunks [][]byte) (Packet, bool, error) {
	p := c.pending[i]
	b := Binary{chunks: chunks, size: int64(p.curTotal)}
	if len(chunks) == 0 {
		b.chunks = nil
	}
	if c.o.AssembleBins && len(chunks) > 1 {
		b = BytesBinary(b.Bytes())
	}
	p.bins = append(p.bins, b)
	p.started, p.curTotal, p.curGot = false, 0, 0
	return c.maybeCompleteLocked(i)
}

// maybeCompleteLocked delivers pending[i] if nothing is missing.
func (c *Channel) maybeCompleteLocked(i int) (Packet, bool, error) {
	p := c.pending[i]
	if p.jsonGot < p.jsonLen || uint32(len(p.bins)) < p.nbins {
		return Packet{}, false, nil
	}
	js := joinViews(p.json, int(p.jsonLen))
	pkt := Packet{JSON: js, Bins: p.bins}
	id := p.id
	c.removeLocked(i, false)
	if err := checkPlaceholders(js, len(pkt.Bins)); err != nil {
		c.markDroppedLocked(id)
		return Packet{}, false, fmt.Errorf("packet %d: %w", id, err)
	}
	return pkt, true, nil
}

// chargeLocked adds cost bytes to pending[i], dropping it when
// MaxPendingBytes would be exceeded.
func (c *Channel) chargeLocked(i int, cost int64) error {
	if c.pendingB+cost > c.o.MaxPendingBytes {
		id := c.pending[i].id
		c.removeLocked(i, true)
		return fmt.Errorf("%w: packet %d dropped at %d pending bytes", ErrTooManyPending, id, c.pendingB)
	}
	c.pending[i].bytes += cost
	c.pendingB += cost
	return nil
}

func (c *Channel) unknownLocked(h header) (Packet, bool, error) {
	if c.wasDroppedLocked(h.id) {
		return Packet{}, false, nil // tail of a packet already reported
	}
	return Packet{}, false, fmt.Errorf("%w: kind %#x packet %d", ErrUnknownPacket, h.kind, h.id)
}

func (c *Channel) findLocked(id uint32) int {
	for i, p := range c.pending {
		if p.id == id {
			return i
		}
	}
	return -1
}

func (c *Channel) newPendingLocked() *pending {
	if n := len(c.free); n > 0 {
		p := c.free[n-1]
		c.free = c.free[:n-1]
		return p
	}
	return &pending{}
}

// removeLocked removes pending[i], optionally remembering its id as dropped
// so that the rest of its messages are ignored quietly.
func (c *Channel) removeLocked(i int, dropped bool) {
	p := c.pending[i]
	last := len(c.pending) - 1
	copy(c.pending[i:], c.pending[i+1:])
	c.pending[last] = nil
	c.pending = c.pending[:last]
	c.pendingB -= p.bytes
	if dropped {
		c.markDroppedLocked(p.id)
	}
	c.recycleLocked(p)
}

func (c *Channel) recycleLocked(p *pending) {
	clear(p.json)
	js := p.json[:0]
	*p = pending{json: js}
	if len(c.free) < 4 {
		c.free = append(c.free, p)
	}
}

func (c *Channel) markDroppedLocked(id uint32) {
	c.dropped[c.ndropped%len(c.dropped)] = id
	c.ndropped++
}

func (c *Channel) wasDroppedLocked(id uint32) bool {
	n := min(c.ndropped, len(c.dropped))
	for i := 0; i < n; i++ {
		if c.dropped[i] == id {
			return true
		}
	}
	return false
}

func (c *Channel) forgetDroppedLocked(id uint32) {
	if c.ndropped == 0 {
		return
	}
	n := min(c.ndropped, len(c.dropped))
	for i := 0; i < n; i++ {
		if c.dropped[i] == id {
			c.dropped[i] = 0
		}
	}
}

// joinViews returns views as one slice: the view itself when there is one,
// otherwise a copy.
func joinViews(views [][]byte, n int) []byte {
	switch len(views) {
	case 0:
		return []byte{}
	case 1:
		return views[0]
	}
	out := make([]byte, 0, n)
	for _, v := range views {
		out = append(out, v...)
	}
	return out
}
