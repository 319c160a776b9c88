// Package nbplot draws the small, self-contained SVG charts of binnet's
// notebooks: line charts (with optional shaded bands and vertical markers for
// the stage boundaries of a schedule) and bar charts. The SVG has no scripts
// and loads nothing, so it shows offline, in nbconvert's HTML and on GitHub.
//
// It only builds strings; a notebook displays them with GoNB's gonbui (see
// the first cells of notebooks/01-quickstart.ipynb).
package nbplot

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Palette holds the colours given to series and bars in order (Tableau 10).
var Palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// Series is one line of a Chart.
type Series struct {
	Name   string    // shown in the legend
	X, Y   []float64 // the points, in drawing order
	Lo, Hi []float64 // optional band drawn around the line (e.g. min and max over seeds)
	Color  string    // default: the palette colour of the series' position
	Dashed bool      // draw the line dashed
	Step   bool      // draw a step function (the value holds until the next X)
	Dots   bool      // mark every point
}

// Marker is a vertical dashed line at X, e.g. the start of a schedule stage.
type Marker struct {
	X     float64 // where the line stands on the x axis
	Label string  // written at the top of the line
	Color string  // default grey
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string   // the title above the plot and the axes' labels
	Width, Height         int      // pixels; default 720 x 360
	Series                []Series // the lines, coloured from Palette in order unless they set Color
	Markers               []Marker // vertical lines drawn behind the series
	// YMin and YMax fix the y range when YMin < YMax; otherwise it fits the data.
	YMin, YMax float64
	// XMin and XMax fix the x range when XMin < XMax.
	XMin, XMax float64
	// YPercent formats y ticks as percentages of 1 (0.9 -> 90%).
	YPercent bool
	// XIntegers keeps only integer x ticks (epochs).
	XIntegers bool
}

const (
	marginLeft, marginRight, marginTop, marginBottom = 64, 150, 36, 48
	font                                             = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`
)

func (c *Chart) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 360
	}
	return w, h
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, v)
	}
	return ticks
}

// formatTick writes a tick value; zero and float noise around it (the
// first tick of an axis from 0 can be -0 or -1e-17) print as 0.
func formatTick(v float64, percent bool) string {
	if percent {
		return strconv.FormatFloat(math.Round(v*1e5)/1e3+0, 'f', -1, 64) + "%" // round off float noise (+0 turns -0 into 0)
	}
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'g', 4, 64)
}

func (c *Chart) ranges() (x0, x1, y0, y1 float64) {
	x0, x1, y0, y1 = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			x0, x1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i])
			for _, ys := range [][]float64{s.Y, s.Lo, s.Hi} {
				if i < len(ys) && !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
					y0, y1 = math.Min(y0, ys[i]), math.Max(y1, ys[i])
				}
			}
		}
	}
	for _, m := range c.Markers {
		x0, x1 = math.Min(x0, m.X), math.Max(x1, m.X)
	}
	if math.IsInf(x0, 1) {
		x0, x1 = 0, 1
	}
	if math.IsInf(y0, 1) {
		y0, y1 = 0, 1
	}
	if x1 == x0 {
		x0, x1 = x0-1, x1+1
	}
	if y1 == y0 {
		y0, y1 = y0-0.5, y1+0.5
	} else {
		pad := (y1 - y0) * 0.05
		y0, y1 = y0-pad, y1+pad
	}
	if c.XMin < c.XMax {
		x0, x1 = c.XMin, c.XMax
	}
	if c.YMin < c.YMax {
		y0, y1 = c.YMin, c.YMax
	}
	return
}

// SVG renders the chart.
func (c *Chart) SVG() string {
	w, h := c.size()
	x0, x1, y0, y1 := c.ranges()
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)
	px := func(x float64) float64 { return marginLeft + (x-x0)/(x1-x0)*pw }
	py := func(y float64) float64 {
		y = math.Max(y0, math.Min(y1, y))
		return marginTop + (1-(y-y0)/(y1-y0))*ph
	}
	var b strings.Builder
	header(&b, w, h, c.Title)
	// Grid and ticks.
	yGrid(&b, y0, y1, py, pw, c.YPercent)
	for _, t := range niceTicks(x0, x1, 8) {
		if c.XIntegers && t != math.Round(t) {
			continue
		}
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#f0f0f0"/>`, x, marginTop, x, marginTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" %s>%s</text>`,
			x, marginTop+ph+16, font, formatTick(t, false))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`, marginLeft, marginTop, pw, ph)
	axisLabels(&b, w, h, c.XLabel, c.YLabel)
	// Markers.
	for i, m := range c.Markers {
		col := m.Color
		if col == "" {
			col = "#999"
		}
		x := px(m.X)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="4,3"/>`, x, marginTop, x, marginTop+ph, col)
		if m.Label != "" {
			dy := 12 + 11*(i%2) // alternate rows so that close labels do not overlap
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#555" %s>%s</text>`, x+3, marginTop+dy, font, html.EscapeString(m.Label))
		}
	}
	// Series.
	for i, s := range c.Series {
		col := s.Color
		if col == "" {
			col = Palette[i%len(Palette)]
		}
		if len(s.Lo) == len(s.X) && len(s.Hi) == len(s.X) && len(s.X) > 0 {
			var pts []string
			for j := range s.X {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Hi[j])))
			}
			for j := len(s.X) - 1; j >= 0; j-- {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Lo[j])))
			}
			fmt.Fprintf(&b, `<polygon points="%s" fill="%s" fill-opacity="0.15" stroke="none"/>`, strings.Join(pts, " "), col)
		}
		var pts []string
		prev := math.NaN() // the last value drawn, for steps
		for j := range s.X {
			if j >= len(s.Y) || math.IsNaN(s.Y[j]) || math.IsInf(s.Y[j], 0) {
				continue // a gap: the line joins the neighbours
			}
			if s.Step && !math.IsNaN(prev) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(prev)))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
			prev = s.Y[j]
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), col, dash)
		if s.Dots {
			for j := range s.X {
				if j < len(s.Y) && !math.IsNaN(s.Y[j]) && !math.IsInf(s.Y[j], 0) {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, px(s.X[j]), py(s.Y[j]), col)
				}
			}
		}
		// Legend entry.
		ly := marginTop + 8 + 18*i
		lx := float64(w - marginRight + 12)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, ly, lx+22, ly, col, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" dominant-baseline="middle" %s>%s</text>`, lx+28, ly, font, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func header(b *strings.Builder, w, h int, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	if title != "" {
		fmt.Fprintf(b, `<text x="%d" y="20" font-size="14" font-weight="bold" %s>%s</text>`, marginLeft, font, html.EscapeString(title))
	}
}

func axisLabels(b *strings.Builder, w, h int, xl, yl string) {
	if xl != "" {
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" text-anchor="middle" %s>%s</text>`,
			marginLeft+(w-marginLeft-marginRight)/2, h-10, font, html.EscapeString(xl))
	}
	if yl != "" {
		cy := marginTop + (h-marginTop-marginBottom)/2
		fmt.Fprintf(b, `<text x="16" y="%d" font-size="12" text-anchor="middle" transform="rotate(-90 16 %d)" %s>%s</text>`,
			cy, cy, font, html.EscapeString(yl))
	}
}

// Bar is one bar of a BarChart.
type Bar struct {
	Label  string  // written under the bar
	Value  float64 // the bar's height
	Lo, Hi float64 // optional error bar, drawn when Lo < Hi
	Color  string  // default: the palette colour of the bar's position
	Note   string  // written above the bar (default: the value)
}

// BarChart is a vertical bar chart.
type BarChart struct {
	Title, XLabel, YLabel string  // the title above the plot and the axes' labels
	Width, Height         int     // pixels; default 560 x 340
	Bars                  []Bar   // the bars, left to right
	YMin, YMax            float64 // fixed range when YMin < YMax
	YPercent              bool    // y ticks as percentages of 1 (0.9 -> 90%)
}

// SVG renders the bar chart.
func (c *BarChart) SVG() string {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 560
	}
	if h <= 0 {
		h = 340
	}
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, bar := range c.Bars {
		y0, y1 = math.Min(y0, bar.Value), math.Max(y1, bar.Value)
		if bar.Lo < bar.Hi {
			y0, y1 = math.Min(y0, bar.Lo), math.Max(y1, bar.Hi)
		}
	}
	if math.IsInf(y0, 1) {
		y0, y1 = 0, 1
	}
	if y0 > 0 {
		y0 = 0
	}
	y1 += (y1 - y0) * 0.1
	if y1 == y0 {
		y1 = y0 + 1
	}
	if c.YMin < c.YMax {
		y0, y1 = c.YMin, c.YMax
	}
	right := 24
	pw, ph := float64(w-marginLeft-right), float64(h-marginTop-marginBottom)
	py := func(y float64) float64 {
		y = math.Max(y0, math.Min(y1, y))
		return marginTop + (1-(y-y0)/(y1-y0))*ph
	}
	var b strings.Builder
	header(&b, w, h, c.Title)
	yGrid(&b, y0, y1, py, pw, c.YPercent)
	n := len(c.Bars)
	slot := pw / math.Max(1, float64(n))
	for i, bar := range c.Bars {
		col := bar.Color
		if col == "" {
			col = Palette[i%len(Palette)]
		}
		x := marginLeft + slot*float64(i) + slot*0.2
		bw := slot * 0.6
		top, base := py(bar.Value), py(math.Max(y0, 0))
		if top > base {
			top, base = base, top
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, top, bw, base-top, col)
		if bar.Lo < bar.Hi {
			cx := x + bw/2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, cx, py(bar.Lo), cx, py(bar.Hi))
			for _, v := range []float64{bar.Lo, bar.Hi} {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, cx-5, py(v), cx+5, py(v))
			}
		}
		note := bar.Note
		if note == "" {
			note = formatTick(bar.Value, false)
			if c.YPercent {
				note = fmt.Sprintf("%.2f%%", bar.Value*100)
			}
		}
		ny := py(bar.Value) - 6
		if bar.Lo < bar.Hi {
			ny = math.Min(ny, py(bar.Hi)-6)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" %s>%s</text>`, x+bw/2, ny, font, html.EscapeString(note))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" %s>%s</text>`,
			x+bw/2, marginTop+ph+16, font, html.EscapeString(bar.Label))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`, marginLeft, marginTop, pw, ph)
	axisLabels(&b, w+marginRight-right, h, c.XLabel, c.YLabel)
	b.WriteString(`</svg>`)
	return b.String()
}

// yGrid draws the horizontal grid lines and the y tick labels of a plot
// whose y range is [y0, y1], mapped to pixels by py, pw pixels wide.
func yGrid(b *strings.Builder, y0, y1 float64, py func(float64) float64, pw float64, percent bool) {
	for _, t := range niceTicks(y0, y1, 6) {
		y := py(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, marginLeft, y, marginLeft+pw, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" dominant-baseline="middle" %s>%s</text>`,
			marginLeft-6, y, font, formatTick(t, percent))
	}
}
