package rpc

import (
	"encoding/base64"
	"reflect"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
)

var (
	binaryType = reflect.TypeFor[binchannel.Binary]()
	bytesType  = reflect.TypeFor[[]byte]()
)

// Binaries as base64 strings for JSON-only transports: []byte already is
// by default; Binary needs its own pair.
var (
	base64Marshalers = json.MarshalToFunc(func(enc *jsontext.Encoder, b binchannel.Binary) error {
		buf := make([]byte, 0, base64.StdEncoding.EncodedLen(int(b.Len()))+2)
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, b.Bytes())
		buf = append(buf, '"')
		return enc.WriteValue(buf)
	})
	base64Unmarshalers = json.UnmarshalFromFunc(func(dec *jsontext.Decoder, b *binchannel.Binary) error {
		var raw []byte
		if err := json.UnmarshalDecode(dec, &raw); err != nil {
			return err
		}
		*b = binchannel.BytesBinary(raw)
		return nil
	})
)

// encodeOptions returns the json options for encoding one message's values:
// ms joined with the transport's binary handling (raw parts appended to
// *bins over a binchannel, base64 strings over a JSON-only transport).
func (c *Conn) encodeOptions(bins *[]binchannel.Binary, ms []*json.Marshalers) []json.Options {
	if c.rawBins {
		if m, ok := json.GetOption(binchannel.EncodeBinaries(bins), json.WithMarshalers); ok {
			ms = append([]*json.Marshalers{m}, ms...)
		}
	} else {
		ms = append(ms, base64Marshalers)
	}
	return []json.Options{json.WithMarshalers(json.JoinMarshalers(ms...))}
}

// decodeOptions is the decoding counterpart of encodeOptions: placeholders
// bind to bins.
func (c *Conn) decodeOptions(bins []binchannel.Binary, us []*json.Unmarshalers) []json.Options {
	if c.rawBins {
		if u, ok := json.GetOption(binchannel.DecodeBinaries(bins), json.WithUnmarshalers); ok {
			us = append([]*json.Unmarshalers{u}, us...)
		}
	} else {
		us = append(us, base64Unmarshalers)
	}
	return []json.Options{json.WithUnmarshalers(json.JoinUnmarshalers(us...))}
}

// plainCache remembers, per type, whether values of it can hold anything
// the custom codecs handle (binaries, functions, interfaces that might).
var plainCache sync.Map // reflect.Type -> bool

// isPlain reports whether values of t never hold a []byte, Binary, func or
// interface, so they can be encoded and decoded without per-message
// options.
func isPlain(t reflect.Type) bool {
	if v, ok := plainCache.Load(t); ok {
		return v.(bool)
	}
	p := plainType(t, map[reflect.Type]bool{})
	plainCache.Store(t, p)
	return p
}

func plainType(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true // recursion: decided by the other members
	}
	seen[t] = true
	if t == binaryType {
		return false
	}
	if reflect.PointerTo(t).Implements(jsonMarshalerTo) || reflect.PointerTo(t).Implements(jsonUnmarshalerFrom) {
		return false // custom methods may re-enter the codec with options
	}
	switch t.Kind() {
	case reflect.Func, reflect.Interface:
		return false
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return t.Elem() != reflect.TypeFor[byte]() || t.Name() != "" // named byte slices stay base64
		}
		return plainType(t.Elem(), seen)
	case reflect.Array, reflect.Pointer:
		return plainType(t.Elem(), seen)
	case reflect.Map:
		return plainType(t.Key(), seen) && plainType(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !plainType(t.Field(i).Type, seen) {
				return false
			}
		}
	}
	return true
}

var (
	jsonMarshalerTo     = reflect.TypeFor[json.MarshalerTo]()
	jsonUnmarshalerFrom = reflect.TypeFor[json.UnmarshalerFrom]()
)
