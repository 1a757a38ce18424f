package binchannel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randValue builds a random JSON-able tree with []byte leaves at any depth.
func randValue(r *rand.Rand, depth, chunk int) any {
	k := r.IntN(8)
	if depth <= 0 && k >= 5 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return float64(r.IntN(1000))
	case 1:
		return fmt.Sprintf("s%d", r.IntN(100))
	case 2:
		if r.IntN(4) == 0 {
			return []byte(nil)
		}
		return randBytes(r, randSize(r, chunk))
	case 3:
		return r.IntN(2) == 0
	case 4:
		return nil
	case 5, 6:
		n := r.IntN(4)
		m := make(map[string]any, n)
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("k%d", i)] = randValue(r, depth-1, chunk)
		}
		return m
	}
	n := r.IntN(4)
	l := make([]any, n)
	for i := range l {
		l[i] = randValue(r, depth-1, chunk)
	}
	return l
}

// normalize maps what the decoder produces back to the sender's shapes:
// a Binary becomes its bytes; a nil []byte was sent as null.
func normalize(v any) any {
	switch x := v.(type) {
	case Binary:
		return x.Bytes()
	case []byte:
		if x == nil {
			return nil
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func TestRandomValuesRoundTrip(t *testing.T) {
	for _, mms := range []int{BinHeaderSize + 1, 64, 1 << 20} {
		t.Run(fmt.Sprint(mms), func(t *testing.T) {
			ctx := testCtx(t)
			a, b := newPair(t, PipeOptions{MaxMessageSize: mms, Depth: 8}, Options{ChunkSize: 128})
			chunk := min(128, mms-BinHeaderSize)
			r := rand.New(rand.NewPCG(uint64(mms), 3))
			const n = 40
			want := make([]any, n)
			for i := range want {
				want[i] = randValue(r, 4, chunk)
			}
			errc := make(chan error, 1)
			go func() {
				for _, v := range want {
					if err := a.Send(ctx, v); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range want {
				var got any
				require.NoError(t, b.Recv(ctx, &got))
				assert.Equal(t, normalize(want[i]), normalize(got), "value %d", i)
			}
			require.NoError(t, <-errc)
		})
	}
}
