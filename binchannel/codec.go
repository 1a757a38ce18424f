package binchannel

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// PlaceholderKey is the only member of a placeholder object: {"$bin":N}
// stands for binary N of the packet (0-based).
const PlaceholderKey = "$bin"

// Marshal encodes v as a packet: every []byte and Binary at any depth is
// taken out into Bins and replaced in the JSON skeleton by {"$bin":N}.
// A nil []byte encodes as JSON null and takes no binary; an empty non-nil
// one and every Binary (even an empty one) take a binary. Other named byte
// slice types keep the JSON library's default (base64 strings).
//
// The binaries are views of v's memory; nothing is copied.
func Marshal(v any) (Packet, error) {
	var bins []Binary
	e := encoderPool.Get().(*binEncoder)
	e.bins = &bins
	js, err := json.Marshal(v, e.opts)
	e.bins = nil
	encoderPool.Put(e)
	if err != nil {
		return Packet{}, err
	}
	return Packet{JSON: js, Bins: bins}, nil
}

// Codec is a reusable pair of EncodeBinaries/DecodeBinaries option sets.
// Building json options costs about as much as encoding a small value, and
// fresh marshalers start with cold per-type caches; a Codec keeps both, so
// code that encodes many envelopes (keep Codecs in a sync.Pool) pays once.
//
// A Codec is not safe for concurrent use. The options returned by
// EncodeOptions (DecodeOptions) stay bound to their bins only until the
// next EncodeOptions (DecodeOptions) call on the same Codec.
type Codec struct {
	enc binEncoder
	dec binDecoder
}

// NewCodec returns a Codec.
func NewCodec() *Codec {
	c := &Codec{}
	c.enc.opts = c.enc.options()
	c.dec.opts = c.dec.options()
	return c
}

// EncodeOptions is EncodeBinaries(bins) with reused marshalers.
func (c *Codec) EncodeOptions(bins *[]Binary) json.Options {
	c.enc.bins = bins
	return c.enc.opts
}

// DecodeOptions is DecodeBinaries(bins) with reused unmarshalers.
func (c *Codec) DecodeOptions(bins []Binary) json.Options {
	c.dec.bins = bins
	return c.dec.opts
}

// binEncoder and binDecoder hold the per-call state of the marshalers in a
// mutable field so that Marshal and Unmarshal can reuse them from a pool:
// building json options costs about as much as encoding a small value, and
// reused marshalers keep their per-type caches warm.
type binEncoder struct {
	bins *[]Binary
	opts json.Options
}

type binDecoder struct {
	bins []Binary
	opts json.Options
}

var (
	encoderPool = sync.Pool{New: func() any {
		e := &binEncoder{}
		e.opts = e.options()
		return e
	}}
	decoderPool = sync.Pool{New: func() any {
		d := &binDecoder{}
		d.opts = d.options()
		return d
	}}
)

// Unmarshal decodes p's skeleton into v, binding placeholders back to p's
// binaries: a []byte receives Binary.Bytes() (a view when the value is
// contiguous), a Binary receives the value as is, and an `any` receives a
// Binary. A []byte or Binary may also be given as a base64 JSON string or
// null, as plain JSON would. A placeholder that names a missing binary
// fails with an error wrapping ErrMissingBinary.
func Unmarshal(p Packet, v any) error {
	d := decoderPool.Get().(*binDecoder)
	d.bins = p.Bins
	err := json.Unmarshal(p.JSON, v, d.opts)
	d.bins = nil
	decoderPool.Put(d)
	return err
}

// EncodeBinaries returns json options that encode every []byte and Binary as
// a placeholder and append the value to *bins, numbering from len(*bins).
// Use it with json.Marshal or json.MarshalEncode to build a Packet's
// skeleton in a custom envelope.
func EncodeBinaries(bins *[]Binary) json.Options {
	e := &binEncoder{bins: bins}
	return e.options()
}

func (e *binEncoder) options() json.Options {
	return json.WithMarshalers(json.JoinMarshalers(
		json.MarshalToFunc(func(enc *jsontext.Encoder, b []byte) error {
			if b == nil {
				return enc.WriteToken(jsontext.Null)
			}
			return writePlaceholder(enc, e.bins, BytesBinary(b))
		}),
		json.MarshalToFunc(func(enc *jsontext.Encoder, b Binary) error {
			return writePlaceholder(enc, e.bins, b)
		}),
	))
}

// DecodeBinaries returns json options that bind placeholders to bins when
// decoding into []byte, Binary or any; see Unmarshal.
func DecodeBinaries(bins []Binary) json.Options {
	d := &binDecoder{bins: bins}
	return d.options()
}

func (d *binDecoder) options() json.Options {
	return json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(func(dec *jsontext.Decoder, b *[]byte) error {
			if dec.PeekKind() != '{' {
				return errors.ErrUnsupported // base64 string or null
			}
			v, err := readPlaceholder(dec, d.bins)
			if err != nil {
				return err
			}
			*b = v.Bytes()
			return nil
		}),
		json.UnmarshalFromFunc(func(dec *jsontext.Decoder, b *Binary) error {
			switch dec.PeekKind() {
			case '{':
				v, err := readPlaceholder(dec, d.bins)
				if err != nil {
					return err
				}
				*b = v
				return nil
			case 'n':
				if _, err := dec.ReadToken(); err != nil {
					return err
				}
				*b = Binary{}
				return nil
			case '"':
				var raw []byte
				if err := json.UnmarshalDecode(dec, &raw); err != nil {
					return err
				}
				*b = BytesBinary(raw)
				return nil
			}
			return fmt.Errorf("%w: want a placeholder, a base64 string or null", ErrMissingBinary)
		}),
		json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *any) error {
			if dec.PeekKind() != '{' {
				return errors.ErrUnsupported
			}
			return decodeAnyObject(dec, v, d.bins)
		}),
	))
}

// writePlaceholder appends b to *bins and writes its placeholder.
func writePlaceholder(enc *jsontext.Encoder, bins *[]Binary, b Binary) error {
	n := len(*bins)
	*bins = append(*bins, b)
	var buf [32]byte
	v := append(buf[:0], `{"$bin":`...)
	v = strconv.AppendInt(v, int64(n), 10)
	v = append(v, '}')
	return enc.WriteValue(v)
}

// readPlaceholder reads a {"$bin":N} object and returns bins[N].
func readPlaceholder(dec *jsontext.Decoder, bins []Binary) (Binary, error) {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return Binary{}, err
	}
	if dec.PeekKind() != '"' {
		return Binary{}, fmt.Errorf("%w: empty object where a binary was expected", ErrMissingBinary)
	}
	name, err := dec.ReadToken()
	if err != nil {
		return Binary{}, err
	}
	if name.String() != PlaceholderKey {
		return Binary{}, fmt.Errorf("%w: object member %q where a binary was expected", ErrMissingBinary, name.String())
	}
	raw, err := dec.ReadValue()
	if err != nil {
		return Binary{}, err
	}
	b, err := lookupBinary(raw, bins)
	if err != nil {
		return Binary{}, err
	}
	if dec.PeekKind() != '}' {
		return Binary{}, fmt.Errorf("%w: placeholder with extra members", ErrMissingBinary)
	}
	if _, err := dec.ReadToken(); err != nil {
		return Binary{}, err
	}
	return b, nil
}

// lookupBinary parses a placeholder's index and returns that binary.
func lookupBinary(raw jsontext.Value, bins []Binary) (Binary, error) {
	n, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return Binary{}, fmt.Errorf("%w: placeholder index %s", ErrMissingBinary, raw)
	}
	if n >= uint64(len(bins)) {
		return Binary{}, fmt.Errorf("%w: placeholder index %d, packet has %d", ErrMissingBinary, n, len(bins))
	}
	return bins[n], nil
}

// decodeAnyObject decodes an object into an `any`: a placeholder becomes a
// Binary, anything else a map[string]any whose values are decoded with the
// same options (so nested placeholders bind too).
func decodeAnyObject(dec *jsontext.Decoder, v *any, bins []Binary) error {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return err
	}
	m := map[string]any{}
	first := true
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		if first && name == PlaceholderKey && dec.PeekKind() == '0' {
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if dec.PeekKind() == '}' {
				b, err := lookupBinary(raw, bins)
				if err != nil {
					return err
				}
				if _, err := dec.ReadToken(); err != nil {
					return err
				}
				*v = b
				return nil
			}
			var num any
			if err := json.Unmarshal(raw, &num); err != nil {
				return err
			}
			m[name] = num
			first = false
			continue
		}
		first = false
		var val any
		if err := json.UnmarshalDecode(dec, &val); err != nil {
			return err
		}
		m[name] = val
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	*v = m
	return nil
}

// checkPlaceholders scans a received skeleton for placeholders in the form
// the encoder writes ({"$bin":N}, whitespace allowed) and reports one that
// names a binary the packet lacks. Unmarshal checks again, exactly, so a
// placeholder hidden by escapes is still caught there.
func checkPlaceholders(js []byte, nbins int) error {
	const key = `"$bin"`
	for i := 0; ; {
		k := indexOf(js[i:], key)
		if k < 0 {
			return nil
		}
		pos := i + k
		i = pos + len(key)
		j := pos - 1
		for j >= 0 && isSpace(js[j]) {
			j--
		}
		if j < 0 || js[j] != '{' {
			continue
		}
		q := skipSpace(js, i)
		if q >= len(js) || js[q] != ':' {
			continue
		}
		q = skipSpace(js, q+1)
		d := q
		for q < len(js) && js[q] >= '0' && js[q] <= '9' {
			q++
		}
		if q == d {
			continue
		}
		digits := js[d:q]
		q = skipSpace(js, q)
		if q >= len(js) || js[q] != '}' {
			continue
		}
		n, err := strconv.ParseUint(string(digits), 10, 32)
		if err != nil || n >= uint64(nbins) {
			return fmt.Errorf("%w: placeholder index %s, packet has %d", ErrMissingBinary, digits, nbins)
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
