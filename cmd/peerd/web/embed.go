// Package web holds the peerd daemon's demo page: index.html, app.js,
// style.css and tar.js, embedded with go:embed. The page imports the
// browser client from /peerd.js (package peer/browser), reads
// /config.json ({"signal": "ws://host/signal", "room": "public"}) and
// talks to the daemon's store peer over a data channel.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// FS holds the page's files at its root.
//
//go:embed index.html app.js style.css tar.js
var FS embed.FS

// Files returns FS as an fs.FS.
func Files() fs.FS { return FS }

// Handler serves the page's files: / and /index.html give the page, the
// other files by name, with content types from their extensions
// (text/javascript for .js). Unknown paths get 404.
func Handler() http.Handler {
	fsrv := http.FileServerFS(FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}
