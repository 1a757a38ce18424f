package rpc

import (
	"context"
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var (
	ctxType   = reflect.TypeFor[context.Context]()
	errType   = reflect.TypeFor[error]()
	funcPtrTy = reflect.TypeFor[*Func]()
)

// Method is a Go function adapted for calls by reflection. NewMethod builds
// one; Registry.Register does it for you. A Method is immutable and safe for
// concurrent use.
type Method struct {
	fn       reflect.Value
	hasCtx   bool
	params   []reflect.Type // without the context
	names    []string       // param names, len(params)
	hasErr   bool
	result   reflect.Type // nil when the function returns no value
	objParam bool         // single struct param filled from named params
	variadic bool
	argsType reflect.Type // struct with one field per param: one allocation per call
	raw      RawHandler   // set by NewRawMethod: params are passed undecoded
	// defaults holds, per param, the JSON of its declared default (nil:
	// none); nil when the method declares none (see WithDefaults).
	defaults []jsontext.Value
}

// RawHandler serves a method with its params undecoded: params is the
// request's params member exactly as received (a JSON array, a JSON object,
// or nil when the request had none). The handler must not modify params;
// it may keep it. The returned value is sent as the result as is (nil sends
// null) and must be valid JSON; an error is answered as a handler error is.
//
// Binary values in params, when the Conn runs over a binchannel, appear as
// their {"$bin":N} placeholders and are not reachable from a RawHandler.
type RawHandler func(ctx context.Context, params jsontext.Value) (jsontext.Value, error)

var rawValueType = reflect.TypeFor[jsontext.Value]()

// NewRawMethod adapts fn, which receives the params undecoded: array,
// object or nil exactly as sent (see RawHandler). Use it to forward calls
// whose shape the server does not know, for instance to relay named params.
// It panics if fn is nil, as a programming error.
func NewRawMethod(fn RawHandler) *Method {
	if fn == nil {
		panic("rpc: NewRawMethod with a nil func")
	}
	return &Method{
		fn:     reflect.ValueOf(fn),
		hasCtx: true,
		hasErr: true,
		result: rawValueType,
		raw:    fn,
	}
}

// NewMethod adapts fn, which must be a func whose parameters are an optional
// leading context.Context followed by JSON-decodable values, and whose
// results are at most one JSON-encodable value followed by an optional
// error. paramNames name the parameters (without the context) for named
// params and rpc.discover; missing names default to arg0, arg1, ...
//
// A func registered without paramNames whose only parameter is a struct
// (not one with its own JSON or text form, such as time.Time, nor a
// binchannel.Binary) takes the struct's fields as its named params.
//
// A func-typed parameter (or *Func) receives a function passed by the
// caller; see Func.
func NewMethod(fn any, paramNames ...string) (*Method, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("%w: %T is not a non-nil func", ErrBadMethod, fn)
	}
	return newMethodValue(v, paramNames)
}

// methodCache caches the analysis of callback function types.
var methodCache sync.Map // reflect.Type -> *Method (fn unset)

func newMethodValue(v reflect.Value, paramNames []string) (*Method, error) {
	t := v.Type()
	if len(paramNames) == 0 {
		if c, ok := methodCache.Load(t); ok {
			m := *c.(*Method)
			m.fn = v
			return &m, nil
		}
	}
	m := &Method{fn: v, variadic: t.IsVariadic()}
	in := 0
	if t.NumIn() > 0 && t.In(0) == ctxType {
		m.hasCtx = true
		in = 1
	}
	for i := in; i < t.NumIn(); i++ {
		pt := t.In(i)
		if pt == ctxType {
			return nil, fmt.Errorf("%w: context.Context must be the first parameter", ErrBadMethod)
		}
		if pt.Kind() == reflect.Chan || pt.Kind() == reflect.UnsafePointer {
			return nil, fmt.Errorf("%w: parameter %d of type %v cannot be decoded", ErrBadMethod, i, pt)
		}
		m.params = append(m.params, pt)
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errType {
			m.hasErr = true
		} else {
			m.result = t.Out(0)
		}
	case 2:
		if t.Out(1) != errType {
			return nil, fmt.Errorf("%w: second result must be error, got %v", ErrBadMethod, t.Out(1))
		}
		m.result, m.hasErr = t.Out(0), true
	default:
		return nil, fmt.Errorf("%w: at most one result plus an error, got %d results", ErrBadMethod, t.NumOut())
	}
	fields := make([]reflect.StructField, len(m.params))
	for i, p := range m.params {
		fields[i] = reflect.StructField{Name: fmt.Sprintf("A%d", i), Type: p}
	}
	m.argsType = reflect.StructOf(fields)
	if len(paramNames) > len(m.params) {
		return nil, fmt.Errorf("%w: %d names for %d parameters", ErrBadMethod, len(paramNames), len(m.params))
	}
	m.names = make([]string, len(m.params))
	for i := range m.params {
		if i < len(paramNames) && paramNames[i] != "" {
			m.names[i] = paramNames[i]
		} else {
			m.names[i] = fmt.Sprintf("arg%d", i)
		}
	}
	if len(paramNames) == 0 && len(m.params) == 1 && !m.variadic {
		m.objParam = fieldsAsParams(m.params[0])
	}
	if len(paramNames) == 0 {
		c := *m
		c.fn = reflect.Value{}
		methodCache.Store(t, &c)
	}
	return m, nil
}

// fieldsAsParams reports whether a method whose only parameter is of type t
// takes t's fields as its named params: t is a struct, or a pointer to one,
// that the json encoding treats as an object of its fields. A type with its
// own JSON or text form (time.Time, a type with UnmarshalJSON, ...), a
// binary or a function handle is one value instead, so named params name
// it (arg0).
func fieldsAsParams(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == funcPtrTy.Elem() || t == binaryType {
		return false
	}
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		for _, i := range ownFormInterfaces {
			if x.Implements(i) {
				return false
			}
		}
	}
	return true
}

// ownFormInterfaces are the interfaces through which a type chooses its own
// JSON form, in encoding/json, go-json-experiment/json and encoding.
var ownFormInterfaces = []reflect.Type{
	reflect.TypeFor[json.Marshaler](), // the same method set as encoding/json's
	reflect.TypeFor[json.Unmarshaler](),
	reflect.TypeFor[json.MarshalerTo](),
	reflect.TypeFor[json.UnmarshalerFrom](),
	reflect.TypeFor[encoding.TextMarshaler](),
	reflect.TypeFor[encoding.TextUnmarshaler](),
	reflect.TypeFor[encoding.TextAppender](),
}

// WithDefaults returns a copy of m in which the named parameters take the
// given default values when a call leaves them out: a missing named param
// (a member that is present, even null, is not missing), a missing trailing
// positional param, or params left out altogether. Each
// value is encoded to JSON now (a jsontext.Value is taken as is) and decoded
// afresh into the parameter for every call that needs it, so a call never
// shares a default slice or map with another. rpc.discover shows the
// defaults as the "default" of the params' schemas.
//
// It fails for a name m has no parameter of, a value that does not decode
// into its parameter's type, a function parameter, the variadic one, and a
// raw method.
func (m *Method) WithDefaults(defaults map[string]any) (*Method, error) {
	if m.raw != nil {
		return nil, fmt.Errorf("%w: a raw method takes its params undecoded and has no defaults", ErrBadMethod)
	}
	c := *m
	c.defaults = make([]jsontext.Value, len(m.params))
	copy(c.defaults, m.defaults)
	for name, v := range defaults {
		i := slices.Index(m.names, name)
		if i < 0 {
			return nil, fmt.Errorf("%w: default for %q, which is not a parameter (%s)", ErrBadMethod, name, strings.Join(m.names, ", "))
		}
		pt := m.params[i]
		switch {
		case m.variadic && i == len(m.params)-1:
			return nil, fmt.Errorf("%w: default for %q: the variadic parameter has none", ErrBadMethod, name)
		case isFuncTarget(pt):
			return nil, fmt.Errorf("%w: default for %q: a function parameter has none", ErrBadMethod, name)
		}
		raw, err := encodeDefault(v)
		if err != nil {
			return nil, fmt.Errorf("%w: default for %q: %w", ErrBadMethod, name, err)
		}
		if err := json.Unmarshal(raw, reflect.New(pt).Interface(), json.WithUnmarshalers(base64Unmarshalers)); err != nil {
			return nil, fmt.Errorf("%w: default for %q does not fit %v: %w", ErrBadMethod, name, pt, err)
		}
		c.defaults[i] = raw
	}
	return &c, nil
}

// encodeDefault encodes a default value as JSON, binaries as base64 (which
// every carrier accepts for a binary).
func encodeDefault(v any) (jsontext.Value, error) {
	if raw, ok := v.(jsontext.Value); ok {
		if !raw.IsValid() {
			return nil, fmt.Errorf("invalid JSON %.40q", raw)
		}
		return slices.Clone(raw), nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Func {
		return nil, fmt.Errorf("a function cannot be a default")
	}
	b, err := json.Marshal(v, json.WithMarshalers(base64Marshalers))
	return jsontext.Value(b), err
}

// ParamNames returns the parameter names (without the context).
func (m *Method) ParamNames() []string { return append([]string(nil), m.names...) }

// validName reports whether name may be registered: non-empty, valid UTF-8
// not starting with "_" and not in the reserved "rpc." namespace.
func validName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, "rpc.") &&
		strings.ToValidUTF8(name, "") == name
}
