package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestTargetsMarkdown checks the targets table against hand-made figures:
// one workload under a target makes it "not met", ratios are medians of
// the paired rounds, and the peak share counts 6 FLOPs per dense weight.
func TestTargetsMarkdown(t *testing.T) {
	rep := &Report{Sgemm: Sgemm{GFlops: map[int]float64{1: 100, 2: 200}}}
	step := func(name string, batch, params int, binnet, peer []float64) *StepResult {
		return &StepResult{Workload: Workload{Name: name, Batch: batch, Binary: true}, Params: params,
			Binnet: binnet, Peer: map[int][]float64{1: peer}}
	}
	rep.Steps = []*StepResult{
		// Paired ratios 1.6, 1.4, 2.0: median 1.6.
		step("mlp-a", 100, 1000, []float64{16, 14, 20}, []float64{10, 10, 10}),
		// Ratios 1.2, 1.5, 1.3: median 1.3, under 1.5.
		step("mlp-b", 100, 1000, []float64{12, 15, 13}, []float64{10, 10, 10}),
		// 10,000 examples/s x 6 x 1,000,000 weights = 60 GFLOP/s: 30% of 200.
		step("mlp-a", 1000, 1_000_000, []float64{10000}, []float64{5000}),
	}
	rep.Epochs = []*EpochResult{{Model: "mlp-a", EpochSeconds: []float64{12}, ValSeconds: []float64{1}, CompileSeconds: []float64{0.5}, StepsOnly: []float64{10}}}
	var sb strings.Builder
	targetsMarkdown(func(f string, a ...any) { fmt.Fprintf(&sb, f, a...) }, rep)
	out := sb.String()
	for _, want := range []string{
		"| mlp-a 1.60x, mlp-b 1.30x | **not met** |",
		"at least 40% of the sgemm peak (200 GFLOP/s) | mlp-a 30% | **not met** |",
		"| mlp-a +5.0% | **not met** |", // (12 - 1 - 0.5 - 10) / 10
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cnn") {
		t.Errorf("a conv row without conv figures:\n%s", out)
	}
}
