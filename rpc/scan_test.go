package rpc

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanCases are inputs for the fast path, each with whether it must take
// it (true) or leave it to the decoder (false).
var scanCases = []struct {
	in   string
	fast bool
}{
	{`{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}`, true},
	{`{ "jsonrpc" : "2.0" , "method" : "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3 }  ` + "\n", true},
	{`{"jsonrpc":"2.0","result":{"a":[1,-2.5e+3,true,false,null,"x\n\"y\""],"b":{}},"id":"k"}`, true},
	{`{"jsonrpc":"2.0","method":"héllo","params":["ünïcode ✓"]}`, true},
	{`{"jsonrpc":"2.0","method":"x","extra":[[[]]],"id":null}`, true},
	{`{}`, true},
	// Left to the decoder: valid but outside the fast path...
	{`{"jsonrpc":"2.0","method":"\u0061dd","id":1}`, false},
	{`{"jsonrpc":"2.0","method":"add","params":{"\n":1},"id":1}`, false},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17}`, false},
	{`{"params":` + deep(scanMaxDepth) + `}`, false},
	// ...and invalid.
	{`{"jsonrpc":"2.0","method":"a","method":"b"}`, false},
	{`{"params":{"a":1,"a":2}}`, false},
	{`{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`, false},
	{`{"id":01}`, false},
	{`{"id":1.}`, false},
	{`{"id":-}`, false},
	{`{"id":1e}`, false},
	{`{"id":tru}`, false},
	{`{"id":"a` + "\x01" + `"}`, false},
	{`{"id":"` + "\xff" + `"}`, false},
	{`{"id":"\x"}`, false},
	{`{"id":1,}`, false},
	{`{"id":[1,]}`, false},
	{`{"id":1} x`, false},
	{`{"id":1`, false},
	{`{"id" 1}`, false},
	{`{'id':1}`, false},
}

func deep(n int) string {
	return string(bytes.Repeat([]byte("["), n)) + string(bytes.Repeat([]byte("]"), n))
}

func TestScanMessage(t *testing.T) {
	for _, tc := range scanCases {
		w, ok := scanMessage([]byte(tc.in))
		assert.Equal(t, tc.fast, ok, "fast path taken for %q", tc.in)
		if !ok {
			continue
		}
		// The fast path's answer equals the decoder's.
		slow, err := parseEnvelopeSlow(nil, []byte(tc.in), 0)
		require.NoError(t, err, tc.in)
		assert.Equal(t, slow.Msgs, []Message{w.message()}, tc.in)
	}
}

// FuzzScanMessage holds the fast path to the decoder: whatever it accepts,
// the decoder accepts with the same result.
func FuzzScanMessage(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 || b[0] != '{' {
			return
		}
		w, ok := scanMessage(b)
		if !ok {
			return
		}
		slow, err := parseEnvelopeSlow(nil, b, 0)
		if err != nil {
			t.Fatalf("fast path accepted %q, decoder says %v", b, err)
		}
		if fast := []Message{w.message()}; !assert.ObjectsAreEqual(slow.Msgs, fast) {
			t.Fatalf("%q: fast %+v, decoder %+v", b, fast, slow.Msgs)
		}
	})
}

func TestSplitArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: left to the decoder
	}{
		{`[]`, []string{}},
		{` [ 1 , "a" ,[2,{"x":[]}], null ] `, []string{`1`, `"a"`, `[2,{"x":[]}]`, `null`}},
		{`[1,]`, nil},
		{`[1 2]`, nil},
		{`[1]x`, nil},
		{`["\u0041"]`, nil},
		{`{}`, nil},
	} {
		got, ok := splitArray([]byte(tc.in), nil)
		if tc.want == nil {
			assert.False(t, ok, tc.in)
			continue
		}
		require.True(t, ok, tc.in)
		strs := []string{}
		for _, g := range got {
			strs = append(strs, string(g))
		}
		assert.Equal(t, tc.want, strs, tc.in)
	}
}

// FuzzSplitArray holds splitArray to the decoder: an array it splits is
// valid JSON and its elements are the decoder's.
func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",[2,{"x":[]}],null]`, `[1,]`, `["\u0041"]`, `[{"a":1,"a":2}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		els, ok := splitArray(b, nil)
		if !ok {
			return
		}
		var want []jsontext.Value
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("split %q, decoder says %v", b, err)
		}
		require.Len(t, els, len(want))
		for i := range els {
			require.Equal(t, string(want[i]), string(els[i]))
		}
	})
}
