package rpc

import (
	"encoding"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// OpenRPCVersion is the OpenRPC specification version rpc.discover
// documents follow.
const OpenRPCVersion = "1.2.6"

// OpenRPC is the document rpc.discover returns: the public methods with their
// parameter names and JSON Schemas derived from the Go types.
type OpenRPC struct {
	OpenRPC string          `json:"openrpc"`
	Info    OpenRPCInfo     `json:"info"`
	Methods []OpenRPCMethod `json:"methods"`
}

// OpenRPCInfo is the info object of an OpenRPC document.
type OpenRPCInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// OpenRPCMethod describes one method.
type OpenRPCMethod struct {
	Name           string              `json:"name"`
	Params         []ContentDescriptor `json:"params"`
	Result         ContentDescriptor   `json:"result"`
	ParamStructure string              `json:"paramStructure"`
}

// ContentDescriptor names a parameter or result and gives its schema.
type ContentDescriptor struct {
	Name   string         `json:"name"`
	Schema map[string]any `json:"schema"`
}

// Discover builds the OpenRPC document of the methods this Conn serves: its
// own and its shared Registry's, sorted by name. Routed, private and rpc.
// methods are not listed.
func (c *Conn) Discover() OpenRPC {
	doc := OpenRPC{
		OpenRPC: OpenRPCVersion,
		Info:    OpenRPCInfo{Title: c.opts.ServiceName, Version: c.opts.ServiceVersion},
		Methods: []OpenRPCMethod{},
	}
	if doc.Info.Title == "" {
		doc.Info.Title = "peerd"
	}
	if doc.Info.Version == "" {
		doc.Info.Version = "0.0.0"
	}
	seen := map[string]bool{}
	for _, r := range []*Registry{c.local, c.opts.Registry} {
		for _, name := range r.Names() {
			if seen[name] {
				continue
			}
			seen[name] = true
			if m := r.Lookup(name); m != nil {
				doc.Methods = append(doc.Methods, c.describe(name, m))
			}
		}
	}
	sort.Slice(doc.Methods, func(i, j int) bool { return doc.Methods[i].Name < doc.Methods[j].Name })
	return doc
}

func (c *Conn) describe(name string, m *Method) OpenRPCMethod {
	om := OpenRPCMethod{Name: name, Params: []ContentDescriptor{}, ParamStructure: "either"}
	if m.objParam {
		om.ParamStructure = "by-position"
		// Named params fill the struct's fields; describe them as one
		// object parameter by position, which is also accepted.
	}
	for i, p := range m.params {
		s := c.schema(p, 0)
		if m.variadic && i == len(m.params)-1 {
			// The remaining positional params, each of the element type.
			om.ParamStructure = "by-position"
			s = c.schema(p.Elem(), 0)
		}
		if m.defaults != nil && m.defaults[i] != nil {
			s["default"] = m.defaults[i]
		}
		om.Params = append(om.Params, ContentDescriptor{Name: m.names[i], Schema: s})
	}
	om.Result = ContentDescriptor{Name: "result", Schema: map[string]any{"type": "null"}}
	if m.result != nil {
		om.Result.Schema = c.schema(m.result, 0)
	}
	return om
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	durationType        = reflect.TypeFor[time.Duration]()
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

const maxSchemaDepth = 8

// schema derives a JSON Schema for values of t as this Conn encodes them.
func (c *Conn) schema(t reflect.Type, depth int) map[string]any {
	if depth > maxSchemaDepth {
		return map[string]any{}
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == durationType:
		return map[string]any{"type": "string"}
	case t == binaryType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t.Name() == "" && t.Elem() == reflect.TypeFor[byte]()):
		if c.rawBins {
			return map[string]any{"type": "object", "required": []string{"$bin"},
				"properties": map[string]any{"$bin": map[string]any{"type": "integer", "minimum": 0}}}
		}
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case t.Kind() == reflect.Func || t == funcPtrTy:
		return map[string]any{"type": "object", "required": []string{"$fn"},
			"properties": map[string]any{"$fn": map[string]any{"type": "string"}}}
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonMarshalerType) || pt.Implements(jsonMarshalerTo) ||
		pt.Implements(jsonUnmarshalerType) || pt.Implements(jsonUnmarshalerFrom) {
		return map[string]any{}
	}
	if pt.Implements(textMarshalerType) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Pointer:
		return c.schema(t.Elem(), depth+1)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": c.schema(t.Elem(), depth+1)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": c.schema(t.Elem(), depth+1),
			"minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": c.schema(t.Elem(), depth+1)}
	case reflect.Struct:
		props := map[string]any{}
		c.structProps(t, props, depth)
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// structProps adds the JSON members of struct t to props, following the
// json tag names, "-" and embedded structs.
func (c *Conn) structProps(t reflect.Type, props map[string]any, depth int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				c.structProps(ft, props, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = c.schema(f.Type, depth+1)
	}
}

// discoverMethod serves rpc.discover. The document is encoded with sorted
// map keys so that it is byte-stable.
func (c *Conn) discoverMethod() *Method {
	m, _ := NewMethod(func() (jsontext.Value, error) {
		return json.Marshal(c.Discover(), json.Deterministic(true))
	})
	return m
}
