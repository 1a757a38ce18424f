package binchannel

import (
	"bytes"
	"errors"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Name string
	Blob []byte
	Bin  Binary
}

type outer struct {
	ID     int
	Top    []byte
	Nil    []byte
	Empty  []byte
	Inner  inner
	List   []inner
	ByKey  map[string][]byte
	PtrBin *Binary
	Any    any
}

func TestMarshalUnmarshalNested(t *testing.T) {
	bin := BytesBinary([]byte("binary-value"))
	in := outer{
		ID:    7,
		Top:   []byte("top"),
		Empty: []byte{},
		Inner: inner{Name: "a", Blob: []byte{1, 2, 3}, Bin: ChunksBinary([][]byte{[]byte("ch"), []byte("unks")})},
		List: []inner{
			{Name: "b", Blob: []byte{4}},
			{Name: "c", Blob: nil},
		},
		ByKey:  map[string][]byte{"k": []byte("mapped")},
		PtrBin: &bin,
		Any:    []any{[]byte("in-any"), map[string]any{"deep": []byte("deeper")}},
	}
	p, err := Marshal(in)
	require.NoError(t, err)
	assert.NotContains(t, string(p.JSON), "dG9w", "no base64 in the skeleton")
	assert.Contains(t, string(p.JSON), `"Nil":null`)
	assert.Len(t, p.Bins, 11)

	// Zero-copy: the binaries are the caller's slices.
	assert.Same(t, &in.Top[0], &p.Bins[0].Bytes()[0])

	var out outer
	require.NoError(t, Unmarshal(p, &out))
	assert.Equal(t, in.ID, out.ID)
	assert.Equal(t, in.Top, out.Top)
	assert.Nil(t, out.Nil)
	assert.NotNil(t, out.Empty)
	assert.Empty(t, out.Empty)
	assert.Equal(t, in.Inner.Blob, out.Inner.Blob)
	assert.Equal(t, "chunks", string(out.Inner.Bin.Bytes()))
	assert.Equal(t, []byte{4}, out.List[0].Blob)
	assert.Nil(t, out.List[1].Blob)
	assert.Equal(t, []byte("mapped"), out.ByKey["k"])
	require.NotNil(t, out.PtrBin)
	assert.Equal(t, "binary-value", string(out.PtrBin.Bytes()))
	list, ok := out.Any.([]any)
	require.True(t, ok)
	b0, ok := list[0].(Binary)
	require.True(t, ok, "a placeholder in an any becomes a Binary")
	assert.Equal(t, "in-any", string(b0.Bytes()))
	deep := list[1].(map[string]any)["deep"].(Binary)
	assert.Equal(t, "deeper", string(deep.Bytes()))
}

func TestUnmarshalBase64StillWorks(t *testing.T) {
	var v struct {
		B   []byte
		Bin Binary
		N   *Binary
	}
	p := Packet{JSON: []byte(`{"B":"aGVsbG8=","Bin":"d29ybGQ=","N":null}`)}
	require.NoError(t, Unmarshal(p, &v))
	assert.Equal(t, "hello", string(v.B))
	assert.Equal(t, "world", string(v.Bin.Bytes()))
	assert.Nil(t, v.N)
}

func TestUnmarshalBadPlaceholders(t *testing.T) {
	bins := []Binary{BytesBinary([]byte("x"))}
	for _, js := range []string{
		`{"B":{"$bin":1}}`,
		`{"B":{"$bin":-1}}`,
		`{"B":{"$bin":0.5}}`,
		`{"B":{"$bin":"0"}}`,
		`{"B":{"$bin":0,"x":1}}`,
		`{"B":{"other":0}}`,
		`{"B":{}}`,
		`{"A":{"$bin":5}}`,
		`{"A":[{"$bin":99999999999}]}`,
	} {
		var v struct {
			B []byte
			A any
		}
		err := Unmarshal(Packet{JSON: []byte(js), Bins: bins}, &v)
		require.Error(t, err, js)
		assert.True(t, errors.Is(err, ErrMissingBinary), "%s: %v", js, err)
	}
}

func TestAnyKeepsNonPlaceholderObjects(t *testing.T) {
	var v any
	p := Packet{JSON: []byte(`{"$bin":1,"x":[1,{"y":{"$bin":0}}],"z":{}}`), Bins: []Binary{BytesBinary([]byte("q"))}}
	require.NoError(t, Unmarshal(p, &v))
	m := v.(map[string]any)
	assert.Equal(t, float64(1), m["$bin"])
	assert.Equal(t, map[string]any{}, m["z"])
	y := m["x"].([]any)[1].(map[string]any)["y"].(Binary)
	assert.Equal(t, "q", string(y.Bytes()))
}

func TestEncodeDecodeBinariesInEnvelope(t *testing.T) {
	// A custom envelope, as package rpc builds it: bins numbered across
	// several Marshal calls with one list.
	var bins []Binary
	a, err := json.Marshal([]any{[]byte("one")}, EncodeBinaries(&bins))
	require.NoError(t, err)
	b, err := json.Marshal(map[string][]byte{"two": []byte("two")}, EncodeBinaries(&bins))
	require.NoError(t, err)
	assert.Equal(t, `[{"$bin":0}]`, string(a))
	assert.Equal(t, `{"two":{"$bin":1}}`, string(b))

	var got map[string][]byte
	require.NoError(t, json.Unmarshal(b, &got, DecodeBinaries(bins)))
	assert.True(t, bytes.Equal([]byte("two"), got["two"]))
}

func TestCodecReuse(t *testing.T) {
	c := NewCodec()
	for i := 0; i < 3; i++ {
		var bins []Binary
		js, err := json.Marshal(struct{ B []byte }{[]byte{byte(i)}}, c.EncodeOptions(&bins))
		require.NoError(t, err)
		assert.Equal(t, `{"B":{"$bin":0}}`, string(js))
		require.Len(t, bins, 1)
		var out struct{ B []byte }
		require.NoError(t, json.Unmarshal(js, &out, c.DecodeOptions(bins)))
		assert.Equal(t, []byte{byte(i)}, out.B)
	}
	_, ok := json.GetOption(c.EncodeOptions(new([]Binary)), json.WithMarshalers)
	assert.True(t, ok, "the options are a plain WithMarshalers")
	_, ok = json.GetOption(EncodeBinaries(new([]Binary)), json.WithMarshalers)
	assert.True(t, ok, "package rpc extracts the marshalers this way")
	_, ok = json.GetOption(DecodeBinaries(nil), json.WithUnmarshalers)
	assert.True(t, ok)
}
