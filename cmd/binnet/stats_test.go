package main

import (
	"math"
	"strings"
	"testing"
)

// TestTQuantile975 checks Student's t quantiles against published values
// (and the normal's 1.95996 in the limit) on both sides of the table's end.
func TestTQuantile975(t *testing.T) {
	for _, c := range []struct {
		df   int
		want float64
	}{{1, 12.7062}, {2, 4.3027}, {4, 2.7764}, {9, 2.2622}, {30, 2.0423}, {31, 2.0395}, {40, 2.0211}, {60, 2.0003}, {120, 1.9799}, {100000, 1.9600}} {
		if got := tQuantile975(c.df); math.Abs(got-c.want) > 6e-5 {
			t.Errorf("t(0.975, %d) = %.5f, want %.4f", c.df, got, c.want)
		}
	}
	if !math.IsNaN(tQuantile975(0)) {
		t.Error("t with 0 degrees of freedom is a number")
	}
	if got := confidence95([]float64{0.5}, 4); got != "" {
		t.Errorf("interval of one value: %q", got)
	}
	// 1, 2, 3: mean 2, sd 1, standard error 1/sqrt(3); t(2) = 4.3027: 2 ± 2.4842.
	if got := confidence95([]float64{1, 2, 3}, 4); got != "-0.4842 to +4.4842" {
		t.Errorf("interval of 1, 2, 3: %q", got)
	}
}

// TestMilestonesNote checks when train notes that the preset's
// learning-rate milestones fall after the run's end.
func TestMilestonesNote(t *testing.T) {
	for _, c := range []struct {
		milestones []int
		epochs     int
		given      bool
		note       bool
	}{
		{[]int{1000, 1100}, 60, false, true}, {[]int{1000, 1100}, 1000, false, true}, {[]int{1000, 1100}, 1001, false, false},
		{[]int{1000, 1100}, 60, true, false}, {nil, 60, false, false},
	} {
		got := milestonesNote(c.milestones, c.epochs, c.given)
		if (got != "") != c.note {
			t.Errorf("milestones %v, %d epochs, given %v: %q", c.milestones, c.epochs, c.given, got)
		}
	}
	if got := milestonesNote([]int{1000, 1100}, 60, false); !strings.Contains(got, "milestones 1000,1100 lie beyond this run's 60 epochs") {
		t.Errorf("note %q", got)
	}
}
