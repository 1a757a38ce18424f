package rpc

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/peerd/peerd/binchannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder keeps a copy of every packet's skeleton sent through it.
type recorder struct {
	Transport
	mu   sync.Mutex
	sent []string
	bins []int
}

func (r *recorder) SendPacket(ctx context.Context, p binchannel.Packet) error {
	r.mu.Lock()
	r.sent = append(r.sent, string(p.JSON))
	r.bins = append(r.bins, len(p.Bins))
	r.mu.Unlock()
	return r.Transport.SendPacket(ctx, p)
}

func (r *recorder) JSONOnly() bool {
	j, ok := r.Transport.(JSONOnly)
	return ok && j.JSONOnly()
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.sent, "\n")
}

type blobDoc struct {
	Name string `json:"name"`
	Blob []byte `json:"blob"`
}

func registerBlobs(t *testing.T, c *Conn) {
	t.Helper()
	require.NoError(t, c.Register("concat", func(a []byte, b binchannel.Binary, d blobDoc) (blobDoc, error) {
		out := append(append(append([]byte{}, a...), b.Bytes()...), d.Blob...)
		return blobDoc{Name: d.Name + "!", Blob: out}, nil
	}))
	require.NoError(t, c.Register("size", func(b binchannel.Binary) int64 { return b.Len() }))
	require.NoError(t, c.Register("echo", func(b []byte) []byte { return b }))
	require.NoError(t, c.Register("stream", func(ctx context.Context, n int, chunk func(context.Context, []byte) error) error {
		for i := 0; i < n; i++ {
			if err := chunk(ctx, bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func TestBinaries(t *testing.T) {
	for _, raw := range []bool{true, false} {
		name := map[bool]string{true: "binchannel", false: "json"}[raw]
		t.Run(name, func(t *testing.T) {
			var ta, tb Transport
			if raw {
				pa, pb := binchannel.NewPipe(binchannel.PipeOptions{})
				ta, tb = binchannel.New(pa), binchannel.New(pb)
			} else {
				ta, tb = NewPipe(PipeOptions{})
			}
			ra := &recorder{Transport: ta}
			rb := &recorder{Transport: tb}
			a, b := pairOver(t, ra, rb, Options{}, Options{})
			registerBlobs(t, b)
			ctx := testCtx(t)

			d, err := Call[blobDoc](ctx, a, "concat", []byte("ab"), binchannel.BytesBinary([]byte("cd")), blobDoc{Name: "x", Blob: []byte("ef")})
			require.NoError(t, err)
			assert.Equal(t, blobDoc{Name: "x!", Blob: []byte("abcdef")}, d)
			if raw {
				assert.Contains(t, ra.all(), `"params":[{"$bin":0},{"$bin":1},{"name":"x","blob":{"$bin":2}}]`)
				assert.Contains(t, rb.all(), `"result":{"name":"x!","blob":{"$bin":0}}`)
				assert.Equal(t, 3, ra.bins[0])
			} else {
				assert.Contains(t, ra.all(), `"params":["YWI=","Y2Q=",{"name":"x","blob":"ZWY="}]`)
				assert.Contains(t, rb.all(), `"result":{"name":"x!","blob":"YWJjZGVm"}`)
			}

			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: several chunks
			n, err := Call[int64](ctx, a, "size", big)
			require.NoError(t, err)
			assert.Equal(t, int64(len(big)), n)
			back, err := Call[[]byte](ctx, a, "echo", big)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(big, back))
			bb, err := Call[binchannel.Binary](ctx, a, "echo", big)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(big, bb.Bytes()))

			var mu sync.Mutex
			total := 0
			require.NoError(t, a.Call(ctx, "stream", nil, 5, func(p []byte) {
				mu.Lock()
				total += len(p)
				mu.Unlock()
			}))
			assert.Equal(t, 5000, total)
			zero(t, a, b)
		})
	}
}
