package main

// Tests of order input: order files in binnet's layer numbers or the
// official code's module indices, and typos in them; the sensitivity
// results of ascend and descend.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// writeOrderFile writes content to a file name in a temporary folder and
// returns its path.
func writeOrderFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOrderFileTypo: an order file that is neither binnet's layer numbers
// nor the model's official module indices (a typo, numbers from 0) is
// refused naming both readings, before anything trains, rather than ranked
// into some order as it used to be.
func TestOrderFileTypo(t *testing.T) {
	for _, c := range []struct {
		model, content, want string
	}{
		{"mlp-300-100", "[1,2,4]", "[1,2,4]: neither binnet's layer numbers 1..3 (4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"mlp-300-100", "[2,3,4]", "(4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"mlp-784-784", "[0,1,2]", "[0,1,2]: neither binnet's layer numbers 1..3 (0 is out of range) nor the official code's module indices of mlp-784-784 (2,5,9)"},
		{"vgg5", "[1,2,3,4,6]", "nor the official code's module indices of vgg5 (2,5,10,13,16)"},
		// The official MLP's file for a VGG-5 model: the wrong length.
		{"vgg5", "[2,9,5]", "lists 3 layers, the network has 5 binarizable layers"},
		// The official code has no cnn: its numbers only.
		{"cnn", "[2,9,5]", "[2,9,5]: not binnet's layer numbers 1..3 (9 is out of range)"},
	} {
		path := writeOrderFile(t, "a.json", c.content)
		stderr := mustRefuse(t, 1, []string{"order file " + path + " ", c.want}, "schedule", "-model", c.model, "-order", path, "-epochs", "6", "-epochs-per-layer", "1")
		if strings.Contains(stderr, "module indices of "+c.model+" [") {
			t.Errorf("%s %s: refused, yet said to be read as module indices:\n%s", c.model, c.content, stderr)
		}
	}
	// compare and train refuse it as schedule does, naming the order.
	path := writeOrderFile(t, "typo.json", "[1,2,4]")
	mustRefuse(t, 1, []string{`order "` + path + `"`, "neither binnet's layer numbers 1..3"},
		"compare", "-orders", "forward;"+path, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1")
	mustRefuse(t, 1, []string{"neither binnet's layer numbers 1..3"},
		"train", "-order", path, "-epochs", "3", "-epochs-per-layer", "1", "-out", filepath.Join(t.TempDir(), "run"))
}

// TestOrderFileOfficialNote: a layer file of the official code is read as
// its module indices, ranked, and the command says so on stderr once, even
// where the schedule is built for several seeds (compare); binnet's own
// numbers need no note.
func TestOrderFileOfficialNote(t *testing.T) {
	stdout, stderr := mustCLI(t, "schedule", "-order", "testdata/official-mlp3-layers-132.json", "-epochs", "3", "-epochs-per-layer", "1")
	note := "order file testdata/official-mlp3-layers-132.json: the official code's module indices of mlp-300-100 [2,9,5], ranked: 1,3,2\n"
	if !strings.Contains(stdout, "order 1,3,2") || stderr != note {
		t.Errorf("schedule of mlp3_layers_132.json: stdout\n%s\nstderr %q, want order 1,3,2 and the note %q", stdout, stderr, note)
	}
	_, stderr = mustCLI(t, "compare", "-orders", "testdata/official-mlp3-layers-132.json", "-seeds", "1,2", "-epochs", "3", "-epochs-per-layer", "1",
		"-train-size", "200", "-val-size", "100", "-test-size", "100", "-quiet")
	if n := strings.Count(stderr, note); n != 1 {
		t.Errorf("compare of 2 seeds said the note %d times, want once:\n%s", n, stderr)
	}
	numbers := writeOrderFile(t, "numbers.json", "[1, 3, 2]")
	if stdout, stderr := mustCLI(t, "schedule", "-order", numbers, "-epochs", "3", "-epochs-per-layer", "1"); !strings.Contains(stdout, "order 1,3,2") || stderr != "" {
		t.Errorf("schedule of [1, 3, 2]: stdout\n%s\nstderr %q, want order 1,3,2 and no note", stdout, stderr)
	}
}

// writeSensitivity writes a 3-layer sensitivity result of mlp-300-100 on
// dataset with seed to name in dir and returns its path.
func writeSensitivity(t *testing.T, dir, name, dataset string, seed int64) string {
	t.Helper()
	r := noisyResult(seed, [3]float64{0.97, 0.98, 0.96}, [3]float64{})
	r.Model, r.Dataset = "mlp-300-100", dataset
	path := filepath.Join(dir, name)
	if err := sensitivity.WriteResultFile(path, r); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSensitivityOtherData: -order ascend|descend refuses a sensitivity
// result made on another data set than the run's (as it refuses another
// model's; MNIST and its embedded sample count as one), naming the file and
// both sets, before any data is read; and
// refuses a file, or a seed, listed twice in -sensitivity, which pooled
// would count as two seeds.
func TestSensitivityOtherData(t *testing.T) {
	dir := t.TempDir()
	fashion := writeSensitivity(t, dir, "fashion.json", "fashion-mnist", 1)
	mnist := writeSensitivity(t, dir, "mnist.json", "mnist", 1)
	mnist2 := writeSensitivity(t, dir, "mnist2.json", "mnist", 2)
	sample1 := writeSensitivity(t, dir, "sample1.json", "sample", 1)
	sample1b := writeSensitivity(t, dir, "sample1-copy.json", "sample", 1)
	sample2 := writeSensitivity(t, dir, "sample2.json", "sample", 2)
	out := filepath.Join(dir, "run")
	train := func(extra ...string) []string {
		return append([]string{"train", "-order", "ascend", "-epochs", "3", "-epochs-per-layer", "1", "-out", out}, extra...)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		// The embedded sample by default: Fashion-MNIST's ranking is not taken for it.
		{train("-sensitivity", fashion), []string{"-sensitivity " + fashion + ":", `made on data set "fashion-mnist", not "sample"`}},
		{train("-sensitivity", sample1+","+mnist2), []string{"cannot pool result 2 (mlp-300-100 on mnist"}},
		{train("-dataset", "mnist", "-data-dir", filepath.Join(dir, "no-data"), "-sensitivity", fashion),
			[]string{"-sensitivity " + fashion + ":", `made on data set "fashion-mnist", not "mnist": run the sensitivity pre-training on "mnist"`}},
		// -data-dir alone means the MLPs' mnist.
		{train("-data-dir", filepath.Join(dir, "no-data"), "-sensitivity", fashion), []string{`not "mnist"`}},
		{train("-sensitivity", sample1+","+sample1), []string{sample1 + " is listed twice (as " + sample1 + ")", "two seeds"}},
		{train("-sensitivity", sample1+","+filepath.Join(dir, ".", "sample1.json")), []string{"is listed twice"}},
		{train("-sensitivity", sample1+","+sample2+","+sample1b), []string{sample1 + " and " + sample1b + " both hold a pre-training of seed 1"}},
	} {
		mustRefuse(t, 1, c.want, c.args...)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%v: output folder made (%v)", c.args, err)
		}
	}
	// compare refuses it as train does.
	mustRefuse(t, 1, []string{`order "descend"`, `made on data set "fashion-mnist", not "sample"`},
		"compare", "-orders", "forward;descend", "-sensitivity", fashion, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1")

	// MNIST's own ranking guides a run on its embedded sample.
	if run := tinyTrain(t, "ascend", "-epochs", "3", "-epochs-per-layer", "1", "-sensitivity", mnist); run == "" {
		t.Fatal("no run folder")
	}

	// Results of the run's data set: the run records their files.
	run := tinyTrain(t, "ascend", "-epochs", "3", "-epochs-per-layer", "1", "-sensitivity", sample1+", "+sample2)
	res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.SensitivityFiles, []string{sample1, sample2}) || schedule.FormatPermutation(res.Schedule.Order()) != "3,1,2" {
		t.Errorf("results: sensitivity_files %q, order %s; want [%s %s] and 3,1,2", res.SensitivityFiles, schedule.FormatPermutation(res.Schedule.Order()), sample1, sample2)
	}
	// Other orders record none.
	run = tinyTrain(t, "forward", "-epochs", "3", "-epochs-per-layer", "1")
	if res, err := training.ReadResults(filepath.Join(run, training.ResultsFile)); err != nil || res.SensitivityFiles != nil {
		t.Errorf("forward run: sensitivity_files %q, %v; want none", res.SensitivityFiles, err)
	}
}

// TestScheduleEpochsMessage: a schedule with too few epochs is explained in
// the flags' terms, saying which value is the preset's default, not in the
// schedule package's field names.
func TestScheduleEpochsMessage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-epochs", "1"}, []string{"3 stages of 150 epochs (-epochs-per-layer defaults to the preset's 150);",
			"so -epochs must be at least 301 for the last layer to train binary for at least one epoch, got 1\n"}},
		{[]string{"-epochs-per-layer", "300"}, []string{"3 stages of 300 epochs;", "-epochs must be at least 601", "got 450 (-epochs defaults to the preset's 450)"}},
		{[]string{"-epochs", "4", "-epochs-per-layer", "2"}, []string{"3 stages of 2 epochs;", "-epochs must be at least 5", "got 4\n"}},
	} {
		stderr := mustRefuse(t, 1, c.want, append([]string{"schedule"}, c.args...)...)
		if strings.Contains(stderr, "TotalEpochs") || strings.Contains(stderr, "EpochsPerStage") {
			t.Errorf("schedule %v: a Go field name in %q", c.args, stderr)
		}
	}
	// compare's own defaults (12 epochs, 4 per layer) are not the preset's.
	stderr := mustRefuse(t, 1, []string{`order "forward"`, "3 stages of 4 epochs;", "-epochs must be at least 9", "got 2\n"},
		"compare", "-epochs", "2", "-orders", "forward", "-seeds", "1")
	if strings.Contains(stderr, "preset") {
		t.Errorf("compare: %q", stderr)
	}
}

// TestUnusedSensitivity: -sensitivity with an order that does not read it
// is warned about in train and schedule, and refused by compare and sweep
// when none of their orders reads it (a missing file is then never
// opened); sweep passes it on only to the runs of the orders that read it.
func TestUnusedSensitivity(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	warning := "warning: -sensitivity " + missing + " is not read: -order forward does not use it (only ascend and descend do)\n"
	_, stderr := mustCLI(t, "schedule", "-order", "forward", "-sensitivity", missing, "-epochs", "3", "-epochs-per-layer", "1")
	if stderr != warning {
		t.Errorf("schedule: stderr %q, want %q", stderr, warning)
	}
	run := filepath.Join(t.TempDir(), "run")
	code, _, stderr := cli(t, "train", "-order", "forward", "-sensitivity", missing, "-epochs", "3", "-epochs-per-layer", "1",
		"-train-size", "200", "-val-size", "100", "-test-size", "100", "-quiet", "-out", run)
	if code != 0 || stderr != warning {
		t.Errorf("train: exit %d, stderr %q; want 0 and %q", code, stderr, warning)
	}
	mustRefuse(t, 1, []string{"-sensitivity " + missing + ": none of -orders forward;reverse reads it (only ascend and descend do)"},
		"compare", "-orders", "forward;reverse", "-sensitivity", missing, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1")
	mustRefuse(t, 1, []string{"-sensitivity " + missing + ": none of -orders forward;reverse reads it (only ascend and descend do)"},
		"sweep", "-orders", "forward;reverse", "-sensitivity", missing, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1")

	// A sweep of forward (which does not read it) and ascend (3,1,2 by this file).
	sens := writeSensitivity(t, t.TempDir(), "sensitivity.json", "sample", 1)
	out := filepath.Join(t.TempDir(), "sweep")
	_, stderr = mustCLI(t, "sweep", "-orders", "forward;ascend", "-sensitivity", sens, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1",
		"-train-size", "200", "-val-size", "100", "-test-size", "100", "-quiet", "-out", out)
	if strings.Contains(stderr, "is not read") {
		t.Errorf("sweep passed -sensitivity to the forward run:\n%s", stderr)
	}
	res, err := training.ReadResults(filepath.Join(out, "ascend-seed1", training.ResultsFile))
	if err != nil || res.Status != training.StatusCompleted || schedule.FormatPermutation(res.Schedule.Order()) != "3,1,2" || len(res.SensitivityFiles) != 1 {
		t.Errorf("the ascend run: %+v, %v", res, err)
	}
}
