package nbplot

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed fails the test unless svg parses as XML with an <svg> root.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Fatalf("non-finite coordinates in\n%s", svg)
	}
}

func TestChart(t *testing.T) {
	c := &Chart{Title: "a <b> & c", XLabel: "epoch", YLabel: "accuracy", YPercent: true, XIntegers: true,
		Series: []Series{
			{Name: "val", X: []float64{1, 2, 3}, Y: []float64{0.9, 0.95, 0.97}, Lo: []float64{0.89, 0.94, 0.96}, Hi: []float64{0.91, 0.96, 0.98}, Dots: true},
			{Name: "train", X: []float64{1, 2, 3}, Y: []float64{0.8, math.NaN(), 0.99}, Dashed: true, Step: true},
		},
		Markers: []Marker{{X: 1.5, Label: "layer 2 binary"}}}
	svg := c.SVG()
	wellFormed(t, svg)
	for _, want := range []string{"a &lt;b&gt; &amp; c", "layer 2 binary", "95%", "<polygon", "<circle"} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q", want)
		}
	}
	wellFormed(t, (&Chart{}).SVG()) // empty chart
}

func TestBarChart(t *testing.T) {
	c := &BarChart{Title: "sensitivity", YPercent: true, Bars: []Bar{
		{Label: "float", Value: 0.97}, {Label: "layer 1", Value: 0.95, Lo: 0.94, Hi: 0.96}, {Label: "layer 2", Value: 0.9, Note: "x"}}}
	svg := c.SVG()
	wellFormed(t, svg)
	if n := strings.Count(svg, "<rect"); n != 5 { // background, 3 bars, frame
		t.Errorf("%d rects, want 5", n)
	}
	wellFormed(t, (&BarChart{}).SVG())
}

func TestTicks(t *testing.T) {
	if got := formatTick(0.96, true); got != "96%" {
		t.Errorf("formatTick(0.96, percent) = %q", got)
	}
	// An axis from 0: its first tick is computed as -0 (ceil(-1e-9) * step).
	for _, v := range []float64{niceTicks(0, 1, 6)[0], math.Copysign(0, -1), -1e-17} {
		for _, percent := range []bool{true, false} {
			if got, want := formatTick(v, percent), map[bool]string{true: "0%", false: "0"}[percent]; got != want {
				t.Errorf("formatTick(%v, percent %v) = %q, want %q", v, percent, got, want)
			}
		}
	}
	ticks := niceTicks(0.5, 4.5, 8)
	if len(ticks) < 4 || ticks[0] < 0.5 || ticks[len(ticks)-1] > 4.5 {
		t.Errorf("niceTicks(0.5, 4.5) = %v", ticks)
	}
}
