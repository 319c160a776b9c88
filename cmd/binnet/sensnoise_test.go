package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// noisyResult is a 3-layer sensitivity result of seed with the given
// accuracies and standard deviations (0: unknown) for layers 1, 2 and 3.
func noisyResult(seed int64, acc, sd [3]float64) *sensitivity.Result {
	r := &sensitivity.Result{Model: "mlp-784-784", Dataset: "mnist", Epochs: 10, Seed: seed, NumLayers: 3}
	for i := range 3 {
		r.Layers = append(r.Layers, sensitivity.LayerResult{Layer: i + 1, ValAccuracy: acc[i], ValLoss: 0.1, Epochs: 10, Seconds: 10,
			ValAccuracySD: sd[i]})
	}
	return r
}

// TestReportSensitivityNoise checks report's sensitivity table: each
// layer's noise, the neighbours the noise does not resolve (hand-checked
// below), "?" for files without noise figures, the line on whether the seeds
// agree, and no runs table for a folder of sensitivity results alone.
func TestReportSensitivityNoise(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []*sensitivity.Result{
		// Descend 1 (0.980), 2 (0.975), 3 (0.960): 1 vs 2, gap 0.005 <
		// hypot(0.0041, 0.003) ≈ 0.0051: unresolved; 2 vs 3, gap 0.015 >
		// hypot(0.003, 0.002) ≈ 0.0036: resolved.
		noisyResult(1, [3]float64{0.980, 0.975, 0.960}, [3]float64{0.0041, 0.003, 0.002}),
		// Descend 2, 1, 3, all resolved.
		noisyResult(2, [3]float64{0.970, 0.990, 0.950}, [3]float64{0.001, 0.001, 0.001}),
		// No noise recorded.
		noisyResult(3, [3]float64{0.970, 0.990, 0.950}, [3]float64{}),
	} {
		sub := filepath.Join(dir, "sens-seed"+string(rune('0'+r.Seed)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := sensitivity.WriteResultFile(filepath.Join(sub, sensitivity.ResultFile), r); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _ := mustCLI(t, "report", "-runs", dir)
	for _, want := range []string{
		"| mlp-784-784 | mnist | 10 | 1 | 1: 0.9800 (0.0041), 2: 0.9750 (0.0030), 3: 0.9600 (0.0020) | 3,2,1 | 1,2,3 | 1≈2 | 30 |",
		"| mlp-784-784 | mnist | 10 | 2 | 1: 0.9700 (0.0010), 2: 0.9900 (0.0010), 3: 0.9500 (0.0010) | 3,1,2 | 2,1,3 | none | 30 |",
		"| mlp-784-784 | mnist | 10 | 3 | 1: 0.9700, 2: 0.9900, 3: 0.9500 | 3,1,2 | 2,1,3 | ? | 30 |",
		// Means over the seeds: layer 1 0.97333, layer 2 0.985, layer 3 0.95333.
		"mlp-784-784 on mnist, 10 epochs per layer: descend orders 1,2,3 (seed 1), 2,1,3 (seed 2), 2,1,3 (seed 3); the seeds disagree: " +
			"the guided orders depend on the seed. Ranked by the mean over the 3 seeds: descend 2,1,3, ascend 3,1,2.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report has no %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "| protocol |") {
		t.Errorf("a folder of sensitivity results alone prints a runs table:\n%s", stdout)
	}
}

func TestUnresolvedLines(t *testing.T) {
	r := noisyResult(1, [3]float64{0.980, 0.975, 0.960}, [3]float64{0.0041, 0.003, 0.002})
	if err := r.Finalize(); err != nil {
		t.Fatal(err)
	}
	lines := unresolvedLines(r)
	want := "not resolved: layers 1 and 2 differ by 0.0050 in validation accuracy, less than its movement between epochs (sd 0.0041 and 0.0030 over the last 5)"
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("unresolvedLines = %q, want one line starting %q", lines, want)
	}
}

// TestTrainPooledSensitivity trains with -order descend and two
// sensitivity files: the order is the one their mean accuracies rank
// (hand-computed), which neither file ranks alone.
func TestTrainPooledSensitivity(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, r := range []*sensitivity.Result{
		// Layer means: 1 0.9700, 2 0.9725, 3 0.9650: descend 2,1,3.
		noisyResult(1, [3]float64{0.980, 0.975, 0.960}, [3]float64{}), // alone: 1,2,3
		noisyResult(2, [3]float64{0.960, 0.970, 0.970}, [3]float64{}), // alone: 2,3,1 (a tie broken by the lower layer)
	} {
		r.Model, r.Dataset = "mlp-300-100", "sample" // tinyTrain's data
		path := filepath.Join(dir, "seed"+string(rune('0'+r.Seed))+".json")
		if err := sensitivity.WriteResultFile(path, r); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	run := tinyTrain(t, "descend", "-epochs", "3", "-epochs-per-layer", "1", "-sensitivity", strings.Join(files, ","))
	res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := schedule.FormatPermutation(res.Schedule.Order()); got != "2,1,3" {
		t.Errorf("pooled descend order %s, want 2,1,3", got)
	}
	// Results of another model cannot be pooled into this one's order.
	other := noisyResult(3, [3]float64{0.9, 0.9, 0.9}, [3]float64{})
	otherPath := filepath.Join(dir, "other.json")
	if err := sensitivity.WriteResultFile(otherPath, other); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, 1, []string{"-sensitivity", "cannot pool result 2 (mlp-784-784"}, "train", "-model", "mlp-300-100", "-order", "descend",
		"-sensitivity", files[0]+","+otherPath, "-epochs", "3", "-epochs-per-layer", "1", "-out", filepath.Join(dir, "refused"))
}

// TestSensitivitySeeds: sensitivity -seeds 1,2 runs one pre-training per
// seed in OUT/seed-N, each the same as sensitivity -seed N, and pools them
// into OUT/sensitivity.json: each layer's accuracy the mean of the seeds'
// (checked against their files), the orders those means rank, the seeds
// listed. A re-run trains nothing; train -sensitivity OUT/sensitivity.json
// trains the pooled order; report lists the pool on a line of its own, not
// as another seed's result.
func TestSensitivitySeeds(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sens")
	args := []string{"sensitivity", "-model", "mlp-300-100", "-epochs", "1", "-train-size", "1000", "-val-size", "500", "-test-size", "500"}
	stdout, _ := mustCLI(t, append(args, "-seeds", "1,2", "-out", out)...)
	single := filepath.Join(dir, "seed2-alone")
	mustCLI(t, append(args, "-seed", "2", "-quiet", "-out", single)...)

	var seeds []*sensitivity.Result
	for _, s := range []int{1, 2} {
		r, err := sensitivity.ReadResult(filepath.Join(out, fmt.Sprintf("seed-%d", s), sensitivity.ResultFile))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seed != int64(s) || len(r.Seeds) != 0 {
			t.Errorf("seed-%d holds seed %d, seeds %v", s, r.Seed, r.Seeds)
		}
		seeds = append(seeds, r)
	}
	alone, err := sensitivity.ReadResult(filepath.Join(single, sensitivity.ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range alone.Layers {
		if l.ValAccuracy != seeds[1].Layers[i].ValAccuracy || l.ValLoss != seeds[1].Layers[i].ValLoss {
			t.Errorf("layer %d: seed 2 under -seeds %v, alone %v", l.Layer, seeds[1].Layers[i], l)
		}
	}
	pooled, err := sensitivity.ReadResult(filepath.Join(out, sensitivity.ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pooled.Seeds) != "[1 2]" {
		t.Errorf("pooled seeds %v, want [1 2]", pooled.Seeds)
	}
	means := make([]sensitivity.LayerResult, 3)
	for i := range means {
		a, b := seeds[0].Layers[i], seeds[1].Layers[i]
		means[i] = sensitivity.LayerResult{Layer: i + 1, ValAccuracy: (a.ValAccuracy + b.ValAccuracy) / 2, ValLoss: (a.ValLoss + b.ValLoss) / 2}
		if got := pooled.Layers[i]; math.Abs(got.ValAccuracy-means[i].ValAccuracy) > 1e-12 || math.Abs(got.ValLoss-means[i].ValLoss) > 1e-12 {
			t.Errorf("pooled layer %d: accuracy %v, loss %v; the seeds' means are %v, %v", i+1, got.ValAccuracy, got.ValLoss, means[i].ValAccuracy, means[i].ValLoss)
		}
	}
	asc, desc := sensitivity.Rank(means)
	if fmt.Sprint(pooled.OrderAscend, pooled.OrderDescend) != fmt.Sprint(asc, desc) {
		t.Errorf("pooled orders %v %v, the means rank %v %v", pooled.OrderAscend, pooled.OrderDescend, asc, desc)
	}
	for _, want := range []string{"seed 1 (", "seed 2 (", "pooled over seeds 1,2:", "mean val accuracy (2 seeds)",
		"order descend " + schedule.FormatPermutation(zeroBased(desc)), "written to " + filepath.Join(out, sensitivity.ResultFile)} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output has no %q:\n%s", want, stdout)
		}
	}

	// A re-run finds every layer of both seeds done.
	_, stderr := mustCLI(t, append(args, "-seeds", "1,2", "-out", out)...)
	if n := strings.Count(stderr, "(already done)"); n != 6 || strings.Contains(stderr, "epoch   1/") {
		t.Errorf("re-run: %d layers already done, want 6, and no training:\n%s", n, stderr)
	}

	run := tinyTrain(t, "descend", "-epochs", "3", "-epochs-per-layer", "1", "-sensitivity", filepath.Join(out, sensitivity.ResultFile))
	res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schedule.FormatPermutation(res.Schedule.Order()), schedule.FormatPermutation(zeroBased(desc)); got != want {
		t.Errorf("trained order %s, the pooled descend order is %s", got, want)
	}

	report, _ := mustCLI(t, "report", "-runs", out)
	if n := strings.Count(report, "| mlp-300-100 | sample | 1 |"); n != 2 {
		t.Errorf("report tables %d sensitivity results, want the 2 seeds':\n%s", n, report)
	}
	if want := fmt.Sprintf("Pooled sensitivity %s: mlp-300-100 on sample, 1 epochs per layer, seeds 1,2: descend %s", filepath.Join(out, sensitivity.ResultFile),
		schedule.FormatPermutation(zeroBased(desc))); !strings.Contains(report, want) {
		t.Errorf("report has no %q:\n%s", want, report)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-seeds", "1"}, "give at least two seeds"},
		{[]string{"-seeds", "1,1"}, "seed 1 is listed twice"},
		{[]string{"-seeds", "1,x"}, `"x" is not an integer`},
		{[]string{"-seeds", "1,2", "-seed", "3"}, "-seed and -seeds: give one"},
	} {
		mustRefuse(t, 1, []string{c.want}, append(append(args, "-out", filepath.Join(dir, "refused")), c.args...)...)
	}
}

// TestReportGuided checks how report pairs runs with sensitivity results
// to name guided orders: a run of 3,1,2 (1 epoch per layer) is "ascend" of
// a 2-epoch result when that is the seed's only result; with a second
// result of 1 epoch per layer, whose descend order it is, only that pairing
// counts (and none when that result picks other orders); with two results
// of other epochs, each names a row; a result made with the evaluation side
// effect does not count for a run without it, and the report says so below
// the tables.
func TestReportGuided(t *testing.T) {
	res, err := training.ReadResults(filepath.Join(tinyTrain(t, "3,1,2", "-epochs", "3", "-epochs-per-layer", "1"), training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	result := func(epochs int, acc [3]float64) *sensitivity.Result {
		r := &sensitivity.Result{Model: res.Model, Dataset: res.Dataset, Epochs: epochs, Seed: res.Seed, NumLayers: 3}
		for i := range 3 {
			r.Layers = append(r.Layers, sensitivity.LayerResult{Layer: i + 1, ValAccuracy: acc[i], ValLoss: 0.1, Epochs: epochs, Seconds: 1})
		}
		return r
	}
	withReset := func(r *sensitivity.Result) *sensitivity.Result { r.ResetLatent = true; return r }
	ascend312 := [3]float64{0.97, 0.98, 0.96}  // ascend (lowest first) 3,1,2
	descend312 := [3]float64{0.97, 0.96, 0.98} // descend (highest first) 3,1,2
	for _, c := range []struct {
		name    string
		results []*sensitivity.Result
		want    []string
		notWant []string
	}{
		{"one result", []*sensitivity.Result{result(2, ascend312)},
			[]string{"| 3,1,2 | 1 (seeds 1) |", "| ascend (guided, 2-epoch sensitivity) | 1 (seeds 1) |"}, []string{"No guided rows"}},
		{"an exact one", []*sensitivity.Result{result(2, ascend312), result(1, descend312)},
			[]string{"| descend (guided) | 1 (seeds 1) |"}, []string{"ascend (guided", "No guided rows"}},
		{"an exact one that picks other orders", []*sensitivity.Result{result(2, ascend312), result(1, [3]float64{0.98, 0.97, 0.96})},
			[]string{"| 3,1,2 | 1 (seeds 1) |"}, []string{"(guided", "No guided rows"}},
		{"one made with the evaluation side effect", []*sensitivity.Result{withReset(result(1, descend312))},
			[]string{"| mlp-300-100 | sample | 1 (official-eval-reset) | 1 |",
				"No guided rows for the runs of mlp-300-100 on sample, 1000 train, seed 1, 3 epochs, 1/layer: 1 sensitivity results of that seed, all made with -official-eval-reset, the runs without"},
			[]string{"(guided"}},
		{"two of other epochs", []*sensitivity.Result{result(2, ascend312), result(5, descend312)},
			[]string{"| ascend (guided, 2-epoch sensitivity) | 1 (seeds 1) |", "| descend (guided, 5-epoch sensitivity) | 1 (seeds 1) |"},
			[]string{"No guided rows"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := training.WriteResults(filepath.Join(dir, "run", training.ResultsFile), res); err != nil {
				t.Fatal(err)
			}
			for i, r := range c.results {
				sub := filepath.Join(dir, fmt.Sprintf("sens%d", i))
				if err := os.MkdirAll(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := sensitivity.WriteResultFile(filepath.Join(sub, sensitivity.ResultFile), r); err != nil {
					t.Fatal(err)
				}
			}
			stdout, _ := mustCLI(t, "report", "-runs", dir)
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("no %q in:\n%s", w, stdout)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(stdout, w) {
					t.Errorf("%q in:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestReportShortSensitivity: a table with a pre-training shorter than
// sensitivity.NoiseEpochs says its sd covers all of a shorter run, and a
// one-epoch pre-training has no noise to judge by ("n/a (1 epoch)", not
// the "?" of a file without noise figures); with only long pre-trainings
// the header stays as it was.
func TestReportShortSensitivity(t *testing.T) {
	write := func(dir string, rs ...*sensitivity.Result) {
		for _, r := range rs {
			sub := filepath.Join(dir, fmt.Sprintf("sens-e%d-seed%d", r.Epochs, r.Seed))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := sensitivity.WriteResultFile(filepath.Join(sub, sensitivity.ResultFile), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	short := func(epochs int, sd float64) *sensitivity.Result {
		r := noisyResult(1, [3]float64{0.970, 0.990, 0.950}, [3]float64{sd, sd, sd})
		r.Epochs = epochs
		for i := range r.Layers {
			r.Layers[i].Epochs = epochs
		}
		return r
	}
	dir := t.TempDir()
	write(dir, short(1, 0), short(2, 0.001))
	stdout, _ := mustCLI(t, "report", "-runs", dir)
	for _, want := range []string{
		"| layer val accuracies (sd over the last 5 epochs, or all of a shorter run) |",
		"| mlp-784-784 | mnist | 1 | 1 | 1: 0.9700, 2: 0.9900, 3: 0.9500 | 3,1,2 | 2,1,3 | n/a (1 epoch) | 30 |",
		"| mlp-784-784 | mnist | 2 | 1 | 1: 0.9700 (0.0010), 2: 0.9900 (0.0010), 3: 0.9500 (0.0010) | 3,1,2 | 2,1,3 | none | 30 |",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report has no %q:\n%s", want, stdout)
		}
	}
	long := t.TempDir()
	write(long, short(10, 0.001))
	if stdout, _ := mustCLI(t, "report", "-runs", long); !strings.Contains(stdout, "| layer val accuracies (sd over the last 5 epochs) |") {
		t.Errorf("a table of 10-epoch pre-trainings changed its header:\n%s", stdout)
	}
}

// TestSensitivitySeedAgreementRepeatedSeed: report's line on the seeds of
// one model, data and epochs ranks by their mean (sensitivity.Pool), and,
// when a seed comes twice (a study and its copy), says why it does not
// rather than printing empty orders.
func TestSensitivitySeedAgreementRepeatedSeed(t *testing.T) {
	a := noisyResult(1, [3]float64{0.98, 0.975, 0.96}, [3]float64{})
	b := noisyResult(2, [3]float64{0.96, 0.97, 0.97}, [3]float64{})
	for _, r := range []*sensitivity.Result{a, b} {
		if err := r.Finalize(); err != nil {
			t.Fatal(err)
		}
	}
	lines := seedAgreement([]*sensitivity.Result{a, b})
	want := "\nmlp-784-784 on mnist, 10 epochs per layer: descend orders 1,2,3 (seed 1), 2,3,1 (seed 2); the seeds disagree: the guided orders depend on the seed. " +
		"Ranked by the mean over the 2 seeds: descend 2,1,3, ascend 3,1,2."
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("two seeds: %q, want %q", lines, want)
	}
	lines = seedAgreement([]*sensitivity.Result{a, a})
	want = "\nmlp-784-784 on mnist, 10 epochs per layer: descend orders 1,2,3 (seed 1), 1,2,3 (seed 1); the seeds agree. " +
		"Not ranked by their mean: sensitivity: cannot pool result 2 (seed 1): it is result 1 again; pool the results of different seeds."
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("one seed twice: %q, want %q", lines, want)
	}
}
