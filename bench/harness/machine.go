package harness

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	Cores  int    `json:"cores"`
	CPU    string `json:"cpu,omitempty"`
	Go     string `json:"go"`
	Pion   string `json:"pion,omitempty"`
	Kernel string `json:"kernel,omitempty"`
}

func readMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/pion/webrtc/v4" {
				m.Pion = d.Version
			}
		}
	}
	return m
}

// procField returns the value of the first "key: value" line in a /proc
// file, or "" when there is none.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// conditionFuncs contribute to Report.Conditions; transports register one
// to state their settings (watermarks, message sizes).
var conditionFuncs []func(map[string]string)

func conditions() map[string]string {
	c := map[string]string{}
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		c["net.core.rmem_max"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_default"); err == nil {
		c["net.core.rmem_default"] = strings.TrimSpace(string(b))
	}
	for _, f := range conditionFuncs {
		f(c)
	}
	return c
}
