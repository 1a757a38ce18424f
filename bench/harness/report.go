package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as a plain-text table.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d cores %s/%s, %s, pion %s", m.Cores, m.OS, m.Arch, m.Go, orDash(m.Pion))
	if m.CPU != "" {
		fmt.Fprintf(w, ", %s", m.CPU)
	}
	fmt.Fprintln(w)
	keys := make([]string, 0, len(r.Conditions))
	for k := range r.Conditions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "condition: %s = %s\n", k, r.Conditions[k])
	}
	fmt.Fprintf(w, "%s; ratios compare medians measured in this run\n\n", r.repetitions())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "suite\tcase\tparam\tmetric\tn\tmedian\tmin\tmax\tunit\tratio\tbaseline\t")
	for _, res := range r.Results {
		if res.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\t\t\t\t\terror: %s\n", res.Suite, res.Case, res.Param, res.Metric, res.Err)
			continue
		}
		ratio := ""
		if res.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f×", res.Ratio)
		}
		baseline := res.Baseline
		for _, a := range res.Also {
			if a.Ratio != 0 {
				baseline += fmt.Sprintf("; %.2f× %s", a.Ratio, a.Baseline)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.Suite, res.Case, res.Param, res.Metric, res.Stat.N,
			num(res.Stat.Median), num(res.Stat.Min), num(res.Stat.Max), res.Unit, ratio, baseline)
	}
	return tw.Flush()
}

// repetitions describes how many repetitions the figures hold: the
// configured count, and every suite and case whose figures hold another.
func (r *Report) repetitions() string {
	var except []string
	seen := map[string]bool{}
	for _, res := range r.Results {
		if res.Err != "" || res.Stat.N == r.Config.Reps {
			continue
		}
		e := fmt.Sprintf("%s %s: %d", res.Suite, res.Case, res.Stat.N)
		if !seen[e] {
			seen[e] = true
			except = append(except, e)
		}
	}
	s := fmt.Sprintf("repetitions: %d per figure (median, min, max)", r.Config.Reps)
	if len(except) > 0 {
		s += ", except " + strings.Join(except, ", ") + " (column n)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// num formats a figure with three significant digits or so.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// WriteFiles writes results.json, results.txt and the SVG charts into dir,
// creating it if needed. It returns the paths written.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	write := func(name string, f func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		var b strings.Builder
		if err := f(&b); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	if err := write("results.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}); err != nil {
		return written, err
	}
	if err := write("results.txt", r.WriteTable); err != nil {
		return written, err
	}
	if r.has("throughput", "throughput") {
		if err := write("throughput.svg", r.throughputChart); err != nil {
			return written, err
		}
	}
	if r.has("latency", "p50") {
		if err := write("latency.svg", r.latencyChart); err != nil {
			return written, err
		}
	}
	for _, c := range []struct {
		file, title, suite string
		metrics            []string
		byParam            bool
	}{
		{"twoproc-throughput.svg", "Two processes: throughput (median MB/s)", "twoproc", []string{"throughput"}, true},
		{"twoproc-cpu.svg", "Two processes: CPU of both per MB (median ms)", "twoproc", []string{"cpu"}, true},
		{"signaling-relay.svg", "Signaling relay one-way latency (median of each percentile, ms)", "signaling", []string{"p50", "p99"}, false},
	} {
		if !r.has(c.suite, c.metrics[0]) {
			continue
		}
		if err := write(c.file, func(w io.Writer) error { return r.barChart(w, c.title, c.suite, c.metrics, c.byParam) }); err != nil {
			return written, err
		}
	}
	return written, nil
}

// has reports whether the report holds a successful result of suite and
// metric.
func (r *Report) has(suite, metric string) bool {
	return slices.ContainsFunc(r.Results, func(x Result) bool {
		return x.Suite == suite && x.Metric == metric && x.Err == ""
	})
}
