package binchannel

import (
	"context"
	"encoding/binary"
	"testing"
)

// framed joins messages as u16 length + bytes, the form FuzzReceive splits.
func framed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// FuzzReceive feeds arbitrary message sequences to the receive side and
// checks that it never panics and keeps its bounds.
func FuzzReceive(f *testing.F) {
	rt := &recTransport{max: 40}
	c := New(rt)
	_ = c.SendPacket(context.Background(), Packet{JSON: []byte(`{"x":{"$bin":0},"y":[{"$bin":1}]}`), Bins: []Binary{BytesBinary([]byte("hello world")), BytesBinary(nil)}})
	_ = c.SendPacket(context.Background(), Packet{JSON: []byte(`[]`)})
	f.Add(framed(rt.flat()...))
	f.Add(framed(openMsg(1, 1, 10, ph), binMsg(1, 0, 2, 0, "ab")))
	f.Add(framed(cat(openMsg(1, 1, 10, ph), binMsg(1, 0, 2, 0, "ab"))))
	f.Add(framed(cat(openMsg(1, 2, 10, ph), binMsg(1, 0, 4, 0, "ab")), binMsg(1, 0, 4, 2, "cd"), binMsg(1, 1, 0, 0, "")))
	f.Add(framed(cat(openMsg(1, 1, 10, ph), []byte{KindBin, 0, 0})))
	f.Add(framed(openMsg(1, 2, 10, ph), binMsg(1, 0, 4, 0, "ab"), binMsg(1, 0, 4, 2, "cd"), binMsg(1, 1, 0, 0, "")))
	f.Add(framed(openMsg(1, 0, 12, ph), jsonMsg(1, 10, "  ")))
	f.Add(framed(openMsg(1, 1, 10, ph), binMsg(1, 5, 1, 0, "x"), []byte{0x7f}, []byte{}))
	f.Add(framed(openMsg(1, 1<<31, 1<<31, "{"), binMsg(2, 0, 1<<62, 0, "x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := Options{MaxPacketSize: 1 << 16, MaxPendingBytes: 1 << 12, MaxPendingPackets: 4, PendingTTL: -1, AssembleBins: len(data)%2 == 1}
		c := NewWithOptions(&recTransport{}, o)
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			msg := data[:n:n]
			data = data[n:]
			// Split the message into two parts at a data-driven point,
			// as a transport with a separate header part would.
			cut := 0
			if n > 0 {
				cut = int(msg[n-1]) % (n + 1)
			}
			p, ok, _ := c.handle([][]byte{msg[:cut:cut], msg[cut:]})
			if c.pendingB < 0 || c.pendingB > o.MaxPendingBytes {
				t.Fatalf("pending bytes %d out of bounds", c.pendingB)
			}
			if len(c.pending) > o.MaxPendingPackets {
				t.Fatalf("%d pending packets", len(c.pending))
			}
			if !ok {
				continue
			}
			for _, b := range p.Bins {
				var sum int64
				for _, ch := range b.Chunks() {
					sum += int64(len(ch))
				}
				if sum != b.Len() {
					t.Fatalf("binary of %d bytes claims %d", sum, b.Len())
				}
			}
			var v any
			_ = Unmarshal(p, &v)
		}
		var sum int64
		for _, p := range c.pending {
			sum += p.bytes
		}
		if sum != c.pendingB {
			t.Fatalf("pending bytes %d, sum of packets %d", c.pendingB, sum)
		}
	})
}

// FuzzUnmarshal decodes arbitrary skeletons against a few binaries, into an
// untyped value and into a typed one, and checks the placeholder scan
// agrees with the decoder about indexes it reports.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"a":{"$bin":0},"b":[{"$bin":1},null,"aGk="]}`,
		`{"$bin":2}`,
		`[{"$bin":0},{ "$bin" : 1 }]`,
		`{"B":{"$bin":0,"x":1}}`,
		`{"B":{"$bin":-1},"L":[{"$bin":1e3}]}`,
		`{"\u0024bin":5}`,
		`{"B":"not base64!"}`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, js []byte, nbins uint8) {
		bins := make([]Binary, nbins%4)
		for i := range bins {
			bins[i] = BytesBinary([]byte{byte(i)})
		}
		p := Packet{JSON: js, Bins: bins}
		var v any
		errAny := Unmarshal(p, &v)
		var typed struct {
			B []byte
			N Binary
			L [][]byte
			M map[string][]byte
		}
		_ = Unmarshal(p, &typed)
		if errAny == nil && checkPlaceholders(js, len(bins)) != nil {
			t.Fatalf("scan reports a missing binary the decoder bound: %s", js)
		}
	})
}
