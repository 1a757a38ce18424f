package rpc

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/peerd/peerd/binchannel"
)

// encoder encodes the values of one outgoing message, storing the functions
// it meets and collecting raw binaries. The state those need lives behind st,
// allocated on first use, so that a message of plain values costs no
// allocation for the encoder itself.
type encoder struct {
	c     *Conn
	scope uint64 // call the stored functions are scoped to (0: unscoped)
	st    *encState
}

type encState struct {
	bins  []binchannel.Binary
	cbs   []string // ids of the functions stored
	opts  []json.Options
	built bool
}

func (e *encoder) state() *encState {
	if e.st == nil {
		e.st = &encState{}
	}
	return e.st
}

// bins returns the binaries collected so far.
func (e *encoder) bins() []binchannel.Binary {
	if e.st == nil {
		return nil
	}
	return e.st.bins
}

// cbs returns the ids of the functions stored so far.
func (e *encoder) cbs() []string {
	if e.st == nil {
		return nil
	}
	return e.st.cbs
}

func (e *encoder) options() []json.Options {
	st := e.state()
	if st.built {
		return st.opts
	}
	st.built = true
	var ms []*json.Marshalers
	if e.c.opts.NestedFuncs {
		c, scope := e.c, e.scope
		ms = append(ms, json.MarshalToFunc(func(enc *jsontext.Encoder, v any) error {
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Func {
				return errors.ErrUnsupported
			}
			b, err := appendFunc(c, scope, st, nil, rv.Elem())
			if err != nil {
				return err
			}
			return enc.WriteValue(b)
		}))
	}
	st.opts = e.c.encodeOptions(&st.bins, ms)
	return st.opts
}

// appendFunc stores fn and writes its placeholder (null for a nil func).
func (e *encoder) appendFunc(dst []byte, fn reflect.Value) ([]byte, error) {
	return appendFunc(e.c, e.scope, e.state(), dst, fn)
}

func appendFunc(c *Conn, scope uint64, st *encState, dst []byte, fn reflect.Value) ([]byte, error) {
	if fn.IsNil() {
		return append(dst, "null"...), nil
	}
	id, err := c.storeCallback(fn, scope)
	if err != nil {
		return dst, err
	}
	st.cbs = append(st.cbs, id)
	return appendPlaceholder(dst, id), nil
}

// appendValue appends v's JSON form.
func (e *encoder) appendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case *Func:
		return dst, fmt.Errorf("rpc: a *Func handle cannot be sent; call it instead")
	case jsontext.Value:
		if !x.IsValid() {
			return dst, fmt.Errorf("rpc: invalid raw JSON value")
		}
		return append(dst, x...), nil
	}
	if out, ok := appendScalar(dst, v); ok {
		return out, nil
	}
	if out, ok := e.appendBinary(dst, v); ok {
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Func {
		return e.appendFunc(dst, rv)
	}
	var opts []json.Options
	if !isPlain(rv.Type()) {
		opts = e.options()
	}
	b, err := json.Marshal(v, opts...)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendArgs appends the positional params array [prefix?, args...].
func (e *encoder) appendArgs(dst []byte, prefix string, args []any) ([]byte, error) {
	dst = append(dst, '[')
	if prefix != "" {
		dst = appendString(dst, prefix)
	}
	var err error
	for i, a := range args {
		if i > 0 || prefix != "" {
			dst = append(dst, ',')
		}
		if dst, err = e.appendValue(dst, a); err != nil {
			return dst, fmt.Errorf("rpc: argument %d: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}

// appendNamed appends a named params object: the members of a
// map[string]any one by one (sorted by name) as arguments, anything else
// whole; it must encode as a JSON object.
func (e *encoder) appendNamed(dst []byte, params any) ([]byte, error) {
	if m, ok := params.(map[string]any); ok {
		names := slices.Sorted(maps.Keys(m))
		dst = append(dst, '{')
		var err error
		for i, name := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, name)
			dst = append(dst, ':')
			if dst, err = e.appendValue(dst, m[name]); err != nil {
				return dst, fmt.Errorf("rpc: named param %q: %w", name, err)
			}
		}
		return append(dst, '}'), nil
	}
	start := len(dst)
	dst, err := e.appendValue(dst, params)
	if err != nil {
		return dst, fmt.Errorf("rpc: named params: %w", err)
	}
	if jsontext.Value(dst[start:]).Kind() != '{' {
		return dst, fmt.Errorf("rpc: named params must encode as a JSON object, got %T", params)
	}
	return dst, nil
}

// decoder decodes the values of one incoming message, turning function
// placeholders into handles and binary placeholders into values.
type decoder struct {
	c     *Conn
	bins  []binchannel.Binary
	scope *reqScope // handles made here are released with it (nil: kept)
	opts  []json.Options
	built bool
}

func (d *decoder) options() []json.Options {
	if d.built {
		return d.opts
	}
	d.built = true
	var us []*json.Unmarshalers
	if d.c.opts.NestedFuncs {
		c, scope := d.c, d.scope // not d: it stays on the caller's stack
		us = append(us, json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v any) error {
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Pointer {
				return errors.ErrUnsupported
			}
			et := rv.Type().Elem()
			if et.Kind() != reflect.Func && et != funcPtrTy {
				return errors.ErrUnsupported
			}
			raw, err := dec.ReadValue()
			if err != nil {
				return err
			}
			return decodeFunc(c, scope, raw, rv)
		}))
	}
	d.opts = d.c.decodeOptions(d.bins, us)
	return d.opts
}

// isFuncTarget reports whether values of t are decoded as function handles.
func isFuncTarget(t reflect.Type) bool { return t.Kind() == reflect.Func || t == funcPtrTy }

// decodeFunc reads a placeholder into ptr, which points at a func or *Func.
func (d *decoder) decodeFunc(raw jsontext.Value, ptr reflect.Value) error {
	return decodeFunc(d.c, d.scope, raw, ptr)
}

func decodeFunc(c *Conn, scope *reqScope, raw jsontext.Value, ptr reflect.Value) error {
	if isNull(raw) {
		ptr.Elem().SetZero()
		return nil
	}
	id, ok := parsePlaceholder(raw)
	if !ok {
		return fmt.Errorf(`want a function placeholder {"$fn":"<id>"}, got %.40s`, raw)
	}
	h, err := c.newHandle(id, scope)
	if err != nil {
		return err
	}
	if ptr.Elem().Type() == funcPtrTy {
		ptr.Elem().Set(reflect.ValueOf(h))
	} else {
		ptr.Elem().Set(makeStub(h, ptr.Elem().Type()))
	}
	return nil
}

// unmarshal decodes raw into ptr (a non-nil pointer).
func (d *decoder) unmarshal(raw jsontext.Value, ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("rpc: result must be a non-nil pointer, got %T", ptr)
	}
	if isFuncTarget(rv.Type().Elem()) {
		return d.decodeFunc(raw, rv)
	}
	if v, ok := ptr.(*jsontext.Value); ok {
		*v = append((*v)[:0], raw...)
		return nil
	}
	if decodeScalar(raw, ptr) || d.decodeBinary(raw, ptr) {
		return nil
	}
	if isPlain(rv.Type()) {
		return json.Unmarshal(raw, ptr)
	}
	return json.Unmarshal(raw, ptr, d.options()...)
}

// decodeNext decodes the next value of dec into ptr.
func (d *decoder) decodeNext(dec *jsontext.Decoder, ptr reflect.Value) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return d.decodeRaw(raw, ptr)
}

// decodeRaw decodes one parameter value into ptr.
func (d *decoder) decodeRaw(raw jsontext.Value, ptr reflect.Value) error {
	if isFuncTarget(ptr.Type().Elem()) {
		return d.decodeFunc(raw, ptr)
	}
	switch raw.Kind() {
	case '0', '"', 't', 'f':
		if decodeScalar(raw, ptr.Interface()) {
			return nil
		}
	case '{':
		if t := ptr.Type().Elem(); d.c.rawBins && (t == binaryType || t == bytesType) {
			if d.decodeBinary(raw, ptr.Interface()) {
				return nil
			}
		}
	}
	if isPlain(ptr.Type()) {
		return json.Unmarshal(raw, ptr.Interface())
	}
	return json.Unmarshal(raw, ptr.Interface(), d.options()...)
}

// args decodes params for m, skipping the first skip positional elements.
// Errors are *Error values with CodeInvalidParams.
func (d *decoder) args(m *Method, params jsontext.Value, skip int) ([]reflect.Value, error) {
	// all leaves room for the handler's context in front, so that the
	// call needs no second slice.
	lead := 0
	if m.hasCtx {
		lead = 1
	}
	all := make([]reflect.Value, lead+len(m.params))
	out := all[lead:]
	if len(out) > 0 {
		// One allocation holds every parameter.
		holder := reflect.New(m.argsType).Elem()
		for i := range out {
			out[i] = holder.Field(i)
		}
	}
	switch params.Kind() {
	case 0, 'n':
		if m.defaults != nil {
			if err := d.fillDefaults(m, out, 0, nil); err != nil {
				return nil, err
			}
		}
		return all, nil
	case '{':
		if skip > 0 {
			return nil, ErrInvalidParams.withMessage("Invalid params: want an array")
		}
		if m.objParam {
			if err := d.unmarshal(params, out[0].Addr().Interface()); err != nil {
				return nil, invalidParams(err)
			}
			return all, nil
		}
		if err := d.named(m, params, out); err != nil {
			return nil, err
		}
		return all, nil
	}
	if !m.variadic {
		// The usual case: the envelope is already validated, so the
		// elements are found with the scanner and decoded one by one.
		var buf [8][]byte
		if els, ok := splitArray(params, buf[:0]); ok && skip <= len(els) {
			els = els[skip:]
			if len(els) > len(m.params) {
				return nil, ErrInvalidParams.withMessage(fmt.Sprintf("Invalid params: at most %d expected", len(m.params)))
			}
			for i, raw := range els {
				if err := d.decodeRaw(raw, out[i].Addr()); err != nil {
					return nil, invalidParams(fmt.Errorf("%s: %w", m.names[i], err))
				}
			}
			if m.defaults != nil && len(els) < len(out) {
				if err := d.fillDefaults(m, out, len(els), nil); err != nil {
					return nil, err
				}
			}
			return all, nil
		}
	}
	p := getParser(params)
	defer p.release()
	dec := p.dec
	if _, err := dec.ReadToken(); err != nil {
		return nil, invalidParams(err)
	}
	for ; skip > 0; skip-- {
		if err := dec.SkipValue(); err != nil {
			return nil, invalidParams(err)
		}
	}
	var extra reflect.Value // variadic tail
	i := 0
	for ; dec.PeekKind() != ']'; i++ {
		switch {
		case m.variadic && i >= len(m.params)-1:
			st := m.params[len(m.params)-1]
			if !extra.IsValid() {
				extra = reflect.MakeSlice(st, 0, 4)
			}
			p := reflect.New(st.Elem())
			if err := d.decodeNext(dec, p); err != nil {
				return nil, invalidParams(fmt.Errorf("%s: %w", m.names[len(m.names)-1], err))
			}
			extra = reflect.Append(extra, p.Elem())
		case i >= len(m.params):
			return nil, ErrInvalidParams.withMessage(fmt.Sprintf("Invalid params: at most %d expected", len(m.params)))
		default:
			if err := d.decodeNext(dec, out[i].Addr()); err != nil {
				return nil, invalidParams(fmt.Errorf("%s: %w", m.names[i], err))
			}
		}
	}
	if extra.IsValid() {
		out[len(out)-1] = extra
	}
	if m.defaults != nil && i < len(out) {
		if err := d.fillDefaults(m, out, i, nil); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// fillDefaults decodes the declared defaults (see Method.WithDefaults) into
// the params from index from on that were not given (given[i] set; nil:
// none was).
func (d *decoder) fillDefaults(m *Method, out []reflect.Value, from int, given []bool) error {
	for i := from; i < len(out); i++ {
		if m.defaults[i] == nil || (given != nil && given[i]) {
			continue
		}
		if err := d.decodeRaw(m.defaults[i], out[i].Addr()); err != nil {
			return invalidParams(fmt.Errorf("%s: default: %w", m.names[i], err))
		}
	}
	return nil
}

// named decodes an object of named params.
func (d *decoder) named(m *Method, params jsontext.Value, out []reflect.Value) error {
	p := getParser(params)
	defer p.release()
	dec := p.dec
	if _, err := dec.ReadToken(); err != nil {
		return invalidParams(err)
	}
	var given []bool // which params were given, when defaults may fill others
	if m.defaults != nil {
		given = make([]bool, len(m.params))
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return invalidParams(err)
		}
		name := tok.String()
		i := -1
		for j, n := range m.names {
			if n == name {
				i = j
				break
			}
		}
		if i < 0 {
			return ErrInvalidParams.withMessage(fmt.Sprintf("Invalid params: unknown parameter %.64q", name))
		}
		if err := d.decodeNext(dec, out[i].Addr()); err != nil {
			return invalidParams(fmt.Errorf("%s: %w", name, err))
		}
		if given != nil {
			given[i] = true
		}
	}
	if given != nil {
		return d.fillDefaults(m, out, 0, given)
	}
	return nil
}

func invalidParams(err error) *Error {
	return ErrInvalidParams.withMessage("Invalid params: " + err.Error())
}
