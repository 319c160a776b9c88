package main

// Bad flag values and output files: every refusal exits non-zero with a
// message naming the flag and the value (or the file), before any work, and
// never touches a user's results or checkpoints.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binnet/binnet/binnet/training"
)

// tinyTrain trains mlp-300-100 for one epoch on 1000 sample images into a
// new folder and returns it.
func tinyTrain(t *testing.T, order string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	mustCLI(t, append([]string{"train", "-model", "mlp-300-100", "-order", order, "-epochs", "1", "-train-size", "1000",
		"-val-size", "500", "-test-size", "500", "-quiet", "-out", dir}, extra...)...)
	return dir
}

// mustRefuse runs the command line and checks that it exits with code and that
// stderr contains every want.
func mustRefuse(t *testing.T, code int, want []string, args ...string) string {
	t.Helper()
	got, stdout, stderr := cli(t, args...)
	if got != code {
		t.Errorf("binnet %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("binnet %s: stderr does not contain %q:\n%s", strings.Join(args, " "), w, stderr)
		}
	}
	if strings.Contains(stderr, "internal error") || strings.Contains(stderr, "epoch   1/") {
		t.Errorf("binnet %s panicked or trained:\n%s", strings.Join(args, " "), stderr)
	}
	return stderr
}

// TestFlagsOutputFiles checks that export -out and speed -cpuprofile refuse
// to overwrite a checkpoint (by its magic bytes, whatever its name), a
// results.json or a sensitivity.json, and a folder, leaving them as they
// were; an ordinary file is overwritten as before.
func TestFlagsOutputFiles(t *testing.T) {
	run := tinyTrain(t, "binary")
	ckpt := filepath.Join(run, training.CheckpointFile)
	results := filepath.Join(run, training.ResultsFile)
	copyOf := filepath.Join(t.TempDir(), "backup.bin") // a checkpoint under another name
	if err := os.WriteFile(copyOf, fileBytes(t, ckpt), 0o644); err != nil {
		t.Fatal(err)
	}
	sens := filepath.Join(t.TempDir(), "sensitivity.json")
	if err := os.WriteFile(sens, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{ckpt: fileBytes(t, ckpt), results: fileBytes(t, results), copyOf: fileBytes(t, copyOf), sens: fileBytes(t, sens)}
	speed := []string{"speed", "-model", "mlp-300-100", "-batch", "10", "-steps", "1", "-windows", "1"}
	for _, c := range []struct {
		path string
		want string
	}{
		{ckpt, "binnet training checkpoint"},
		{copyOf, "binnet training checkpoint"},
		{results, "results.json"},
		{sens, "sensitivity.json"},
	} {
		mustRefuse(t, 1, []string{"-out " + c.path, "refusing to overwrite", c.want}, "export", "-checkpoint", run, "-out", c.path)
		mustRefuse(t, 1, []string{"-cpuprofile " + c.path, "refusing to overwrite", c.want}, append(speed, "-cpuprofile", c.path)...)
	}
	for path, b := range before {
		if !bytes.Equal(fileBytes(t, path), b) {
			t.Errorf("%s was changed", path)
		}
	}
	// A folder is refused up front, and no temporary file is left beside it.
	folder := t.TempDir()
	mustRefuse(t, 1, []string{"-out " + folder, "is a folder"}, "export", "-checkpoint", run, "-out", folder)
	mustRefuse(t, 1, []string{"-cpuprofile " + folder, "is a folder"}, append(speed, "-cpuprofile", folder)...)
	if _, err := os.Stat(folder + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("export -out FOLDER left %s.tmp (%v)", folder, err)
	}
	mustRefuse(t, 1, []string{"-out: empty"}, "export", "-checkpoint", run, "-out", "")
	// Any other file is overwritten.
	other := filepath.Join(t.TempDir(), "old.bnn")
	if err := os.WriteFile(other, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "export", "-checkpoint", run, "-out", other)
	if b := fileBytes(t, other); string(b[:3]) == "old" {
		t.Errorf("export did not overwrite %s", other)
	}
}

// TestFlagsUnfinishedExport checks that exporting a run that did not
// complete warns on stderr with its status and epochs (and still exports),
// and that summary refuses a folder whose checkpoint.bin holds another
// network than its results.json names, as export does.
func TestFlagsUnfinishedExport(t *testing.T) {
	run := tinyTrain(t, "binary")
	res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	completed := *res
	res.Status, res.Error = training.StatusFailed, "interrupted after epoch 1"
	if err := training.WriteResults(filepath.Join(run, training.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := mustCLI(t, "export", "-checkpoint", run, "-out", filepath.Join(t.TempDir(), "m.bnn"))
	if !strings.Contains(stderr, "exporting an unfinished run: status failed after epoch 1 of 1") || !strings.Contains(stdout, "wrote") {
		t.Errorf("export of a failed run: no warning or no file\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}

	// results.json of mlp-784-784 beside the checkpoint of an mlp-300-100.
	mismatch := completed
	mismatch.Model, mismatch.Network = "mlp-784-784", "mlp-784-784-784-10"
	if err := training.WriteResults(filepath.Join(run, training.ResultsFile), &mismatch); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, 1, []string{"-checkpoint " + run, "mlp-784-784", "checkpoint.bin"}, "summary", "-checkpoint", run)
	mustRefuse(t, 1, []string{"/model/dense1/weights"}, "export", "-checkpoint", run, "-out", filepath.Join(t.TempDir(), "m.bnn"))
}

// TestFlagsThreads checks that -threads above 4 x the CPUs is refused (it
// exhausted the runtime's threads or hung), and that the help says so.
func TestFlagsThreads(t *testing.T) {
	tiny := []string{"-epochs", "3", "-epochs-per-layer", "1", "-train-size", "1000", "-val-size", "500", "-test-size", "500", "-quiet"}
	for _, args := range [][]string{
		append([]string{"train", "-threads", "100000"}, tiny...),
		append([]string{"compare", "-threads", "100000", "-orders", "float", "-seeds", "1"}, tiny...),
		{"speed", "-model", "mlp-300-100", "-threads", "100000"},
		append([]string{"sweep", "-threads", "100000", "-out", filepath.Join(t.TempDir(), "sw")}, tiny...),
	} {
		mustRefuse(t, 1, []string{"-threads 100000", "at most", "CPUs"}, args...)
	}
	mustRefuse(t, 1, []string{"-threads -2"}, "speed", "-model", "mlp-300-100", "-threads", "-2")
	_, _, stderr := cli(t, "train", "-h")
	if !regexp.MustCompile(`at most \d+ \(4 x the \d+ CPUs`).MatchString(stderr) {
		t.Errorf("train -h does not give the most threads:\n%s", stderr)
	}
}

// TestFlagsImageSize checks -image-size: speed refuses a size whose step
// cannot fit in memory (it died out of memory), below the network's
// minimum, negative or zero; train refuses it on data sets other than
// imagenet, where it does nothing, and negative sizes.
func TestFlagsImageSize(t *testing.T) {
	// An image of more than 2^30 values is no network binnet builds
	// (models.Validate); a smaller one that a step cannot hold in memory
	// is refused by the memory estimate.
	mustRefuse(t, 1, []string{"-image-size 100000", "input shape [100000 100000 3] has more than 1073741824 values per example"},
		"speed", "-model", "vgg5", "-image-size", "100000")
	if _, ok := memAvailable(); ok {
		start := time.Now()
		mustRefuse(t, 1, []string{"-image-size 4000", "needs about", "memory available"}, "speed", "-model", "vgg5", "-image-size", "4000")
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("speed -image-size 4000 took %v to refuse", d)
		}
	}
	mustRefuse(t, 1, []string{"-image-size -3", "positive"}, "speed", "-model", "vgg5", "-image-size", "-3")
	mustRefuse(t, 1, []string{"-image-size 0", "positive"}, "speed", "-model", "vgg5", "-image-size", "0")
	mustRefuse(t, 1, []string{"-image-size 1", "at least 2x2"}, "speed", "-model", "vgg5", "-image-size", "1")
	mustRefuse(t, 1, []string{"-batch 0"}, "speed", "-model", "vgg5", "-batch", "0")
	mustRefuse(t, 1, []string{"-steps-per-call 0"}, "speed", "-model", "vgg5", "-steps-per-call", "0")
	mustRefuse(t, 1, []string{"-steps-loop", "-steps-per-call 2 or more"}, "speed", "-model", "vgg5", "-steps-loop")
	mustRefuse(t, 1, []string{"While loop", "pure-Go backend", "use XLA"}, "speed", "-model", "mlp-300-100", "-steps-loop", "-steps-per-call", "2",
		"-steps", "2", "-windows", "1", "-threads", "1")
	mustRefuse(t, 1, []string{"-devices 0", "at least 1"}, "speed", "-model", "mlp-300-100", "-devices", "0")
	mustRefuse(t, 1, []string{"-devices 2 with -steps-per-call 2", "one step per call"}, "speed", "-model", "mlp-300-100", "-devices", "2", "-steps-per-call", "2")
	mustRefuse(t, 1, []string{"-devices 2", "data parallel over 2 devices", "has 1"}, "speed", "-model", "mlp-300-100", "-devices", "2",
		"-steps", "2", "-windows", "1", "-threads", "1")

	train := []string{"train", "-epochs", "5", "-epochs-per-layer", "1", "-quiet", "-out", filepath.Join(t.TempDir(), "out")}
	mustRefuse(t, 1, []string{"-devices 2 with -steps-per-call 10", "one step per call"}, append(train, "-devices", "2", "-steps-per-call", "10")...)
	mustRefuse(t, 1, []string{"-image-size 16", "only to -dataset imagenet", "cifar10"}, append(train, "-model", "vgg5", "-dataset", "cifar10", "-image-size", "16")...)
	mustRefuse(t, 1, []string{"-image-size 16", "only to -dataset imagenet", "sample"}, append(train, "-model", "vgg5", "-image-size", "16")...)
	mustRefuse(t, 1, []string{"-image-size -3"}, append(train, "-model", "vgg5", "-image-size", "-3")...)
	mustRefuse(t, 1, []string{"-image-size -3", "positive"}, append(train, "-epochs", "21", "-model", "resnet21", "-dataset", "imagenet", "-data-dir", t.TempDir(), "-image-size", "-3")...)
	mustRefuse(t, 1, []string{"-image-size 8", "at least 32x32"}, append(train, "-epochs", "21", "-model", "resnet21", "-dataset", "imagenet", "-data-dir", t.TempDir(), "-image-size", "8")...)
}

// TestFlagsZeroAndNegative checks that an explicit 0 that used to become the
// preset's value, and negative values, are refused naming the flag.
func TestFlagsZeroAndNegative(t *testing.T) {
	tiny := []string{"-epochs", "3", "-epochs-per-layer", "1", "-quiet"}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "-lr", "0"}, []string{"-lr 0", "learning rate"}},
		{[]string{"train", "-batch", "0"}, []string{"-batch 0"}},
		{[]string{"train", "-batch", "-5"}, []string{"-batch -5"}},
		{[]string{"train", "-devices", "0"}, []string{"-devices 0"}},
		{[]string{"train", "-devices", "-1"}, []string{"-devices -1"}},
		{[]string{"train", "-steps-per-call", "0"}, []string{"-steps-per-call 0: must be at least 1"}},
		{[]string{"train", "-steps-loop"}, []string{"-steps-loop", "-steps-per-call 2 or more (got 1)"}},
		{[]string{"train", "-steps-loop", "-steps-per-call", "3"}, []string{"While loop", "pure-Go backend"}},
		{[]string{"compare", "-steps-per-call", "-2", "-orders", "float", "-seeds", "1"}, []string{"-steps-per-call -2"}},
		{[]string{"train", "-workers", "-5"}, []string{"-workers -5"}},
		{[]string{"train", "-workers", "0"}, []string{"-workers 0"}},
		{[]string{"train", "-train-size", "0"}, []string{"-train-size 0: must be at least 1"}},
		{[]string{"train", "-val-size", "0"}, []string{"-val-size 0: must be at least 1"}},
		{[]string{"train", "-test-size", "0"}, []string{"-test-size 0: must be at least 1"}},
		{[]string{"compare", "-lr", "0", "-orders", "float", "-seeds", "1"}, []string{"-lr 0"}},
		{[]string{"sensitivity", "-lr", "0"}, []string{"-lr 0"}},
		{[]string{"sensitivity", "-parallel", "2", "-batch", "0"}, []string{"-batch 0"}},
	} {
		args := append(append(c.args, tiny...), "-out", filepath.Join(t.TempDir(), "out"))
		if c.args[0] == "sensitivity" {
			args = append(c.args, "-epochs", "1", "-quiet", "-out", filepath.Join(t.TempDir(), "out"))
		}
		mustRefuse(t, 1, c.want, args...)
	}
	mustRefuse(t, 1, []string{"-n -5"}, "infer", "-model", "testdata/no-such.bnn", "-n", "-5")
}

// TestFlagsSweep checks that sweep refuses bad training flags once, before
// any job (no second "lstat" error), and repeated seeds and orders in those
// words; and that a sweep whose jobs all fail before writing anything does
// not run the report of a folder that does not exist.
func TestFlagsSweep(t *testing.T) {
	tiny := []string{"-epochs", "3", "-epochs-per-layer", "1", "-train-size", "1000", "-val-size", "500", "-test-size", "500", "-quiet"}
	out := filepath.Join(t.TempDir(), "sw")
	sweep := func(args ...string) []string {
		return append(append(append([]string{"sweep"}, tiny...), args...), "-out", out)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-lr", "-1"}, []string{"-lr -1", "learning rate"}},
		{[]string{"-optimizer", "nope"}, []string{"-optimizer", `unknown optimizer "nope"`}},
		{[]string{"-data-dir", "/nonexistent"}, []string{"/nonexistent", "not found"}},
		{[]string{"-batch", "0"}, []string{"-batch 0"}},
		{[]string{"-train-size", "100000"}, []string{"-train-size 100000"}},
		{[]string{"-seeds", "1,1"}, []string{"seed 1 is listed twice"}},
		{[]string{"-orders", "forward;forward"}, []string{"order forward is listed twice"}},
		{[]string{"-orders", ";"}, []string{"-orders", "no order given"}},
	} {
		stderr := mustRefuse(t, 1, c.want, sweep(c.args...)...)
		if strings.Contains(stderr, "lstat") || strings.Contains(stderr, "seed 1]") {
			t.Errorf("sweep %v started jobs or ran the report:\n%s", c.args, stderr)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("sweep %v created %s", c.args, out)
		}
	}

	// Jobs that fail before creating their folders (the pure-Go backend has
	// one device): the jobs' error, and no report.
	bin := binnetBinary(t)
	cmd := exec.Command(bin, sweep("-devices", "2", "-orders", "float", "-seeds", "1")...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("sweep -devices 2: %v, want exit code 1", err)
	}
	if !strings.Contains(e.String(), "1 of 1 jobs failed") || strings.Contains(e.String(), "lstat") || strings.Contains(e.String(), "-runs") {
		t.Errorf("sweep -devices 2: stderr:\n%s", e.String())
	}
}

// TestFlagsCompareLists checks that compare refuses an empty -orders and a
// seed or an order listed twice (it trained it twice and counted it as two).
func TestFlagsCompareLists(t *testing.T) {
	compare := []string{"compare", "-epochs", "3", "-epochs-per-layer", "1", "-quiet"}
	mustRefuse(t, 1, []string{`-orders ""`, "no order given"}, append(compare, "-orders", "")...)
	mustRefuse(t, 1, []string{`-seeds "1,1"`, "seed 1 is listed twice"}, append(compare, "-seeds", "1,1")...)
	mustRefuse(t, 1, []string{"order float is listed twice"}, append(compare, "-orders", "float,float", "-seeds", "1")...)
	mustRefuse(t, 1, []string{"-seeds", "no seed given"}, append(compare, "-seeds", "")...)
}

// TestFlagsReport checks report's -runs errors, and that runs with other
// settings are separate rows while the usual rows keep their format, and
// two runs of one seed in one row are an error naming both folders.
func TestFlagsReport(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "a_file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, 1, []string{"-runs " + empty + ": no results.json found under " + empty}, "report", "-runs", empty)
	mustRefuse(t, 1, []string{"-runs " + file + ": not a folder"}, "report", "-runs", file)
	mustRefuse(t, 1, []string{"-runs: empty"}, "report", "-runs", "")
	mustRefuse(t, 1, []string{"-runs " + filepath.Join(empty, "missing"), "no such folder"}, "report", "-runs", filepath.Join(empty, "missing"))

	run := tinyTrain(t, "float")
	res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	write := func(name string, seed int64, lr float64) {
		r := *res
		r.Seed, r.Optimizer.LearningRate = seed, lr
		if err := os.MkdirAll(filepath.Join(runs, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(runs, name, training.ResultsFile), &r); err != nil {
			t.Fatal(err)
		}
	}
	write("float-seed1", 1, 0.1)
	write("float-seed2", 2, 0.1)
	stdout, _ := mustCLI(t, "report", "-runs", runs)
	if !regexp.MustCompile(`(?m)^\| mlp-300-100 \| sample, 1000 train \| 1 epochs \| float \| 2 \(seeds 1,2\) \| 0\.\d{4} ± 0\.\d{4} \|`).MatchString(stdout) {
		t.Errorf("the usual row changed:\n%s", stdout)
	}
	write("lr0.01/float-seed1", 1, 0.01)
	stdout, _ = mustCLI(t, "report", "-runs", runs)
	for _, row := range []string{`\| 1 epochs; lr 0\.1 \| float \| 2 \(seeds 1,2\) \|`, `\| 1 epochs; lr 0\.01 \| float \| 1 \(seeds 1\) \|`} {
		if !regexp.MustCompile(row).MatchString(stdout) {
			t.Errorf("no row %s:\n%s", row, stdout)
		}
	}
	if strings.Contains(stdout, "seeds 1,1") || strings.Contains(stdout, "3 (seeds") {
		t.Errorf("runs of other learning rates are merged:\n%s", stdout)
	}
	write("copy/float-seed1", 1, 0.1)
	mustRefuse(t, 1, []string{filepath.Join(runs, "float-seed1"), filepath.Join(runs, "copy", "float-seed1"), "same seed 1"}, "report", "-runs", runs)
}

// TestReportPairedBy checks report -paired-by against hand-made histories:
// four epochs, the stages 1-2 then 3-4 (all binary), test accuracies per
// epoch chosen so that each figure gives another difference.
func TestReportPairedBy(t *testing.T) {
	base := map[string]*training.Results{}
	for order, extra := range map[string][]string{"forward": {"-epochs-per-layer", "2", "-layers-per-stage", "2"}, "binary": nil} {
		res, err := training.ReadResults(filepath.Join(tinyTrain(t, order, append([]string{"-epochs", "4", "-test-each-epoch"}, extra...)...), training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		base[order] = res
	}
	runs := t.TempDir()
	write := func(order string, seed int64, tests [4]float64) {
		r := *base[order]
		r.Seed = seed
		r.History = slices.Clone(r.History)
		for i := range r.History {
			r.History[i].TestAccuracy = tests[i]
		}
		r.TestAccuracy = tests[3]
		r.BestTestAccuracy, r.BestTestEpoch, r.BestTestOf = training.BestTested(r.History, true)
		dir := filepath.Join(runs, fmt.Sprintf("%s-seed%d", order, seed))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(dir, training.ResultsFile), &r); err != nil {
			t.Fatal(err)
		}
	}
	// binary: last 0.90, tail-2 mean 0.905, best of the last stage 0.91, best of any epoch 0.91.
	write("binary", 1, [4]float64{0.80, 0.85, 0.91, 0.90})
	write("binary", 2, [4]float64{0.80, 0.85, 0.91, 0.90})
	// forward: last 0.89, tail-2 mean 0.90, best last stage 0.91, best of any epoch 0.95 (epoch 2, half float).
	write("forward", 1, [4]float64{0.90, 0.95, 0.91, 0.89})
	write("forward", 2, [4]float64{0.90, 0.97, 0.91, 0.89})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-paired-by", "test"}, "| test accuracy difference | 95% confidence interval of the mean difference | ahead on |"},
		{[]string{"-paired-by", "test"}, "| forward | binary | 1,2 | -0.0100 ± 0.0000 | -0.0100 to -0.0100 | 0 of 2 |"},
		{[]string{"-paired-by", "tail", "-tail", "2"}, "| difference in mean test accuracy of the last 2 epochs |"},
		{[]string{"-paired-by", "tail", "-tail", "2"}, "| forward | binary | 1,2 | -0.0050 ± 0.0000 |"},
		{[]string{"-paired-by", "best"}, "| forward | binary | 1,2 | +0.0000 ± 0.0000 |"},
		// +0.04 and +0.06: mean 0.05, sd 0.01414, t(1) 12.7062 x 0.01: 0.05 ± 0.1271.
		{[]string{"-paired-by", "official"}, "| forward | binary | 1,2 | +0.0500 ± 0.0141 | -0.0771 to +0.1771 | 2 of 2 |"},
	} {
		stdout, _ := mustCLI(t, append([]string{"report", "-runs", runs, "-paired", "binary"}, c.args...)...)
		if !strings.Contains(stdout, c.want) {
			t.Errorf("report %v: no %q in:\n%s", c.args, c.want, stdout)
		}
	}
	mustRefuse(t, 1, []string{"-paired-by tail: needs -tail N"}, "report", "-runs", runs, "-paired", "binary", "-paired-by", "tail")
	mustRefuse(t, 1, []string{`-paired-by "last": want test, tail, best or official`}, "report", "-runs", runs, "-paired", "binary", "-paired-by", "last")
}

// TestReportLRSchedules checks that runs of one seed that differ only in
// their learning-rate milestones are two rows, labelled by them, not one
// seed counted twice.
func TestReportLRSchedules(t *testing.T) {
	runs := t.TempDir()
	for name, extra := range map[string][]string{"constant": nil, "milestone": {"-lr-milestones", "1", "-lr-gamma", "0.5"}} {
		res, err := training.ReadResults(filepath.Join(tinyTrain(t, "float", extra...), training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(runs, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(runs, name, training.ResultsFile), res); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs)
	for _, row := range []string{"| 1 epochs; lr milestones none | float | 1 (seeds 1) |", "| 1 epochs; lr milestones 1 x0.5 | float | 1 (seeds 1) |"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("no row %q:\n%s", row, stdout)
		}
	}
}

// TestReportStoppedRuns checks that report tells a run in progress (a
// process holds its folder's lock) from one whose results.json says running
// but whose process is gone (killed): "running" against "stopped", the
// stopped folders listed.
func TestReportStoppedRuns(t *testing.T) {
	res, err := training.ReadResults(filepath.Join(tinyTrain(t, "float"), training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	for _, seed := range []int64{1, 2, 3} {
		r := *res
		r.Seed = seed
		if seed > 1 {
			r.Status, r.TestAccuracy = training.StatusRunning, 0
		}
		dir := filepath.Join(runs, fmt.Sprintf("float-seed%d", seed))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(dir, training.ResultsFile), &r); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, training.LockFile), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Seed 2's run is in progress: its lock is held, as a training process holds it.
	lock, err := os.Open(filepath.Join(runs, "float-seed2", training.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs)
	if !strings.Contains(stdout, "| float | 1 (seeds 1), 1 stopped, 1 running |") {
		t.Errorf("want seed 1 finished, seed 2 running, seed 3 stopped:\n%s", stdout)
	}
	if want := "the same command resumes each from its checkpoint): " + filepath.Join(runs, "float-seed3") + ".\n"; !strings.Contains(stdout, want) {
		t.Errorf("the stopped run's folder is not listed (%q):\n%s", want, stdout)
	}
	if in, err := training.InUse(filepath.Join(runs, "float-seed2")); !in || err != nil {
		t.Errorf("InUse of the locked folder: %v, %v", in, err)
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	stdout, _ = mustCLI(t, "report", "-runs", runs)
	if !strings.Contains(stdout, "| float | 1 (seeds 1), 2 stopped |") {
		t.Errorf("after its process let go, seed 2 is stopped too:\n%s", stdout)
	}
}

// TestReportPaired checks report -paired against differences computed by
// hand: forward against binary on the seeds both have (a seed without a
// binary run is left out), the baseline's own row left out, and an order
// without finished runs refused.
func TestReportPaired(t *testing.T) {
	runs := t.TempDir()
	for _, c := range []struct {
		order string
		tests map[int64]float64
	}{
		{"binary", map[int64]float64{1: 0.90, 2: 0.92, 3: 0.94}},
		{"forward", map[int64]float64{1: 0.91, 2: 0.91, 3: 0.96, 4: 0.99}},
	} {
		res, err := training.ReadResults(filepath.Join(tinyTrain(t, c.order, "-epochs", "3", "-epochs-per-layer", "1"), training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		for seed, acc := range c.tests {
			r := *res
			r.Seed, r.TestAccuracy = seed, acc
			dir := filepath.Join(runs, fmt.Sprintf("%s-seed%d", c.order, seed))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := training.WriteResults(filepath.Join(dir, training.ResultsFile), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs, "-paired", "binary")
	// forward - binary: +0.01, -0.01, +0.02: mean 0.00667, sample sd 0.01528,
	// standard error 0.00882; t(0.975, 2 df) = 4.3027: 0.00667 ± 0.03795.
	want := "| mlp-300-100 | sample, 1000 train | 3 epochs, 1/layer | forward | binary | 1,2,3 | +0.0067 ± 0.0153 | -0.0313 to +0.0446 | 2 of 3 |"
	if !strings.Contains(stdout, want) {
		t.Errorf("no row %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout, "| binary | binary |") {
		t.Errorf("the baseline is compared with itself:\n%s", stdout)
	}
	stdout, _ = mustCLI(t, "report", "-runs", runs, "-paired", "forward")
	if want := "| binary | forward | 1,2,3 | -0.0067 ± 0.0153 | -0.0446 to +0.0313 | 1 of 3 |"; !strings.Contains(stdout, want) {
		t.Errorf("no row ending %q:\n%s", want, stdout)
	}
	mustRefuse(t, 1, []string{"-paired reverse: no finished runs of order \"reverse\""}, "report", "-runs", runs, "-paired", "reverse")
}

// TestFlagsInterruptExitCode checks that an interrupted train exits with the
// shell's codes of the signal, 130 for SIGINT (Ctrl-C) and 143 for SIGTERM,
// with its message.
func TestFlagsInterruptExitCode(t *testing.T) {
	bin := binnetBinary(t)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		out := filepath.Join(t.TempDir(), "run")
		cmd := exec.Command(bin, "train", "-model", "mlp-300-100", "-epochs", "200", "-epochs-per-layer", "50", "-out", out)
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		sc := bufio.NewScanner(pipe)
		sent := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !sent && strings.HasPrefix(sc.Text(), "epoch   1/") {
				cmd.Process.Signal(c.sig)
				sent = true
			}
		}
		cmd.Wait()
		if got := cmd.ProcessState.ExitCode(); !sent || got != c.code {
			t.Errorf("%v: exit code %d, want %d (signal sent: %v)\n%s", c.sig, got, c.code, sent, log.String())
		}
		if !strings.Contains(log.String(), "interrupted after epoch") {
			t.Errorf("%v: no interruption message:\n%s", c.sig, log.String())
		}
	}
}

// TestReportEach checks report -each against hand-set validation
// accuracies: a forward run (stages: epoch 1, epoch 2, epochs 3-4) and a
// full binary one (one stage), the mean and lowest of the last -tail epochs
// and of the last stage, and the best epoch; a running run has no row.
func TestReportEach(t *testing.T) {
	runs := t.TempDir()
	for _, c := range []struct {
		order  string
		val    []float64
		status string
	}{
		{"forward", []float64{0.5, 0.9, 0.6, 0.8}, training.StatusCompleted},
		{"binary", []float64{0.7, 0.4, 0.9, 0.85}, training.StatusCompleted},
		{"reverse", []float64{0.1, 0.2, 0.3, 0.4}, training.StatusRunning},
	} {
		res, err := training.ReadResults(filepath.Join(tinyTrain(t, c.order, "-epochs", "4", "-epochs-per-layer", "1"), training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		res.Status, res.TestAccuracy = c.status, 0.875
		for i := range res.History {
			res.History[i].ValAccuracy = c.val[i]
		}
		dir := filepath.Join(runs, c.order+"-seed1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(dir, training.ResultsFile), res); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs, "-each", "-tail", "3")
	for _, want := range []string{
		"| seed | test accuracy | final val | val, mean of the last 3 epochs (lowest) | val, mean of the last stage (lowest) | best val (epoch) |",
		// binary: last 3 (0.4, 0.9, 0.85) mean 0.7167; its one stage 1-4 mean 0.7125.
		"| binary | 1 | 0.8750 | 0.8500 | 0.7167 (0.4000) | 0.7125 (0.4000), epochs 1-4 | 0.9000 (3) |",
		// forward: last 3 (0.9, 0.6, 0.8) mean 0.7667; its last stage, epochs 3-4, mean 0.7.
		"| forward | 1 | 0.8750 | 0.8000 | 0.7667 (0.6000) | 0.7000 (0.6000), epochs 3-4 | 0.9000 (2) |",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %q in:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "| reverse | 1 |") {
		t.Errorf("a running run has a row:\n%s", stdout)
	}
	if strings.Index(stdout, "| binary | 1 |") > strings.Index(stdout, "| forward | 1 |") {
		t.Errorf("binary's row comes after forward's:\n%s", stdout)
	}
	if stdout, _ = mustCLI(t, "report", "-runs", runs, "-each"); strings.Contains(stdout, "last 3 epochs") || !strings.Contains(stdout, "| 0.8000 | 0.7000 (0.6000), epochs 3-4 |") {
		t.Errorf("report -each without -tail:\n%s", stdout)
	}
}

// TestTestEachEpochFlag checks train -test-each-epoch end to end (each
// epoch's test in results.json, the best of the last stage on stdout), the
// report's column for such runs (hand-set accuracies: mean ± sd, and how
// many of a row's runs have one), and sensitivity's refusal of the flag.
func TestTestEachEpochFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	stdout, _ := mustCLI(t, "train", "-model", "mlp-300-100", "-order", "forward", "-epochs", "4", "-epochs-per-layer", "1",
		"-train-size", "1000", "-val-size", "500", "-test-size", "500", "-quiet", "-test-each-epoch", "-out", dir)
	res, err := training.ReadResults(filepath.Join(dir, training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.History {
		if h.TestLoss <= 0 || h.TestAccuracy <= 0 {
			t.Errorf("epoch %d has no test: %+v", h.Epoch, h)
		}
	}
	// Stages: epochs 1, 2 and 3-4 (all binary): the best of epochs 3 and 4.
	best := max(res.History[2].TestAccuracy, res.History[3].TestAccuracy)
	if res.BestTestAccuracy != best || res.BestTestOf != 2 {
		t.Errorf("best test %v over %d epochs, want %v over 2", res.BestTestAccuracy, res.BestTestOf, best)
	}
	if want := fmt.Sprintf("best test of the last stage %.4f (epoch %d)", best, res.BestTestEpoch); !strings.Contains(stdout, want) {
		t.Errorf("stdout %q does not contain %q", stdout, want)
	}
	// The official scripts' figure: the best of all four epochs.
	anyBest, anyEpoch := 0.0, 0
	for _, h := range res.History {
		if h.TestAccuracy > anyBest {
			anyBest, anyEpoch = h.TestAccuracy, h.Epoch
		}
	}
	if res.BestTestAnyAccuracy != anyBest || res.BestTestAnyEpoch != anyEpoch {
		t.Errorf("best test of any epoch %v at %d, want %v at %d", res.BestTestAnyAccuracy, res.BestTestAnyEpoch, anyBest, anyEpoch)
	}
	if want := fmt.Sprintf(", of any epoch %.4f (epoch %d, the official scripts' figure)", anyBest, anyEpoch); anyEpoch != res.BestTestEpoch && !strings.Contains(stdout, want) {
		t.Errorf("stdout %q does not contain %q", stdout, want)
	}

	runs := t.TempDir()
	for seed, acc := range map[int64]float64{1: 0.95, 2: 0.97, 3: 0} { // seed 3 ran without the flag
		r := *res
		r.Seed, r.BestTestAccuracy, r.BestTestOf = seed, acc, 2
		if acc == 0 {
			r.BestTestEpoch, r.BestTestOf = 0, 0
		}
		d := filepath.Join(runs, fmt.Sprintf("forward-seed%d", seed))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := training.WriteResults(filepath.Join(d, training.ResultsFile), &r); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _ = mustCLI(t, "report", "-runs", runs)
	// 0.95 and 0.97: mean 0.96, sample sd 0.01414.
	if want := "| 0.9600 ± 0.0141 (2 of 3 runs) |"; !strings.Contains(stdout, want) || !strings.Contains(stdout, "| best test accuracy, last stage (-test-each-epoch) |") {
		t.Errorf("report without the column or the cell %q:\n%s", want, stdout)
	}
	// Every copy tested every epoch (they share the history): the best of any epoch in all three.
	if want := fmt.Sprintf("(2 of 3 runs) | %.4f ± 0.0000 |", anyBest); !strings.Contains(stdout, want) ||
		!strings.Contains(stdout, "| best test accuracy, any epoch (the official scripts' figure) |") {
		t.Errorf("report without the any-epoch column or the cell %q:\n%s", want, stdout)
	}
	// -tail 2: the mean of epochs 3 and 4 (the last stage, tested in every
	// run: the three copies share the history); -tail 3 reaches epoch 2, of
	// another stage, so no run qualifies and there is no column.
	stdout, _ = mustCLI(t, "report", "-runs", runs, "-tail", "2")
	tailMean := (res.History[2].TestAccuracy + res.History[3].TestAccuracy) / 2
	if want := fmt.Sprintf("| %.4f ± 0.0000 | 0.9600 ± 0.0141 (2 of 3 runs) |", tailMean); !strings.Contains(stdout, want) || !strings.Contains(stdout, "| mean test accuracy, last 2 epochs |") {
		t.Errorf("report -tail 2 without the column or the cells %q:\n%s", want, stdout)
	}
	if stdout, _ = mustCLI(t, "report", "-runs", runs, "-tail", "3"); strings.Contains(stdout, "mean test accuracy, last") {
		t.Errorf("report -tail 3 has a column, though epoch 2 is of another stage:\n%s", stdout)
	}
	mustRefuse(t, 1, []string{"-tail -1: must be a number of epochs"}, "report", "-runs", runs, "-tail", "-1")
	mustRefuse(t, 1, []string{"-test-each-epoch: sensitivity pre-training never reads the test set"}, "sensitivity", "-test-each-epoch", "-epochs", "1")
}
