package rpc

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Registry maps method names to Methods. One Registry may serve many Conns
// (Options.Registry); each Conn also has a private one (Conn.Register).
//
// Names starting with "_" are private: Register refuses them, so they are
// never callable nor listed. Names starting with "rpc." are reserved for
// the protocol's extensions.
//
// A Registry is safe for concurrent use.
type Registry struct {
	// mu guards methods and router.
	mu      sync.RWMutex
	methods map[string]*Method
	router  func(name string) *Method
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{methods: make(map[string]*Method)}
}

// Register adapts fn (see NewMethod) and serves it under name, replacing
// any method of that name. paramNames optionally name the parameters.
func (r *Registry) Register(name string, fn any, paramNames ...string) error {
	m, err := NewMethod(fn, paramNames...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return r.RegisterMethod(name, m)
}

// RegisterMethod serves an adapted Method under name.
func (r *Registry) RegisterMethod(name string, m *Method) error {
	if !validName(name) {
		return fmt.Errorf("%w: name %q (empty, private \"_\" or reserved \"rpc.\")", ErrBadMethod, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.methods == nil {
		r.methods = make(map[string]*Method)
	}
	r.methods[name] = m
	return nil
}

// RegisterService registers every exported method of v that NewMethod
// accepts as namespace + "." + name, the name's first letter lowered
// ("files.list" for method List). Methods of other shapes are skipped. It
// fails when none qualifies.
func (r *Registry) RegisterService(namespace string, v any) error {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	n := 0
	for i := 0; i < rt.NumMethod(); i++ {
		mt := rt.Method(i)
		if !mt.IsExported() {
			continue
		}
		m, err := newMethodValue(rv.Method(i), nil)
		if err != nil {
			continue
		}
		name := lowerFirst(mt.Name)
		if namespace != "" {
			name = namespace + "." + name
		}
		if err := r.RegisterMethod(name, m); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%w: %T has no exported method usable by rpc", ErrBadMethod, v)
	}
	return nil
}

// Unregister removes name.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	delete(r.methods, name)
	r.mu.Unlock()
}

// SetRouter installs a routing hook consulted, at call time, for names not
// registered. It returns nil for unknown names (answered with -32601).
// Private and reserved names never reach it.
func (r *Registry) SetRouter(route func(name string) *Method) {
	r.mu.Lock()
	r.router = route
	r.mu.Unlock()
}

// Lookup returns the method served under name, or nil. Private ("_") and
// reserved ("rpc.") names always give nil.
func (r *Registry) Lookup(name string) *Method {
	if r == nil || !validName(name) {
		return nil
	}
	r.mu.RLock()
	m := r.methods[name]
	route := r.router
	r.mu.RUnlock()
	if m == nil && route != nil {
		m = route(name)
	}
	return m
}

// Names returns the registered names, sorted. Routed names are not listed.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	names := make([]string, 0, len(r.methods))
	for n := range r.methods {
		names = append(names, n)
	}
	r.mu.RUnlock()
	sort.Strings(names)
	return names
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	// Keep acronyms readable: "ID" -> "id", "URLFor" -> "urlFor".
	i := n
	for i < len(s) {
		r2, n2 := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsUpper(r2) {
			break
		}
		if i+n2 < len(s) {
			r3, _ := utf8.DecodeRuneInString(s[i+n2:])
			if unicode.IsLower(r3) {
				break
			}
		}
		i += n2
	}
	return strings.ToLower(string(r)+s[n:i]) + s[i:]
}
