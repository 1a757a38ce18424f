package binchannel

import (
	"context"
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
	// The first binary's first chunk rides in the OPEN message when the
	// whole skeleton fits there and room is left (PROTOCOL.md 2.3): a
	// packet with one binary no larger than a chunk is one message.
	firstRoom := -1
	if len(p.Bins) > 0 && jsonLen <= int64(openRoom) {
		if r := minInt(c.o.ChunkSize, max-OpenHeaderSize-int(jsonLen)-BinHeaderSize); r > 0 || (r == 0 && p.Bins[0].Len() == 0) {
			firstRoom = r
		}
	}
	// Count messages, parts and header bytes (upper bounds: a merged first
	// chunk can add one message to its binary but saves the OPEN's own).
	total := jsonLen
	nmsg, nparts, nhdr := int64(1), int64(1), int64(OpenHeaderSize)
	if jsonLen > 0 {
		nparts++
	}
	if firstRoom >= 0 {
		nparts += 2
		nhdr += BinHeaderSize
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
	if firstRoom < 0 {
		endMsg()
	}
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
					room = binRoom
					if off > 0 {
						endMsg()
					} else if i == 0 && firstRoom >= 0 {
						room = firstRoom // in the OPEN message
					}
					addHdr(AppendBinHeader(hdr, id, uint32(i), n, off))
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
