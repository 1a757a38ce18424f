package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/peerd/peerd/cmd/peerd/store"
	"github.com/peerd/peerd/rpc"
)

// version is peerd's version, reported by sys.info and --version.
const version = "0.1.0-dev"

// maxCountdown bounds demo.countdown so a caller cannot keep a handler busy
// for long.
const maxCountdown = 100

// newRegistry builds the rpc methods the store peer exposes: the bundle
// store under "store.", a few demonstration functions under "demo." and
// "sys.info". httpBase is the base URL under which the peer's HTTP server
// serves /sites/NAME/ ("" when it serves none), reported by sys.info.
func newRegistry(svc *store.Service, started time.Time, httpBase string) (*rpc.Registry, error) {
	reg := rpc.NewRegistry()
	methods := []struct {
		name   string
		fn     any
		params []string
	}{
		{"store.begin", svc.Begin, store.ParamNames["Begin"]},
		{"store.write", svc.Write, store.ParamNames["Write"]},
		{"store.commit", svc.Commit, store.ParamNames["Commit"]},
		{"store.abort", svc.Abort, store.ParamNames["Abort"]},
		{"store.publish", svc.Publish, store.ParamNames["Publish"]},
		{"store.list", svc.List, store.ParamNames["List"]},
		{"store.stat", svc.Stat, store.ParamNames["Stat"]},
		{"store.read", svc.Read, store.ParamNames["Read"]},
		{"store.delete", svc.Delete, store.ParamNames["Delete"]},
		{"demo.add", demoAdd, []string{"a", "b"}},
		{"demo.echo", demoEcho, []string{"value"}},
		{"demo.countdown", demoCountdown, []string{"n", "progress"}},
		{"sys.info", func() sysInfo { return newSysInfo(started, httpBase) }, nil},
	}
	for _, m := range methods {
		if err := reg.Register(m.name, m.fn, m.params...); err != nil {
			return nil, fmt.Errorf("register %s: %w", m.name, err)
		}
	}
	return reg, nil
}

func demoAdd(a, b float64) float64 { return a + b }

func demoEcho(v any) any { return v }

// demoCountdown calls progress with n, n-1, …, 1 and returns "done": the
// progress-callback pattern.
func demoCountdown(ctx context.Context, n int, progress *rpc.Func) (string, error) {
	if n < 0 || n > maxCountdown {
		return "", fmt.Errorf("n must be between 0 and %d", maxCountdown)
	}
	if progress == nil {
		return "", errors.New("progress must be a function")
	}
	for i := n; i > 0; i-- {
		if err := progress.Call(ctx, nil, i); err != nil {
			return "", err
		}
	}
	return "done", nil
}

// sysInfo describes the running daemon.
type sysInfo struct {
	Version string  `json:"version"`
	Go      string  `json:"go"`
	OS      string  `json:"os"`
	Arch    string  `json:"arch"`
	Cores   int     `json:"cores"`
	Host    string  `json:"host"`
	Uptime  float64 `json:"uptime_seconds"`
	// HTTP is the base URL of the HTTP server that serves published
	// bundles at HTTP/sites/NAME/; empty when the peer serves none.
	HTTP string `json:"http,omitempty"`
}

func newSysInfo(started time.Time, httpBase string) sysInfo {
	host, _ := os.Hostname()
	return sysInfo{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Cores: runtime.NumCPU(), Host: host, Uptime: time.Since(started).Seconds(), HTTP: httpBase}
}

// advertisedBase is the HTTP base URL a store peer reports for its HTTP
// listener at addr: http://HOST:PORT, with the machine's host name in place
// of an unspecified address (0.0.0.0, ::), which no other machine can dial.
func advertisedBase(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "http://" + addr.String()
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
