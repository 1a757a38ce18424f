package browser

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// Names of the embedded files, as served by Handler.
const (
	ScriptName = "peerd.js"
	TypesName  = "peerd.d.ts"
)

// Content types Handler sends.
const (
	ScriptType = "text/javascript; charset=utf-8"
	TypesType  = "application/typescript; charset=utf-8"
)

//go:embed peerd.js peerd.d.ts
var files embed.FS

// FS returns the embedded client files: peerd.js and peerd.d.ts at its
// root.
func FS() fs.FS { return files }

// Script returns the client module's source.
func Script() []byte { return mustRead(ScriptName) }

// Types returns the TypeScript declarations of the client module.
func Types() []byte { return mustRead(TypesName) }

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		// The files are embedded at build time: a failure is a build bug.
		panic("browser: embedded " + name + " missing: " + err.Error())
	}
	return b
}

// asset is one embedded file ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

func newAsset(name, ctype string) asset {
	b := mustRead(name)
	sum := sha256.Sum256(b)
	return asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler returns an http.Handler that serves the client at /peerd.js and
// its declarations at /peerd.d.ts (the last path element decides, so it may
// be mounted under any prefix), with their content types, an ETag and
// "Cache-Control: no-cache" so browsers revalidate after an upgrade. Other
// paths get 404 and methods other than GET and HEAD get 405.
//
// The handler is safe for concurrent use.
func Handler() http.Handler {
	assets := map[string]asset{
		ScriptName: newAsset(ScriptName, ScriptType),
		TypesName:  newAsset(TypesName, TypesType),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[path.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
