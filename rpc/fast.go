package rpc

import (
	"reflect"
	"strconv"

	"github.com/peerd/peerd/binchannel"

	"github.com/go-json-experiment/json/jsontext"
)

// appendScalar appends the JSON form of common scalar values without the
// reflection-based encoder; ok is false for other types. The output is
// byte-identical to json.Marshal's.
func appendScalar(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case string:
		out, err := jsontext.AppendQuote(dst, x)
		return out, err == nil
	}
	return dst, false
}

// decodeScalar decodes raw into common scalar pointer types without the
// reflection-based decoder; ok is false when it did not handle the pair
// (the caller then uses json.Unmarshal, which also reports the errors).
func decodeScalar(raw []byte, ptr any) bool {
	switch p := ptr.(type) {
	case *int:
		n, err := strconv.ParseInt(string(raw), 10, strconv.IntSize)
		if err != nil {
			return false
		}
		*p = int(n)
	case *int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return false
		}
		*p = n
	case *uint64:
		n, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return false
		}
		*p = n
	case *bool:
		switch string(raw) {
		case "true":
			*p = true
		case "false":
			*p = false
		default:
			return false
		}
	case *string:
		// Only strings without escapes; the rest go through the decoder.
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return false
		}
		for _, c := range raw[1 : len(raw)-1] {
			if c < 0x20 || c == '\\' || c == '"' || c >= 0x80 {
				return false
			}
		}
		*p = string(raw[1 : len(raw)-1])
	default:
		return false
	}
	return true
}

// appendBinary writes a top-level []byte or Binary as a placeholder when
// binaries travel raw, without the json machinery; ok is false otherwise.
// The output matches binchannel.EncodeBinaries.
func (e *encoder) appendBinary(dst []byte, v any) ([]byte, bool) {
	if !e.c.rawBins {
		return dst, false
	}
	var b binchannel.Binary
	switch x := v.(type) {
	case []byte:
		if x == nil {
			return append(dst, "null"...), true
		}
		b = binchannel.BytesBinary(x)
	case binchannel.Binary:
		b = x
	default:
		return dst, false
	}
	st := e.state()
	dst = append(dst, `{"$bin":`...)
	dst = strconv.AppendInt(dst, int64(len(st.bins)), 10)
	st.bins = append(st.bins, b)
	return append(dst, '}'), true
}

// decodeBinary binds a top-level {"$bin":N} placeholder to *[]byte or
// *binchannel.Binary; ok is false when raw is not exactly such a
// placeholder or ptr another type (the json path then decides).
func (d *decoder) decodeBinary(raw []byte, ptr any) bool {
	const prefix = `{"$bin":`
	if !d.c.rawBins || len(raw) < len(prefix)+2 || string(raw[:len(prefix)]) != prefix || raw[len(raw)-1] != '}' {
		return false
	}
	n, err := strconv.ParseUint(string(raw[len(prefix):len(raw)-1]), 10, 32)
	if err != nil || n >= uint64(len(d.bins)) {
		return false
	}
	switch p := ptr.(type) {
	case *[]byte:
		*p = d.bins[n].Bytes()
	case *binchannel.Binary:
		*p = d.bins[n]
	default:
		return false
	}
	return true
}

// Result types encoded straight from the reflect.Value, without boxing.
var (
	intType    = reflect.TypeFor[int]()
	int64Type  = reflect.TypeFor[int64]()
	uintType   = reflect.TypeFor[uint]()
	uint64Type = reflect.TypeFor[uint64]()
	boolType   = reflect.TypeFor[bool]()
	stringType = reflect.TypeFor[string]()
)

// appendResult appends a handler's result (invalid: none, null).
func (e *encoder) appendResult(dst []byte, rv reflect.Value) ([]byte, error) {
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	switch rv.Type() {
	case intType, int64Type:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case uintType, uint64Type:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case boolType:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case stringType:
		if out, err := jsontext.AppendQuote(dst, rv.String()); err == nil {
			return out, nil
		}
	}
	return e.appendValue(dst, rv.Interface())
}
