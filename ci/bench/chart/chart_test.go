package chart

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// element is an SVG element as the tests look at it: its name, attributes and text.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parse decodes the whole document (failing on anything that is not well-formed XML) and lists
// its elements in document order.
func parse(t *testing.T, doc []byte) []element {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var out []element
	var open []int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			open = append(open, len(out)-1)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				out[open[len(open)-1]].text += string(tok)
			}
		}
	}
	return out
}

func sample() Chart {
	series := []Series{
		{"from source (builder's Python)", []float64{338, 380, 402, 371, 390}},
		{"bundled onedir <static> & \"default\"", []float64{336, 362, 404}},
		{"bundled onefile", []float64{464, 507, 624, 500}},
		{"no runs", nil},
	}
	return Chart{Title: "Start-up & more", Note: "2 cores, 20 runs", Panels: []Panel{
		{XLabel: "wall time to first healthy answer (ms)", Series: series},
		{XLabel: "CPU time until healthy (ms)", Series: series[:3]},
	}}
}

// TestSVG: the chart is one well-formed SVG document with, in each panel, one series group per
// variant (its name as label, a dot per run, a box and a median for a series with runs), the
// axis labels and tick values, and text escaped.
func TestSVG(t *testing.T) {
	c := sample()
	doc := c.SVG()
	els := parse(t, doc)
	if els[0].name != "svg" || els[0].attrs["viewBox"] == "" {
		t.Fatalf("root is %+v", els[0])
	}
	var panels, series, dots, boxes, medians, ticks int
	var labels, axisLabels, titles []string
	for _, e := range els {
		switch {
		case e.name == "g" && e.attrs["class"] == "panel":
			panels++
		case e.name == "g" && e.attrs["class"] == "series":
			series++
		case e.name == "circle":
			dots++
		case e.name == "rect" && e.attrs["class"] == "box":
			boxes++
		case e.name == "line" && e.attrs["class"] == "median":
			medians++
		case e.name == "text" && e.attrs["class"] == "tick":
			ticks++
		case e.name == "text" && e.attrs["class"] == "label":
			labels = append(labels, e.text)
		case e.name == "text" && e.attrs["class"] == "axis-label":
			axisLabels = append(axisLabels, e.text)
		case e.name == "text" && e.attrs["class"] == "title":
			titles = append(titles, e.text)
		}
	}
	if panels != 2 || series != 4+3 {
		t.Errorf("panels %d, series %d: want 2 and one per variant per panel (7)", panels, series)
	}
	if want := (5 + 3 + 4) * 2; dots != want {
		t.Errorf("dots %d, want one per run (%d)", dots, want)
	}
	if boxes != 6 || medians != 6 {
		t.Errorf("boxes %d, medians %d: want one per series with runs (6)", boxes, medians)
	}
	if ticks < 2*3 {
		t.Errorf("only %d tick labels", ticks)
	}
	if strings.Join(axisLabels, "|") != "wall time to first healthy answer (ms)|CPU time until healthy (ms)" {
		t.Errorf("axis labels %q", axisLabels)
	}
	if len(titles) != 1 || titles[0] != "Start-up & more" {
		t.Errorf("title %q", titles)
	}
	if labels[1] != `bundled onedir <static> & "default"` || labels[3] != "no runs" {
		t.Errorf("labels %q", labels)
	}
	if !bytes.Equal(doc, c.SVG()) {
		t.Error("the same chart gave other bytes")
	}
}

// Every mark stays inside the plot, whatever the values (one value, all equal, none at all).
func TestSVGScale(t *testing.T) {
	for _, vals := range [][]float64{{500}, {400, 400, 400}, nil, {0.4, 12000}} {
		c := Chart{Title: "t", Panels: []Panel{{XLabel: "ms", Series: []Series{{"a", vals}}}}}
		for _, e := range parse(t, c.SVG()) {
			for _, k := range []string{"x", "x1", "x2", "cx"} {
				if v, ok := e.attrs[k]; ok && (strings.Contains(v, "NaN") || strings.Contains(v, "Inf") || strings.HasPrefix(v, "-")) {
					t.Errorf("%v: %s=%s", vals, k, v)
				}
			}
		}
	}
	lo, hi, step := scale([]Series{{"a", []float64{338, 624}}})
	if lo > 338 || hi < 624 || step != 50 {
		t.Errorf("scale 338..624 = %v..%v step %v", lo, hi, step)
	}
}
