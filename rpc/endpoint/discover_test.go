package endpoint

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerd/peerd/rpc"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metaSchemas maps the URLs under which the vendored meta-schemas
// (testdata/README.md) are referred to, to their files. The OpenRPC one
// refers to the JSON Schema one both with and without the final slash.
var metaSchemas = map[string]string{
	"https://meta.open-rpc.org/":      "openrpc-meta-schema.json",
	"https://meta.json-schema.tools/": "json-schema-tools-meta-schema.json",
	"https://meta.json-schema.tools":  "json-schema-tools-meta-schema.json",
}

// testdataLoader serves metaSchemas from testdata and refuses every other
// URL: nothing is loaded from the network.
type testdataLoader struct{}

func (testdataLoader) Load(url string) (any, error) {
	file, ok := metaSchemas[url]
	if !ok {
		return nil, fmt.Errorf("%s is not vendored in testdata", url)
	}
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m, ok := doc.(map[string]any); ok {
		// Both files name the json-schema-tools dialect, itself named by
		// its own $schema (a cycle a compiler refuses); it is draft-07
		// with titles, so they are compiled as draft-07.
		delete(m, "$schema")
	}
	return doc, nil
}

// openRPCSchema compiles the vendored OpenRPC meta-schema, with the JSON
// Schema meta-schema its content descriptors refer to, as draft-07.
func openRPCSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.UseLoader(testdataLoader{})
	s, err := c.Compile("https://meta.open-rpc.org/")
	require.NoError(t, err)
	return s
}

// validateOpenRPCDoc validates a raw OpenRPC document against the
// meta-schema, and checks what the schema leaves to prose: method names
// unique in the document, param names unique in a method.
func validateOpenRPCDoc(t *testing.T, s *jsonschema.Schema, raw []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	if err := s.Validate(inst); err != nil {
		t.Fatalf("rpc.discover document fails the OpenRPC meta-schema: %#v\n%s", err, raw)
	}
	doc := inst.(map[string]any)
	seen := map[string]bool{}
	for _, mv := range doc["methods"].([]any) {
		m := mv.(map[string]any)
		name := m["name"].(string)
		assert.False(t, seen[name], "duplicate method %s", name)
		seen[name] = true
		pnames := map[string]bool{}
		for _, pv := range m["params"].([]any) {
			pn := pv.(map[string]any)["name"].(string)
			assert.False(t, pnames[pn], "%s: duplicate param %s", name, pn)
			pnames[pn] = true
		}
	}
}

// Types of a realistic API: nested structs, pointers, slices, maps, times,
// binaries, tags that rename and hide members, an embedded struct.
type (
	discAddress struct {
		Street string  `json:"street"`
		City   string  `json:"city"`
		Zip    *string `json:"zip,omitempty"`
	}
	discAudit struct {
		CreatedBy string    `json:"createdBy"`
		CreatedAt time.Time `json:"createdAt"`
	}
	discCustomer struct {
		discAudit
		ID       uint64             `json:"id"`
		Name     string             `json:"name"`
		Active   bool               `json:"active"`
		Tags     []string           `json:"tags"`
		Home     discAddress        `json:"home"`
		Others   []*discAddress     `json:"others"`
		Scores   map[string]float64 `json:"scores"`
		Photo    []byte             `json:"photo"`
		Note     any                `json:"note"`
		Password string             `json:"-"`
		Untagged int8
	}
	discQuery struct {
		Prefix string        `json:"prefix"`
		Limit  int           `json:"limit"`
		Within time.Duration `json:"within"`
	}
)

// discService is registered as a namespace of methods.
type discService struct{}

func (discService) Count(ctx context.Context) (int, error)       { return 0, nil }
func (discService) Rename(old, new string) error                 { return nil }
func (discService) Lookup(ids []uint32) (map[uint32]bool, error) { return nil, nil }

// discoverRegistry is an API with params and results of every JSON type,
// methods that return errors, nested structs, variadic and callback params.
func discoverRegistry(t testing.TB) *rpc.Registry {
	t.Helper()
	reg := apiRegistry(t) // the spec's methods, binaries, a custom marshaler, a routed namespace
	must := func(name string, fn any, params ...string) {
		t.Helper()
		require.NoError(t, reg.Register(name, fn, params...))
	}
	must("customers.get", func(ctx context.Context, id uint64) (*discCustomer, error) { return nil, nil }, "id")
	must("customers.put", func(ctx context.Context, c discCustomer) error { return nil })
	must("customers.find", func(q discQuery) ([]discCustomer, error) { return nil, nil })
	must("customers.move", func(id uint64, to *discAddress, when time.Time) (discAddress, error) {
		return discAddress{}, nil
	}, "id", "to", "when")
	must("math.scale", func(x float64, factor int32, round bool) float32 { return 0 }, "x", "factor", "round")
	must("text.join", func(sep string, parts ...string) string { return "" }, "sep", "parts")
	must("stats.histogram", func(values map[string][]int) map[string]uint { return nil })
	must("blob.digest", func(b []byte) ([32]byte, error) { return [32]byte{}, nil }, "data")
	must("any.echo", func(v any) any { return v })
	must("each", func(ctx context.Context, n int, f func(context.Context, int) (string, error)) error { return nil }, "n", "visit")
	must("nothing", func() {})
	require.NoError(t, reg.RegisterService("svc", discService{}))
	return reg
}

// TestDiscoverMetaSchema validates the rpc.discover document of a realistic
// registry against the OpenRPC meta-schema on every carrier.
func TestDiscoverMetaSchema(t *testing.T) {
	noLeaks(t)
	schema := openRPCSchema(t)
	reg := discoverRegistry(t)
	f := startServer(t, reg, Options{RPC: rpc.Options{ServiceName: "shop", ServiceVersion: "2.1.0"}})
	for _, scheme := range []string{"http", "tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			c := dial(t, f.url(scheme), ClientOptions{})
			raw, err := c.CallRaw(testCtx(t), "rpc.discover", nil)
			require.NoError(t, err)
			validateOpenRPCDoc(t, schema, raw)

			var doc rpc.OpenRPC
			require.NoError(t, c.Call(testCtx(t), "rpc.discover", &doc))
			assert.Equal(t, rpc.OpenRPCVersion, doc.OpenRPC)
			assert.Equal(t, rpc.OpenRPCInfo{Title: "shop", Version: "2.1.0"}, doc.Info)
			var names []string
			byName := map[string]rpc.OpenRPCMethod{}
			for _, m := range doc.Methods {
				names = append(names, m.Name)
				byName[m.Name] = m
			}
			assert.Equal(t, reg.Names(), names, "every registered public method, sorted")

			// The nested struct is described member by member.
			get := byName["customers.get"]
			cust := get.Result.Schema
			assert.Equal(t, "object", cust["type"])
			props := cust["properties"].(map[string]any)
			for _, p := range []string{"id", "name", "active", "tags", "home", "others", "scores", "photo", "note", "createdBy", "createdAt", "Untagged"} {
				assert.Contains(t, props, p)
			}
			assert.NotContains(t, props, "Password")
			home := props["home"].(map[string]any)["properties"].(map[string]any)
			assert.Equal(t, map[string]any{"type": "string"}, home["city"])
		})
	}
}

// TestOpenRPCSchemaRejects: the compiled meta-schema is not vacuous; it
// refuses documents that break OpenRPC, including a param schema that is
// not a JSON Schema.
func TestOpenRPCSchemaRejects(t *testing.T) {
	noLeaks(t)
	schema := openRPCSchema(t)
	ok := `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[{"name":"a","schema":{"type":"integer"}}],"result":{"name":"result","schema":{"type":"null"}}}]}`
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(ok)))
	require.NoError(t, err)
	require.NoError(t, schema.Validate(inst))
	bad := map[string]string{
		"unknown version":      `{"openrpc":"9.9.9","info":{"title":"t","version":"1"},"methods":[]}`,
		"no info":              `{"openrpc":"1.2.6","methods":[]}`,
		"info without title":   `{"openrpc":"1.2.6","info":{"version":"1"},"methods":[]}`,
		"method without name":  `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"params":[],"result":{"name":"r","schema":{}}}]}`,
		"result without name":  `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[],"result":{"schema":{}}}]}`,
		"schema is a number":   `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[{"name":"a","schema":5}]}]}`,
		"param without schema": `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[{"name":"a"}],"result":{"name":"r","schema":{}}}]}`,
		"bad schema type":      `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[{"name":"a","schema":{"type":"int"}}],"result":{"name":"r","schema":{}}}]}`,
		"bad nested schema":    `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[],"result":{"name":"r","schema":{"type":"object","properties":{"x":{"minimum":"zero"}}}}}]}`,
		"bad paramStructure":   `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[],"result":{"name":"r","schema":{}},"paramStructure":"sideways"}]}`,
		"unknown member":       `{"openrpc":"1.2.6","info":{"title":"t","version":"1"},"methods":[],"extra":1}`,
	}
	for name, doc := range bad {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(doc)))
		require.NoError(t, err, name)
		assert.Error(t, schema.Validate(inst), name)
	}
}
