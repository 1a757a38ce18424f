package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
)

// status is what /status.json returns and the status page shows.
type status struct {
	Version   string       `json:"version"`
	Started   time.Time    `json:"started"`
	Signal    string       `json:"signal"`
	Room      string       `json:"room"`
	Signaling signalStatus `json:"signaling"`
	// StorePeers is the number of data-channel connections the store peer
	// holds now.
	StorePeers int          `json:"store_peers"`
	Bundles    []store.Info `json:"bundles"`
}

type signalStatus struct {
	Connections    int64             `json:"connections"`
	Rooms          int64             `json:"rooms"`
	Peers          int64             `json:"peers"`
	SignalsRelayed uint64            `json:"signals_relayed"`
	Errors         map[string]uint64 `json:"errors,omitempty"`
}

func (d *daemon) status() (status, error) {
	st := d.sig.Stats()
	bundles, err := d.store.List()
	if bundles == nil {
		bundles = []store.Info{}
	}
	return status{
		Version: version, Started: d.started, Signal: d.signalURL, Room: d.cfg.room,
		Signaling: signalStatus{Connections: st.Connections, Rooms: st.Rooms, Peers: st.Peers,
			SignalsRelayed: st.SignalsRelayed, Errors: st.Errors},
		StorePeers: d.peerCount(),
		Bundles:    bundles,
	}, err
}

func (d *daemon) handleStatusJSON(w http.ResponseWriter, r *http.Request) {
	st, err := d.status()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, st)
}

func (d *daemon) handleConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{"signal": d.publicSignalURL(r), "room": d.cfg.room, "version": version})
}

// publicSignalURL is the signaling URL as seen by the client that asked,
// so a page loaded through another host name still reaches it.
func (d *daemon) publicSignalURL(r *http.Request) string {
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + "/signal"
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// handleSite serves /sites/NAME/… from the bundle's current tree. Each
// request resolves the bundle afresh, so a replacement is seen whole.
func (d *daemon) handleSite(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	dir, err := d.store.SiteDir(name)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, store.ErrBadName) {
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	if r.PathValue("rest") == "" && !strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.StripPrefix("/sites/"+name, http.FileServer(noListing{http.Dir(dir)})).ServeHTTP(w, r)
}

// noListing hides directory listings: a directory without index.html is
// not found.
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		idx, err := n.fs.Open(strings.TrimSuffix(name, "/") + "/index.html")
		if err != nil {
			f.Close()
			return nil, err
		}
		idx.Close()
	}
	return f, nil
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"size": humanSize,
	"ago":  func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>peerd status</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:880px;margin:32px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.sub{color:#5b6472;margin:0 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:10px;padding:12px 14px}
.card b{display:block;font-size:22px}.card span{color:#5b6472;font-size:13px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #e3e6eb;border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid #eef0f3;font-size:14px}
th{background:#fafbfc;color:#5b6472;font-weight:600}
code{font:13px ui-monospace,monospace}a{color:#2457d6}
</style></head><body><main>
<h1>peerd status</h1>
<p class="sub">version {{.Version}} · up {{ago .Started}} · signaling <code>{{.Signal}}</code> · room <code>{{.Room}}</code></p>
<div class="cards">
<div class="card"><b>{{.Signaling.Connections}}</b><span>signaling connections</span></div>
<div class="card"><b>{{.Signaling.Rooms}}</b><span>rooms</span></div>
<div class="card"><b>{{.Signaling.Peers}}</b><span>peers in rooms</span></div>
<div class="card"><b>{{.StorePeers}}</b><span>data channels to the store</span></div>
<div class="card"><b>{{.Signaling.SignalsRelayed}}</b><span>signals relayed</span></div>
</div>
<h2>Bundles</h2>
{{if .Bundles}}<table><tr><th>name</th><th>size</th><th>files</th><th>modified</th><th>SHA-256</th></tr>
{{range .Bundles}}<tr><td><a href="/sites/{{.Name}}/">{{.Name}}</a></td><td>{{size .Size}}</td><td>{{.Files}}</td><td>{{.Mtime.Format "2006-01-02 15:04:05"}}</td><td><code title="{{.SHA256}}">{{short .SHA256}}…</code></td></tr>
{{end}}</table>{{else}}<p>No bundles yet. Publish one with <code>go run ./cmd/peerd publish DIR --name NAME</code>.</p>{{end}}
<p class="sub" style="margin-top:24px"><a href="/status.json">status.json</a></p>
</main></body></html>
`))

func (d *daemon) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	st, err := d.status()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = statusPage.Execute(w, st)
}

// humanSize renders a byte count as 512 B, 1.5 KiB, 3.2 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
