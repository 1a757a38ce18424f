package binchannel

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randSize picks sizes around interesting boundaries of chunk.
func randSize(r *rand.Rand, chunk int) int {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return chunk
	case 2:
		return chunk + 1
	case 3:
		return max(0, chunk-1)
	case 4:
		return 2 * chunk
	}
	return r.IntN(3*chunk + 2)
}

func randPacket(r *rand.Rand, chunk int) Packet {
	nb := r.IntN(5)
	var p Packet
	var sk bytes.Buffer
	sk.WriteString(`{"pad":"`)
	sk.WriteString(string(bytes.Repeat([]byte("x"), randSize(r, chunk))))
	sk.WriteString(`","bins":[`)
	for i := 0; i < nb; i++ {
		if i > 0 {
			sk.WriteByte(',')
		}
		fmt.Fprintf(&sk, `{"$bin":%d}`, i)
		n := randSize(r, chunk)
		if r.IntN(3) == 0 && n > 2 {
			// A multi-chunk source value.
			b := randBytes(r, n)
			cut := 1 + r.IntN(n-1)
			p.Bins = append(p.Bins, ChunksBinary([][]byte{b[:cut], b[cut:]}))
		} else {
			p.Bins = append(p.Bins, BytesBinary(randBytes(r, n)))
		}
	}
	sk.WriteString("]}")
	p.JSON = sk.Bytes()
	return p
}

func assertSamePacket(t *testing.T, want, got Packet) {
	t.Helper()
	assert.Equal(t, string(want.JSON), string(got.JSON))
	require.Len(t, got.Bins, len(want.Bins))
	for i := range want.Bins {
		assert.Equal(t, want.Bins[i].Len(), got.Bins[i].Len(), "bin %d", i)
		assert.True(t, bytes.Equal(want.Bins[i].Bytes(), got.Bins[i].Bytes()), "bin %d", i)
	}
}

func TestRandomRoundTrip(t *testing.T) {
	for _, mms := range []int{BinHeaderSize + 1, 40, 100, 1000, 1 << 20} {
		for _, assemble := range []bool{false, true} {
			t.Run(fmt.Sprintf("max%d/assemble=%v", mms, assemble), func(t *testing.T) {
				ctx := testCtx(t)
				a, b := newPair(t, PipeOptions{MaxMessageSize: mms, Depth: 4}, Options{AssembleBins: assemble, ChunkSize: 300})
				chunk := min(300, mms-BinHeaderSize)
				r := rand.New(rand.NewPCG(uint64(mms), 7))
				const n = 60
				want := make([]Packet, n)
				for i := range want {
					want[i] = randPacket(r, chunk)
				}
				errc := make(chan error, 1)
				go func() {
					for _, p := range want {
						if err := a.SendPacket(ctx, p); err != nil {
							errc <- err
							return
						}
					}
					errc <- nil
				}()
				for i := range want {
					got, err := b.RecvPacket(ctx)
					require.NoError(t, err)
					assertSamePacket(t, want[i], got)
					if assemble {
						for _, bin := range got.Bins {
							assert.True(t, bin.Contiguous())
						}
					}
				}
				require.NoError(t, <-errc)
			})
		}
	}
}

func TestConcurrentSenders(t *testing.T) {
	ctx := testCtx(t)
	a, b := newPair(t, PipeOptions{MaxMessageSize: 4096, Depth: 2}, Options{MaxQueuePackets: 4})
	const senders, each = 8, 40
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(s), 1))
			for i := 0; i < each; i++ {
				// Alternate big transfers and small packets.
				n := 10
				if i%4 == 0 {
					n = 20000 + r.IntN(5000)
				}
				data := bytes.Repeat([]byte{byte(s)}, n)
				msg := struct {
					S, I int
					Data []byte
				}{s, i, data}
				if !assert.NoError(t, a.Send(ctx, msg)) {
					return
				}
			}
			assert.NoError(t, a.Flush(ctx))
		}()
	}
	next := make([]int, senders)
	for k := 0; k < senders*each; k++ {
		var msg struct {
			S, I int
			Data []byte
		}
		require.NoError(t, b.Recv(ctx, &msg))
		require.Less(t, msg.S, senders)
		assert.Equal(t, next[msg.S], msg.I, "per-sender order")
		next[msg.S] = msg.I + 1
		for _, c := range msg.Data {
			if c != byte(msg.S) {
				t.Fatalf("corrupt data in packet %d/%d", msg.S, msg.I)
			}
		}
	}
	wg.Wait()
}
