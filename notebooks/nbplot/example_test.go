package nbplot_test

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/binnet/binnet/notebooks/nbplot"
)

// A validation-accuracy curve per order, with a marker where the forward
// order binarizes its second layer: the SVG a notebook shows with gonbui.
func ExampleChart() {
	c := nbplot.Chart{
		Title: "validation accuracy", XLabel: "epoch", YLabel: "accuracy", YPercent: true, XIntegers: true,
		Series: []nbplot.Series{
			{Name: "forward", X: []float64{1, 2, 3, 4}, Y: []float64{0.91, 0.94, 0.95, 0.96}},
			{Name: "binary", X: []float64{1, 2, 3, 4}, Y: []float64{0.88, 0.92, 0.94, 0.95}, Dashed: true},
		},
		Markers: []nbplot.Marker{{X: 3, Label: "layer 2"}},
	}
	svg := c.SVG()
	fmt.Println(strings.HasPrefix(svg, "<svg"), strings.Count(svg, "<polyline"))
	// The y ticks, formatted as percentages.
	var ticks []string
	for _, m := range regexp.MustCompile(`>(\d+(\.\d+)?%)<`).FindAllStringSubmatch(svg, -1) {
		ticks = append(ticks, m[1])
	}
	fmt.Println(strings.Join(ticks, " "))
	fmt.Println(strings.Contains(svg, ">layer 2<"), strings.Contains(svg, ">forward<"))
	// Output:
	// true 2
	// 88% 90% 92% 94% 96%
	// true true
}
