package main

// sweep and sensitivity -parallel against run folders that hold runs of
// another configuration, and report on folders it cannot fully read.

import (
	"bytes"
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
		"training: " + fwd + " holds a completed run of a different configuration (optimizer: ",
		"training: " + rev + " holds a completed run of a different configuration (optimizer: ",
		`"learning_rate":0.1`, `"learning_rate":0.05`,
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
	want := "binnet sensitivity: sensitivity: layer 1: training: " + filepath.Join(dir, "layer-01") +
		` holds a completed run of a different configuration (optimizer: checkpoint has {"name":"adam","learning_rate":0.1,`
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, `this run has {"name":"adam","learning_rate":0.05,`) {
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
