package harness

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// palette colours chart series in order.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

const (
	chartW, chartH                     = 860, 440
	padL, padR, padT, padB             = 70, 220, 40, 50
	plotW, plotH                       = chartW - padL - padR, chartH - padT - padB
	svgHead                            = `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">` + "\n"
	svgTitle                           = `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>` + "\n"
	axisStyle, gridStyle, seriesStroke = `stroke="#333"`, `stroke="#ddd"`, 2
)

// throughputChart draws median throughput against payload size, one line
// per case, on logarithmic axes.
func (r *Report) throughputChart(w io.Writer) error {
	var sizes []int
	series := map[string]map[int]float64{}
	var names []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range r.Results {
		if x.Suite != "throughput" || x.Metric != "throughput" || x.Err != "" || x.Stat.Median <= 0 {
			continue
		}
		if !slices.Contains(sizes, x.Size) {
			sizes = append(sizes, x.Size)
		}
		if series[x.Case] == nil {
			series[x.Case] = map[int]float64{}
			names = append(names, x.Case)
		}
		series[x.Case][x.Size] = x.Stat.Median
		lo, hi = math.Min(lo, x.Stat.Median), math.Max(hi, x.Stat.Median)
	}
	slices.Sort(sizes)
	lo, hi = math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if hi == lo {
		hi = lo + 1
	}
	xAt := func(i int) float64 {
		if len(sizes) == 1 {
			return padL + plotW/2
		}
		return padL + float64(i)*plotW/float64(len(sizes)-1)
	}
	yAt := func(v float64) float64 { return padT + plotH - (math.Log10(v)-lo)/(hi-lo)*plotH }

	fmt.Fprintf(w, svgHead, chartW, chartH, chartW, chartH)
	fmt.Fprintf(w, svgTitle, padL, "Throughput by payload size (median MB/s, log scale)")
	for e := lo; e <= hi; e++ {
		y := yAt(math.Pow(10, e))
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" %s/>`+"\n", padL, y, padL+plotW, y, gridStyle)
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, y+4, num(math.Pow(10, e)))
	}
	for i, s := range sizes {
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", xAt(i), padT+plotH+18, sizeName(s))
	}
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", padL, padT+plotH, padL+plotW, padT+plotH, axisStyle)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", padL, padT, padL, padT+plotH, axisStyle)
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">payload size</text>`+"\n", padL+plotW/2, chartH-10)
	for k, name := range names {
		col := palette[k%len(palette)]
		var pts []string
		for i, s := range sizes {
			if v, ok := series[name][s]; ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), yAt(v)))
				fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xAt(i), yAt(v), col)
			}
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="%d" points="%s"/>`+"\n", col, seriesStroke, strings.Join(pts, " "))
		legend(w, k, name, col)
	}
	_, err := io.WriteString(w, "</svg>\n")
	return err
}

// latencyChart draws p50, p90 and p99 round-trip times per case as grouped
// horizontal bars.
func (r *Report) latencyChart(w io.Writer) error {
	type row struct {
		name string
		v    [3]float64
	}
	var rows []*row
	idx := map[string]*row{}
	hi := 0.0
	for _, x := range r.Results {
		if x.Suite != "latency" || x.Err != "" {
			continue
		}
		p := slices.IndexFunc(latencyPercentiles, func(lp struct {
			name string
			p    float64
		}) bool {
			return lp.name == x.Metric
		})
		if p < 0 {
			continue
		}
		rw := idx[x.Case]
		if rw == nil {
			rw = &row{name: x.Case}
			idx[x.Case] = rw
			rows = append(rows, rw)
		}
		rw.v[p] = x.Stat.Median
		hi = math.Max(hi, x.Stat.Median)
	}
	if hi <= 0 {
		hi = 1
	}
	const barH, gap, left = 8, 10, 170
	h := padT + len(rows)*(3*barH+gap) + padB
	width := float64(chartW - left - padR)
	fmt.Fprintf(w, svgHead, chartW, h, chartW, h)
	fmt.Fprintf(w, svgTitle, 10, "Small round trip (median of each percentile, µs)")
	y := padT
	for _, rw := range rows {
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+2*barH, html.EscapeString(rw.name))
		for p, v := range rw.v {
			bw := v / hi * width
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+p*barH, bw, barH-1, palette[p])
			fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="9">%s</text>`+"\n", float64(left)+bw+4, y+p*barH+barH-1, num(v))
		}
		y += 3*barH + gap
	}
	for p, lp := range latencyPercentiles {
		legend(w, p, lp.name, palette[p])
	}
	_, err := io.WriteString(w, "</svg>\n")
	return err
}

func legend(w io.Writer, k int, name, col string) {
	x, y := chartW-padR+20, padT+k*18
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, y, col)
	fmt.Fprintf(w, `<text x="%d" y="%d">%s</text>`+"\n", x+18, y+10, html.EscapeString(name))
}
