package main

import (
	"fmt"
	"strings"
)

// Issue 7's and issue 3's CPU targets, checked against the figures of a
// report (medians of the rounds).
const (
	targetMLPRatio  = 1.5  // binary MLPs at batch 100: binnet / PyTorch best
	targetPeakShare = 0.40 // binary MLPs at batch 1000: share of the sgemm peak
	targetLoading   = 5.0  // end-to-end epoch: data and loop overhead, % of the steps alone
	targetConvRatio = 1.0  // binary cnn and vgg5: binnet / PyTorch best
)

// epochOverhead is, per round, the end-to-end epoch's time beyond its bare
// training steps (validation and compilation left out), in % of the steps.
func epochOverhead(r *EpochResult) []float64 {
	var over []float64
	for i := range r.EpochSeconds {
		loop := r.EpochSeconds[i] - r.ValSeconds[i] - r.CompileSeconds[i]
		over = append(over, 100*(loop-r.StepsOnly[i])/r.StepsOnly[i])
	}
	return over
}

// targetsMarkdown writes the table of the CPU targets against this report's
// figures: what each target asks, the measured medians, and whether every
// one of them meets it. A target this report has no figures for is left out.
func targetsMarkdown(p func(string, ...any), rep *Report) {
	type row struct{ target, measured, verdict string }
	var rows []row
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	var ratio100, peak1000 []string
	okRatio, okPeak := true, true
	peak, _ := rep.Sgemm.Peak()
	for _, r := range rep.Steps {
		if !r.Binary {
			continue
		}
		_, best := r.bestPeer()
		switch r.Batch {
		case 100:
			x := median(ratios(r.Binnet, best))
			okRatio = okRatio && x >= targetMLPRatio
			ratio100 = append(ratio100, fmt.Sprintf("%s %.2fx", r.Name, x))
		case 1000:
			share := r.gflops(median(r.Binnet)) / peak
			okPeak = okPeak && share >= targetPeakShare
			peak1000 = append(peak1000, fmt.Sprintf("%s %.0f%%", r.Name, 100*share))
		}
	}
	if len(ratio100) > 0 {
		rows = append(rows, row{fmt.Sprintf("binary MLPs at batch 100: at least %.1fx PyTorch's examples/s (its best thread count)", targetMLPRatio),
			strings.Join(ratio100, ", "), verdict(okRatio)})
	}
	if len(peak1000) > 0 {
		rows = append(rows, row{fmt.Sprintf("binary MLPs at batch 1000: at least %.0f%% of the sgemm peak (%.0f GFLOP/s)", 100*targetPeakShare, peak),
			strings.Join(peak1000, ", "), verdict(okPeak)})
	}
	if len(rep.Epochs) > 0 {
		var over []string
		ok := true
		for _, r := range rep.Epochs {
			x := median(epochOverhead(r))
			ok = ok && x < targetLoading
			over = append(over, fmt.Sprintf("%s %+.1f%%", r.Model, x))
		}
		rows = append(rows, row{fmt.Sprintf("end-to-end MNIST epoch: data loading adds less than %.0f%% to the training steps alone", targetLoading),
			strings.Join(over, ", "), verdict(ok)})
	}
	if rep.Conv != nil {
		var conv []string
		ok, any := true, false
		for _, r := range rep.Conv.Steps {
			if !r.Binary || (r.Model != "cnn" && r.Model != "vgg5") {
				continue
			}
			_, best := r.bestPeer()
			x := median(ratios(r.Binnet, best))
			ok, any = ok && x >= targetConvRatio, true
			conv = append(conv, fmt.Sprintf("%s %.2fx", r.Model, x))
		}
		if any {
			rows = append(rows, row{fmt.Sprintf("binary cnn and VGG-5 at batch 100: at least %.1fx PyTorch's examples/s (its best thread count)", targetConvRatio),
				strings.Join(conv, ", "), verdict(ok)})
		}
	}
	if len(rows) == 0 {
		return
	}
	p("## The CPU targets at a glance\n\n")
	p("Issue 7's and issue 3's CPU targets against this report's medians (the sections below give the rounds' spread).\n")
	p("The GPU targets are in the GPU sections ([H200, 2026-11-28](#gpu-one-nvidia-h200-measured-2026-11-28-19482003-utc), " +
		"[H100, 2026-11-27](#gpu-one-nvidia-h100-measured-2026-11-27-18171833-utc)).\n\n")
	p("| target | measured (median of the paired rounds) | |\n|---|---|---|\n")
	for _, r := range rows {
		p("| %s | %s | %s |\n", r.target, r.measured, r.verdict)
	}
	p("\n")
}
