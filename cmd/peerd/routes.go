package main

import (
	"net/http"

	"github.com/peerd/peerd/cmd/peerd/web"
	"github.com/peerd/peerd/peer/browser"
)

// routeWeb mounts the demo page at / and the browser client at /peerd.js.
func (d *daemon) routeWeb(mux *http.ServeMux) {
	client := browser.Handler()
	mux.Handle("GET /peerd.js", client)
	mux.Handle("GET /peerd.d.ts", client)
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /index.html", page)
	mux.Handle("GET /app.js", page)
	mux.Handle("GET /style.css", page)
	mux.Handle("GET /tar.js", page)
}
