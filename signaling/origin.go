package signaling

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originChecker implements the default origin policy of ServerOptions.
type originChecker struct {
	any     bool
	allowed map[string]bool // normalised "scheme://host[:port]"
}

func newOriginChecker(list []string) *originChecker {
	oc := &originChecker{allowed: make(map[string]bool, len(list))}
	for _, o := range list {
		if o == "*" {
			oc.any = true
			continue
		}
		oc.allowed[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return oc
}

// check reports whether r's Origin may connect: no Origin header (not a
// browser), an allow-listed origin, the request's own host, or a loopback
// name.
func (oc *originChecker) check(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if oc.any || oc.allowed[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// hostOf returns the host part of r.RemoteAddr.
func hostOf(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
