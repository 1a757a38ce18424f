package signaling

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name   string
		list   []string
		host   string
		origin string
		want   bool
	}{
		{"no origin", nil, "sig.example", "", true},
		{"same origin", nil, "sig.example:8080", "https://sig.example:8080", true},
		{"same host other port", nil, "sig.example:8080", "https://sig.example:9090", false},
		{"localhost", nil, "sig.example", "http://localhost:3000", true},
		{"ipv4 loopback", nil, "sig.example", "http://127.0.0.1:3000", true},
		{"ipv6 loopback", nil, "sig.example", "http://[::1]:3000", true},
		{"foreign", nil, "sig.example", "https://evil.example", false},
		{"localhost lookalike", nil, "sig.example", "https://localhost.evil.example", false},
		{"allow-listed", []string{"https://app.example/"}, "sig.example", "https://APP.example", true},
		{"allow-list miss", []string{"https://app.example"}, "sig.example", "https://app.example:444", false},
		{"wildcard", []string{"*"}, "sig.example", "https://evil.example", true},
		{"garbage", nil, "sig.example", "::::", false},
		{"null origin", nil, "sig.example", "null", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://"+tt.host+"/", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			assert.Equal(t, tt.want, newOriginChecker(tt.list).check(r))
		})
	}
}
