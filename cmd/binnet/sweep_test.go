package main

// sweep and sensitivity -parallel against run folders that hold runs of
// another configuration, and report on folders it cannot fully read.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// runBinaryCode runs the binary and returns its exit code and output.
func runBinaryCode(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("binnet %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// TestSweepRefusesOtherConfiguration runs a sweep, then the same sweep with
// another -lr into the same folder: it is refused before anything trains,
// naming both run folders and the learning rate, and leaves their results
// as they were; the first sweep again skips both runs and prints its table.
func TestSweepRefusesOtherConfiguration(t *testing.T) {
	bin := binnetBinary(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	args := []string{"sweep", "-model", "mlp-300-100", "-orders", "forward;reverse", "-seeds", "1", "-epochs", "3", "-epochs-per-layer", "1",
		"-train-size", "1000", "-val-size", "500", "-test-size", "500", "-out", dir}
	first, _ := runBinary(t, bin, append(args, "-quiet")...)
	fwd, rev := filepath.Join(dir, "forward-seed1"), filepath.Join(dir, "reverse-seed1")
	before := map[string][]byte{}
	for _, d := range []string{fwd, rev} {
		before[d] = fileBytes(t, filepath.Join(d, training.ResultsFile))
	}

	code, stdout, stderr := runBinaryCode(t, bin, append(args, "-lr", "0.05")...)
	if code != 1 {
		t.Errorf("a sweep with another -lr into the folder: exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"binnet sweep: 2 of the sweep's run folders hold completed runs of another configuration, so nothing was trained",
		"training: " + fwd + " holds a completed run of a different configuration (optimizer.learning_rate: results.json has 0.1, this run has 0.05)",
		"training: " + rev + " holds a completed run of a different configuration (optimizer.learning_rate: results.json has 0.1, this run has 0.05)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
	if stdout != "" || strings.Contains(stderr, "started") || strings.Contains(stderr, "runs to train") {
		t.Errorf("the refused sweep started jobs or printed a table:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	for d, b := range before {
		if !bytes.Equal(fileBytes(t, filepath.Join(d, training.ResultsFile)), b) {
			t.Errorf("the refused sweep changed %s", filepath.Join(d, training.ResultsFile))
		}
	}

	stdout, stderr = runBinary(t, bin, args...)
	if !strings.Contains(stderr, "sweep of mlp-300-100: 0 runs to train (2 already done) in "+dir) || strings.Contains(stderr, "started") {
		t.Errorf("the same sweep again does not skip both runs:\n%s", stderr)
	}
	if stdout != first {
		t.Errorf("the same sweep again prints another table:\n%s\nfirst:\n%s", stdout, first)
	}
}

// TestParallelSensitivityRefusesOtherConfiguration trains layer 1 of a
// sensitivity pre-training, then runs sensitivity -parallel with another
// -lr into the same folder: it is refused naming layer 1's folder and the
// learning rate before layers 2 and 3 start.
func TestParallelSensitivityRefusesOtherConfiguration(t *testing.T) {
	bin := binnetBinary(t)
	dir := filepath.Join(t.TempDir(), "sens")
	common := []string{"sensitivity", "-model", "mlp-300-100", "-epochs", "1", "-train-size", "1000", "-val-size", "500", "-out", dir}
	mustCLI(t, append(common, "-layers", "1", "-quiet")...)
	code, stdout, stderr := runBinaryCode(t, bin, append(common, "-parallel", "2", "-lr", "0.05")...)
	if code != 1 {
		t.Errorf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "binnet sensitivity: layer 1: training: " + filepath.Join(dir, "layer-01") +
		` holds a completed run of a different configuration (optimizer.learning_rate: results.json has 0.1, this run has 0.05)`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name layer 1's folder and the learning rates:\n%s", stderr)
	}
	for _, l := range []string{"layer-02", "layer-03"} {
		if _, err := os.Stat(filepath.Join(dir, l)); err == nil {
			t.Errorf("the refused run started %s:\n%s", l, stderr)
		}
	}
}

// TestOrdersOfTheSameSchedule checks that compare and sweep refuse, before
// anything trains, two orders that resolve to the same schedule: descend
// and ascend of a sensitivity result that ranks the layers 1,2,3 (forward)
// and 3,2,1 (reverse), a permutation spelled out, and random for a seed
// whose permutation is another order's (random with seed 7 is 1,2,3 on
// three layers); random with other seeds is accepted.
func TestOrdersOfTheSameSchedule(t *testing.T) {
	dir := t.TempDir()
	sens := filepath.Join(dir, "sensitivity.json")
	r := noisyResult(1, [3]float64{0.980, 0.975, 0.960}, [3]float64{})
	r.Model = "mlp-300-100"
	if err := sensitivity.WriteResultFile(sens, r); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	tiny := []string{"-model", "mlp-300-100", "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1", "-quiet"}
	for _, c := range []struct {
		orders, seeds, want string
	}{
		{"forward;reverse;ascend;descend", "1", "-orders: ascend (from " + sens + ") is 3,2,1, the same schedule as reverse: list one of them"},
		{"forward;descend", "1", "-orders: descend (from " + sens + ") is 1,2,3, the same schedule as forward: list one of them"},
		{"forward;1,2,3", "1", "-orders: 1,2,3 is the same schedule as forward: list one of them"},
		{"3,2,1;reverse", "1", "-orders: reverse is 3,2,1, the same schedule as 3,2,1: list one of them"},
		{"forward;random", "1,7", "-orders: random with seed 7 is 1,2,3, the same schedule as forward: the two runs of seed 7 would be one run " +
			"trained twice; list one of them, or give other -seeds"},
	} {
		for _, cmd := range []string{"compare", "sweep"} {
			args := append(append([]string{cmd}, tiny...), "-orders", c.orders, "-seeds", c.seeds, "-sensitivity", sens, "-out", out)
			stderr := mustRefuse(t, 1, []string{"binnet " + cmd + ": " + c.want + "\n"}, args...)
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("%s -orders %s: more than the refusal:\n%s", cmd, c.orders, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s -orders %s created %s", cmd, c.orders, out)
			}
		}
	}
	// random's permutations for seeds 1 to 3 are 1,3,2, 2,1,3 and 2,3,1:
	// none is forward's or reverse's.
	var r2 runOptions
	r2.model = "mlp-300-100"
	r2.epochs, r2.epochsPerLayer = 3, 1
	p, err := r2.preset()
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.checkSchedules(p, []string{"forward", "reverse", "random"}, []int64{1, 2, 3}); err != nil {
		t.Errorf("forward, reverse and random with seeds 1,2,3: %v", err)
	}
}

// writeRun writes res, with seed, as dir/results.json.
func writeRun(t *testing.T, dir string, res training.Results, seed int64) {
	t.Helper()
	res.Seed = seed
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := training.WriteResults(filepath.Join(dir, training.ResultsFile), &res); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes content to path, making its folder.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReportLeavesOutUnreadableFiles checks that report prints the table of
// the readable runs when other files under -runs are damaged or are not
// binnet results (another tool's results.json, an empty object, an unknown
// status, a truncated sensitivity.json), lists each of those with its
// problem on stderr, none of them as a row, and exits 1.
func TestReportLeavesOutUnreadableFiles(t *testing.T) {
	res, err := training.ReadResults(filepath.Join(tinyTrain(t, "float"), training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	writeRun(t, filepath.Join(runs, "float-seed1"), *res, 1)
	writeRun(t, filepath.Join(runs, "float-seed2"), *res, 2)
	bad := map[string]string{
		"bad/results.json":     `{"status": "compl`,
		"foreign/results.json": `{"acc": 0.9, "loss": 0.1}`,
		"empty/results.json":   `{}`,
		"weird/results.json":   `{"status": "weird", "model": "mlp-300-100"}`,
		"nomodel/results.json": `{"status": "completed", "network": "mlp-784-300-100-10"}`,
		"s/sensitivity.json":   `{"model":`,
	}
	for name, content := range bad {
		writeFile(t, filepath.Join(runs, name), content)
	}
	code, stdout, stderr := cli(t, "report", "-runs", runs)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "| model | data | protocol | order | runs | test accuracy | final val accuracy | train time per run (s) |\n|---|---|---|---|---|---|---|---|\n" +
		fmt.Sprintf("| mlp-300-100 | sample, 1000 train | 1 epochs | float | 2 (seeds 1,2) | %.4f ± 0.0000 | ", res.TestAccuracy)
	if !strings.HasPrefix(stdout, want) || strings.Count(stdout, "\n") != 3 {
		t.Errorf("stdout is not the table of the two float runs alone:\n%s\nwant it to start with\n%s", stdout, want)
	}
	p := func(name string) string { return filepath.Join(runs, name) }
	wantErr := "binnet report: -runs " + runs + ": 6 files left out of the report (not binnet results, or unreadable):\n" +
		"results " + p("bad/results.json") + ": unexpected end of JSON input\n" +
		p("empty/results.json") + ": not a binnet results file: no status\n" +
		p("foreign/results.json") + ": not a binnet results file: no status\n" +
		p("nomodel/results.json") + ": not a binnet results file: no model\n" +
		"sensitivity: " + p("s/sensitivity.json") + ": invalid JSON: unexpected end of file after 9 bytes (truncated?)\n" +
		p("weird/results.json") + `: not a binnet results file: status "weird" (binnet writes running, completed or failed)` + "\n"
	if stderr != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, wantErr)
	}

	// Nothing readable: no table, the same list.
	for _, d := range []string{"float-seed1", "float-seed2"} {
		if err := os.RemoveAll(p(d)); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = cli(t, "report", "-runs", runs)
	if code != 1 || stdout != "" || stderr != wantErr {
		t.Errorf("without readable runs: exit code %d, stdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, wantErr)
	}
}

// TestReportUnmergedSensitivity checks report on a sensitivity folder whose
// layers 1 and 2 of 3 are done and that has no sensitivity.json yet: the
// message says so, not that there is no results.json; next to a run, the
// run's table and a note.
func TestReportUnmergedSensitivity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sens")
	mustCLI(t, "sensitivity", "-model", "mlp-300-100", "-epochs", "1", "-train-size", "1000", "-val-size", "500", "-layers", "1,2", "-quiet", "-out", dir)
	what := dir + " holds a sensitivity pre-training without sensitivity.json yet: layers 1, 2 of 3 done; " +
		"run the same binnet sensitivity command again to finish and merge"
	code, stdout, stderr := cli(t, "report", "-runs", dir)
	if want := "binnet report: -runs " + dir + ": no results.json found under " + dir + " outside sensitivity layer folders: " + what + "\n"; code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit code %d, stdout:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}

	parent := filepath.Dir(dir)
	res, err := training.ReadResults(filepath.Join(tinyTrain(t, "float"), training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	writeRun(t, filepath.Join(parent, "float-seed1"), *res, 1)
	stdout, _ = mustCLI(t, "report", "-runs", parent)
	if !strings.Contains(stdout, "| float | 1 (seeds 1) |") || !strings.HasSuffix(stdout, "\n\nUnmerged: "+what+".\n") {
		t.Errorf("report of a run next to the unmerged folder:\n%s", stdout)
	}
}

// TestReportPairedWithoutPairs checks that report -paired ORDER, when no
// other order has a run of ORDER's seeds, says so instead of printing a
// table of its header alone, and that -paired-by without -paired is
// refused.
func TestReportPairedWithoutPairs(t *testing.T) {
	runs := t.TempDir()
	for _, c := range []struct {
		order string
		seed  int64
	}{{"float", 1}, {"binary", 2}} {
		res, err := training.ReadResults(filepath.Join(tinyTrain(t, c.order), training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		writeRun(t, filepath.Join(runs, fmt.Sprintf("%s-seed%d", c.order, c.seed)), *res, c.seed)
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs, "-paired", "float")
	want := "\n\nNo paired table: no other order has finished runs of the seeds of float's runs with the same model, data, settings and number of epochs.\n"
	if !strings.HasSuffix(stdout, want) || strings.Contains(stdout, "| against |") {
		t.Errorf("stdout:\n%s\nwant it to end with%s", stdout, want)
	}
	mustRefuse(t, 1, []string{"binnet report: -paired-by official: chooses the figure of -paired's table; give -paired ORDER too (the order to compare the others with)\n"},
		"report", "-runs", runs, "-paired-by", "official")
}

// TestSweepDoneWithoutData: a sweep whose runs are all done reprints its
// tables when its -data-dir can no longer be read (moved since), comparing
// the runs by their settings alone and saying so; a changed setting is
// still refused then.
func TestSweepDoneWithoutData(t *testing.T) {
	mnist, err := filepath.Abs(realDataset(t, "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	bin := binnetBinary(t)
	data := filepath.Join(t.TempDir(), "mnist")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(mnist, "*.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("files of %s: %v", mnist, err)
	}
	for _, f := range files {
		if err := os.Symlink(f, filepath.Join(data, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "sweep")
	args := []string{"sweep", "-model", "mlp-300-100", "-data-dir", data, "-orders", "forward;reverse", "-seeds", "1", "-epochs", "3",
		"-epochs-per-layer", "1", "-train-size", "500", "-val-size", "200", "-test-size", "200", "-quiet", "-out", dir}
	first, _ := runBinary(t, bin, args...)
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinaryCode(t, bin, args...)
	if code != 0 || stdout != first || !strings.Contains(stderr, "sweep: every run is done; their settings are checked, not their data, which cannot be read") {
		t.Errorf("the done sweep without its data: exit code %d\nstdout:\n%s\nfirst:\n%s\nstderr:\n%s", code, stdout, first, stderr)
	}
	code, _, stderr = runBinaryCode(t, bin, append(args, "-lr", "0.05")...)
	if code != 1 || !strings.Contains(stderr, "optimizer.learning_rate: results.json has 0.1, this run has 0.05") {
		t.Errorf("another -lr without the data: exit code %d, stderr:\n%s", code, stderr)
	}
}

// TestReportUnderLayerNamedFolder: runs under a folder whose name starts
// with "layer-" (a study's folder, not a sensitivity layer's layer-NN) are
// reported, where report took every run below such a folder for a
// sensitivity layer and dropped it.
func TestReportUnderLayerNamedFolder(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "layer-study", "runs")
	run := tinyTrain(t, "forward", "-epochs", "3", "-epochs-per-layer", "1")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(run, filepath.Join(runs, "forward-seed1")); err != nil {
		t.Fatal(err)
	}
	stdout, _ := mustCLI(t, "report", "-runs", runs)
	if !strings.Contains(stdout, "| mlp-300-100 | sample, 1000 train | 3 epochs, 1/layer | forward | 1 (seeds 1) |") {
		t.Errorf("report under layer-study:\n%s", stdout)
	}
}
