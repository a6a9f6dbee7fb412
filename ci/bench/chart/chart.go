// Package chart draws the benchmark's start-up distributions as an SVG document: one row per
// variant, every run a dot, the middle half a box and the median a bar, so distributions are
// compared by eye (docs/BENCHMARKS.md shows it next to the tables). Plain Go writing SVG text:
// deterministic (the same figures give the same bytes, so a committed chart changes only when
// the figures do) and no dependency for a few rectangles and circles.
package chart

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// Series is one variant's runs, in milliseconds.
type Series struct {
	Name   string
	Values []float64
}

// Panel is one axis of the chart: every series against the same scale.
type Panel struct {
	// XLabel names the axis, e.g. "wall time to first healthy answer (ms)".
	XLabel string
	Series []Series
}

// Chart is a titled stack of panels, e.g. wall time and CPU time of the same variants.
type Chart struct {
	Title string
	// Note is a smaller line under the title (machine, date, runs).
	Note   string
	Panels []Panel
}

// Layout, in SVG user units (pixels at 100 %).
const (
	width      = 820.0
	labelWidth = 300.0 // the variants' names, right-aligned before the plot
	plotRight  = 20.0
	rowHeight  = 34.0
	panelGap   = 58.0 // the axis, its ticks and its label under each panel
	titleSpace = 52.0
)

// palette gives each variant its colour by position, the same in every panel.
var palette = []string{"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"}

// SVG renders the chart. Rows keep the order of the series; a series without values gets its
// label and no marks.
func (c Chart) SVG() []byte {
	height := titleSpace
	for _, p := range c.Panels {
		height += float64(len(p.Series))*rowHeight + panelGap
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">`+"\n",
		num(width), num(height), num(width), num(height))
	w(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	w(`<text class="title" x="%s" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", num(10), esc(c.Title))
	if c.Note != "" {
		w(`<text class="note" x="%s" y="40" fill="#555555">%s</text>`+"\n", num(10), esc(c.Note))
	}
	top := titleSpace
	for _, p := range c.Panels {
		top = c.panel(&b, p, top)
	}
	w("</svg>\n")
	return b.Bytes()
}

// panel writes one panel from y = top and returns where the next one starts.
func (c Chart) panel(b *bytes.Buffer, p Panel, top float64) float64 {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	lo, hi, step := scale(p.Series)
	x := func(v float64) float64 { return labelWidth + (v-lo)/(hi-lo)*(width-labelWidth-plotRight) }
	bottom := top + float64(len(p.Series))*rowHeight
	w(`<g class="panel">` + "\n")
	// Grid and axis first, marks on top of them.
	for t := lo; t <= hi+step/2; t += step {
		w(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e5e5e5"/>`+"\n", num(x(t)), num(top), num(x(t)), num(bottom))
		w(`<text class="tick" x="%s" y="%s" text-anchor="middle" fill="#333333">%s</text>`+"\n", num(x(t)), num(bottom+16), num(t))
	}
	w(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>`+"\n", num(labelWidth), num(bottom), num(width-plotRight), num(bottom))
	w(`<text class="axis-label" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num((labelWidth+width-plotRight)/2), num(bottom+36), esc(p.XLabel))
	for i, s := range p.Series {
		colour := palette[i%len(palette)]
		mid := top + (float64(i)+0.5)*rowHeight
		w(`<g class="series" data-name="%s">`+"\n", esc(s.Name))
		w(`<text class="label" x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", num(labelWidth-10), num(mid), esc(s.Name))
		if len(s.Values) > 0 {
			v := slices.Sorted(slices.Values(s.Values))
			q1, med, q3 := quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75)
			w(`<rect class="box" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.18" stroke="%s"/>`+"\n",
				num(x(q1)), num(mid-9), num(math.Max(x(q3)-x(q1), 1)), num(18), colour, colour)
			w(`<line class="median" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/>`+"\n", num(x(med)), num(mid-11), num(x(med)), num(mid+11), colour)
			for j, val := range s.Values { // runs in their order; a fixed vertical spread so equal values stay visible
				w(`<circle cx="%s" cy="%s" r="2.6" fill="%s" fill-opacity="0.75"><title>%s ms</title></circle>`+"\n",
					num(x(val)), num(mid+float64(j%5-2)*3), colour, num(val))
			}
		}
		w("</g>\n")
	}
	w("</g>\n")
	return bottom + panelGap
}

// scale is the axis of a panel: from below its smallest to above its largest value, in round
// steps (10, 20, 25, 50, 100, … ms), about six of them.
func scale(series []Series) (lo, hi, step float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) { // no values at all
		lo, hi = 0, 1
	}
	if hi-lo < 1 {
		hi = lo + 1
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = mag * 10
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Floor(lo/step) * step, math.Ceil(hi/step) * step, step
}

// quantile is the q-quantile of sorted values (linear between the two nearest).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// num formats a coordinate or value with at most one decimal, the same bytes on every machine.
func num(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

// esc makes text safe inside an element or an attribute.
func esc(s string) string { return html.EscapeString(s) }
