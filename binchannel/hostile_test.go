package binchannel

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openMsg(id, bins uint32, jsonLen uint32, js string) []byte {
	return append(AppendOpenHeader(nil, id, bins, jsonLen), js...)
}

func jsonMsg(id, off uint32, js string) []byte {
	return append(AppendJSONHeader(nil, id, off), js...)
}

func binMsg(id, idx uint32, total, off uint64, data string) []byte {
	return append(AppendBinHeader(nil, id, idx, total, off), data...)
}

const ph = `{"$bin":0}`

// cat joins messages into one: an OPEN and the BIN frame it may carry.
func cat(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = append(out, m...)
	}
	return out
}

// feed writes raw messages into a Channel, then a well-formed packet, and
// returns the errors reported on the way. The well-formed packet must
// arrive.
func feed(t *testing.T, o Options, msgs ...[]byte) []error {
	t.Helper()
	log := &errorLog{}
	o.OnError = log.add
	raw, tb := NewPipe(PipeOptions{Depth: len(msgs) + 4})
	c := NewWithOptions(tb, o)
	defer c.Close()
	ctx := testCtx(t)
	for _, m := range msgs {
		require.NoError(t, raw.WriteMessage(ctx, m))
	}
	good := openMsg(0xfffffff0, 1, uint32(len(ph)), ph)
	require.NoError(t, raw.WriteMessage(ctx, good))
	require.NoError(t, raw.WriteMessage(ctx, binMsg(0xfffffff0, 0, 2, 0, "ok")))
	for {
		p, err := c.RecvPacket(ctx)
		require.NoError(t, err)
		assert.Equal(t, ph, string(p.JSON))
		require.Len(t, p.Bins, 1)
		if string(p.Bins[0].Bytes()) == "ok" {
			return log.take()
		}
	}
}

func TestHostileInput(t *testing.T) {
	small := Options{MaxPacketSize: 1000, MaxPendingPackets: 2, MaxPendingBytes: 400}
	huge := uint64(1) << 62
	cases := []struct {
		name string
		o    Options
		msgs [][]byte
		want []error
	}{
		{"empty message", Options{}, [][]byte{{}}, []error{ErrTruncated}},
		{"truncated open header", Options{}, [][]byte{{KindOpen, 0, 0, 0, 1}}, []error{ErrTruncated}},
		{"truncated bin header", Options{}, [][]byte{binMsg(1, 0, 1, 0, "")[:20]}, []error{ErrTruncated}},
		{"unknown kind", Options{}, [][]byte{{0x7f, 1, 2, 3}}, []error{ErrUnknownKind}},
		{"text frame", Options{}, [][]byte{[]byte(`{"jsonrpc":"2.0"}`)}, []error{ErrUnknownKind}},
		{"bin for unknown packet", Options{}, [][]byte{binMsg(9, 0, 1, 0, "x")}, []error{ErrUnknownPacket}},
		{"json for unknown packet", Options{}, [][]byte{jsonMsg(9, 0, "x")}, []error{ErrUnknownPacket}},
		{"index out of range", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 5, 1, 0, "x")}, []error{ErrOutOfRange}},
		{"binary skipped", Options{}, [][]byte{openMsg(1, 2, 10, ph), binMsg(1, 1, 1, 0, "x")}, []error{ErrOutOfOrder}},
		{"duplicate chunk", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 0, "ab"), binMsg(1, 0, 4, 0, "ab")}, []error{ErrDuplicateChunk}},
		{"duplicate binary", Options{}, [][]byte{openMsg(1, 2, 10, ph), binMsg(1, 0, 1, 0, "a"), binMsg(1, 0, 1, 0, "a")}, []error{ErrDuplicateChunk}},
		{"gap in binary", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 0, "ab"), binMsg(1, 0, 4, 3, "c")}, []error{ErrOutOfOrder}},
		{"first chunk not at 0", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 2, "ab")}, []error{ErrOutOfOrder}},
		{"chunk longer than total", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 2, 0, "abcde")}, []error{ErrLength}},
		{"total changes", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 0, "ab"), binMsg(1, 0, 5, 2, "cd")}, []error{ErrLength}},
		{"empty chunk", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 0, "")}, []error{ErrLength}},
		{"skeleton longer than declared", Options{}, [][]byte{openMsg(1, 0, 3, ph)}, []error{ErrLength}},
		{"json continuation too long", Options{}, [][]byte{openMsg(1, 0, 11, ph), jsonMsg(1, 10, "  ")}, []error{ErrLength}},
		{"json duplicate", Options{}, [][]byte{openMsg(1, 0, 12, ph), jsonMsg(1, 0, "  ")}, []error{ErrDuplicateChunk}},
		{"json gap", Options{}, [][]byte{openMsg(1, 0, 12, ph), jsonMsg(1, 11, " ")}, []error{ErrOutOfOrder}},
		{"binary before skeleton done", Options{}, [][]byte{openMsg(1, 1, 12, ph), binMsg(1, 0, 1, 0, "x")}, []error{ErrOutOfOrder}},
		{"missing binary", Options{}, [][]byte{openMsg(1, 0, 10, ph)}, []error{ErrMissingBinary}},
		{"missing second binary", Options{}, [][]byte{openMsg(1, 1, 23, `[{"$bin":0},{"$bin":1}]`), binMsg(1, 0, 1, 0, "x")}, []error{ErrMissingBinary}},
		{"skeleton claims too much", small, [][]byte{openMsg(1, 1, 5000, "{")}, []error{ErrPacketTooLarge}},
		{"binary claims too much", small, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, huge, 0, "x")}, []error{ErrPacketTooLarge}},
		{"binaries add up to too much", Options{MaxPacketSize: 1000}, [][]byte{openMsg(1, 2, 10, ph), binMsg(1, 0, 600, 0, string(make([]byte, 600))), binMsg(1, 1, 600, 0, "x")}, []error{ErrPacketTooLarge}},
		{"too many pending", small, [][]byte{openMsg(1, 1, 10, ph), openMsg(2, 1, 10, ph), openMsg(3, 1, 10, ph), binMsg(1, 0, 1, 0, "x"), binMsg(2, 0, 1, 0, "x")}, []error{ErrTooManyPending}},
		{"too many pending bytes", small, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 0, 900, 0, string(make([]byte, 300))), binMsg(1, 0, 900, 300, string(make([]byte, 300)))}, []error{ErrTooManyPending}},
		{"reopened packet", Options{}, [][]byte{openMsg(1, 1, 10, ph), openMsg(1, 1, 10, ph)}, []error{ErrDuplicatePacket}},
		{"open with garbage after the skeleton", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), []byte("xyz"))}, []error{ErrLength}},
		{"open with a truncated bin frame", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(1, 0, 1, 0, "x")[:20])}, []error{ErrLength}},
		{"open with another packet's bin frame", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(2, 0, 1, 0, "x"))}, []error{ErrLength}},
		{"open with a bin frame out of range", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(1, 1, 1, 0, "x"))}, []error{ErrOutOfRange}},
		{"open with a bin frame not at 0", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(1, 0, 4, 2, "ab"))}, []error{ErrOutOfOrder}},
		{"open with a bin frame longer than total", Options{}, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(1, 0, 1, 0, "ab"))}, []error{ErrLength}},
		{"open without binaries with a bin frame", Options{}, [][]byte{cat(openMsg(1, 0, 2, "[]"), binMsg(1, 0, 1, 0, "x"))}, []error{ErrLength}},
		{"open with a bin frame claiming too much", small, [][]byte{cat(openMsg(1, 1, 10, ph), binMsg(1, 0, huge, 0, "x"))}, []error{ErrPacketTooLarge}},
		{"reopened packet with a bin frame", Options{}, [][]byte{openMsg(1, 1, 10, ph), cat(openMsg(1, 1, 10, ph), binMsg(1, 0, 1, 0, "x"))}, []error{ErrDuplicatePacket}},
		{"tail of a dropped packet is quiet", Options{}, [][]byte{openMsg(1, 1, 10, ph), binMsg(1, 3, 4, 0, "ab"), binMsg(1, 0, 4, 2, "cd")}, []error{ErrOutOfRange}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := feed(t, tc.o, tc.msgs...)
			require.Len(t, errs, len(tc.want), "%v", errs)
			for i, w := range tc.want {
				assert.ErrorIs(t, errs[i], w)
				if errors.Is(w, ErrMalformed) {
					assert.ErrorIs(t, errs[i], ErrMalformed)
				}
			}
		})
	}
}

// A peer's claims cost nothing until bytes arrive: an OPEN that declares a
// huge skeleton and 4 billion binaries allocates a few hundred bytes.
func TestClaimsDoNotAllocate(t *testing.T) {
	raw, tb := NewPipe(PipeOptions{Depth: 1100})
	c := NewWithOptions(tb, Options{MaxPacketSize: 1 << 40, MaxPendingBytes: 1 << 40, MaxPendingPackets: 2000})
	defer c.Close()
	ctx := testCtx(t)
	var msgs [][]byte
	for i := 0; i < 1000; i++ {
		msgs = append(msgs, openMsg(uint32(i+1), 1<<32-1, 1<<32-1, "{"))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, m := range msgs {
		_, _, err := c.handle([][]byte{m})
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	perOpen := float64(after.TotalAlloc-before.TotalAlloc) / 1000
	assert.Less(t, perOpen, 1024.0, "bytes allocated per hostile OPEN")
	_ = raw
	_ = ctx
}

func TestHostileDoesNotPanic(t *testing.T) {
	// Every prefix of a valid split packet, fed alone, is handled.
	rt := &recTransport{max: 30}
	c := New(rt)
	require.NoError(t, c.SendPacket(context.Background(), Packet{JSON: []byte(`{"x":{"$bin":0},"y":7}`), Bins: []Binary{BytesBinary([]byte("hello world"))}}))
	for i, m := range rt.flat() {
		for n := 0; n <= len(m); n++ {
			t.Run(fmt.Sprintf("msg%d/%d", i, n), func(t *testing.T) {
				r := New(&recTransport{})
				_, _, _ = r.handle([][]byte{append([]byte(nil), m[:n]...)})
			})
		}
	}
}
