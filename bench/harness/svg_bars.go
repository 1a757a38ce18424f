package harness

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
)

// barChart draws one group of horizontal bars per case of suite and
// metrics, one bar per series: series are the params when byParam, the
// metrics otherwise. Values are medians on a linear scale.
func (r *Report) barChart(w io.Writer, title, suite string, metrics []string, byParam bool) error {
	type row struct {
		name string
		v    map[string]float64
	}
	var rows []*row
	var series []string
	idx := map[string]*row{}
	hi := 0.0
	for _, x := range r.Results {
		if x.Suite != suite || x.Err != "" || !slices.Contains(metrics, x.Metric) {
			continue
		}
		s := x.Metric
		if byParam {
			s = x.Param
		}
		if !slices.Contains(series, s) {
			series = append(series, s)
		}
		rw := idx[x.Case]
		if rw == nil {
			rw = &row{name: x.Case, v: map[string]float64{}}
			idx[x.Case] = rw
			rows = append(rows, rw)
		}
		rw.v[s] = x.Stat.Median
		hi = math.Max(hi, x.Stat.Median)
	}
	if hi <= 0 {
		hi = 1
	}
	const barH, gap, left = 10, 12, 170
	group := len(series) * barH
	h := max(padT+len(rows)*(group+gap)+padB, padT+len(series)*18+padB)
	width := float64(chartW - left - padR)
	fmt.Fprintf(w, svgHead, chartW, h, chartW, h)
	fmt.Fprintf(w, svgTitle, 10, html.EscapeString(title))
	y := padT
	for _, rw := range rows {
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+group/2+4, html.EscapeString(rw.name))
		for k, s := range series {
			v, ok := rw.v[s]
			if !ok {
				continue
			}
			bw := v / hi * width
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+k*barH, bw, barH-1, palette[k%len(palette)])
			fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="9">%s</text>`+"\n", float64(left)+bw+4, y+k*barH+barH-1, num(v))
		}
		y += group + gap
	}
	for k, s := range series {
		legend(w, k, s, palette[k%len(palette)])
	}
	_, err := io.WriteString(w, "</svg>\n")
	return err
}
