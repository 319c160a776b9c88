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
