package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// sharedMNIST is the real MNIST of the development machines and CI
// (../shared/datasets/mnist from the repository root); absent elsewhere.
const sharedMNIST = "../../../shared/datasets/mnist"

// truncatedMNIST copies the shared MNIST files into a temporary folder and
// cuts the training images in half; it skips the test without shared data.
func truncatedMNIST(t *testing.T) string {
	t.Helper()
	names := []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
	if _, err := os.Stat(filepath.Join(sharedMNIST, names[0])); err != nil {
		t.Skipf("no shared MNIST at %s: %v", sharedMNIST, err)
	}
	dir := t.TempDir()
	for _, n := range names {
		src, err := os.Open(filepath.Join(sharedMNIST, n))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, names[0])
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadInput checks that every kind of bad input exits non-zero with a
// message naming the problem, before any training: no epoch is reported and
// the -out folder is never created.
func TestBadInput(t *testing.T) {
	tiny := []string{"-model", "mlp-300-100", "-epochs", "3", "-epochs-per-layer", "1"}
	train := func(args ...string) []string { return append(append([]string{"train"}, tiny...), args...) }
	for _, tc := range []struct {
		name string
		args []string // -out OUT is appended to train, compare and sensitivity commands
		code int
		want []string // substrings of stderr
		data bool     // needs the shared MNIST
	}{
		{"epochs-per-layer 0", train("-epochs-per-layer", "0"), 1, []string{"-epochs-per-layer", "at least 1", "got 0"}, false},
		{"epochs 0", train("-epochs", "0"), 1, []string{"-epochs", "at least 1"}, false},
		{"epochs-per-layer negative", train("-epochs-per-layer", "-1"), 1, []string{"-epochs-per-layer", "-1"}, false},
		{"layers-per-stage 0", train("-layers-per-stage", "0"), 1, []string{"-layers-per-stage"}, false},
		{"more stages than epochs", train("-epochs", "2", "-epochs-per-layer", "2"), 1, []string{"more stages than epochs", "at least 5", "got 2"}, false},
		{"order repeats a layer", train("-order", "1,1,2"), 1, []string{"1,1,2", "layer 1 appears twice"}, false},
		{"order misses a layer", train("-order", "1,2"), 1, []string{"1,2", "missing 3"}, false},
		{"order out of range", train("-order", "1,2,4"), 1, []string{"layer 4 is out of range 1..3"}, false},
		{"unknown order", train("-order", "sideways"), 1, []string{`unknown order "sideways"`}, false},
		{"ascend without sensitivity", train("-order", "ascend"), 1, []string{"-order ascend needs -sensitivity"}, false},
		{"order file of another network", train("-order", "testdata/order-4-layers.json"), 1, []string{"testdata/order-4-layers.json", "lists 4 layers", "3 binarizable layers"}, false},
		{"order file missing", train("-order", "testdata/no-such-order.json"), 1, []string{"testdata/no-such-order.json", "no such file"}, false},
		{"sensitivity of another model", train("-order", "ascend", "-sensitivity", "testdata/sensitivity-other-model.json"), 1, []string{`"mlp-784-784"`, `not "mlp-300-100"`}, false},
		{"sensitivity with other layer count", train("-order", "descend", "-sensitivity", "testdata/sensitivity-4-layers.json"), 1, []string{"4 layers", "3 binarizable layers"}, false},
		{"sensitivity file missing", train("-order", "ascend", "-sensitivity", "testdata/no-such.json"), 1, []string{"no-such.json"}, false},
		{"data dir missing", train("-data-dir", "/nonexistent"), 1, []string{"/nonexistent", "not found"}, false},
		{"truncated train images", nil, 1, []string{"train-images-idx3-ubyte.gz", "truncated"}, true},
		{"unknown model", train("-model", "nope"), 1, []string{`unknown model "nope"`, "mlp-300-100"}, false},
		{"unknown quantizer", train("-quantizer", "nope"), 1, []string{`unknown quantizer "nope"`}, false},
		{"unknown optimizer", train("-optimizer", "nope"), 1, []string{`unknown optimizer "nope"`}, false},
		{"negative learning rate", train("-lr", "-1"), 1, []string{"learning rate", "-1"}, false},
		{"milestones not increasing", train("-lr-milestones", "3,2"), 1, []string{`-lr-milestones "3,2"`, "increasing epochs"}, false},
		{"milestone not a number", train("-lr-milestones", "2,x"), 1, []string{`"x" is not a number of epochs`}, false},
		{"milestones empty", train("-lr-milestones", ""), 1, []string{"-lr-milestones: empty"}, false},
		{"learning-rate factor 0", train("-lr-gamma", "0"), 1, []string{"-lr-gamma 0", "positive factor"}, false},
		{"batch of one", train("-batch", "1"), 1, []string{"batch size 1"}, false},
		{"unknown flag", train("-bogus"), 2, []string{"flag provided but not defined: -bogus", "Usage: binnet train"}, false},
		{"flag without value", []string{"schedule", "-epochs"}, 2, []string{"flag needs an argument: -epochs"}, false},
		{"non-numeric epochs", train("-epochs", "many"), 2, []string{`invalid value "many"`, "-epochs"}, false},
		{"stray argument", train("forward"), 2, []string{`unexpected argument "forward": binnet train takes flags only`}, false},
		{"unknown command", []string{"trian", "-order", "forward"}, 2, []string{`unknown command "trian"`, "Usage: binnet COMMAND"}, false},
		{"no command", []string{}, 2, []string{}, false},
		{"compare: unknown order", []string{"compare", "-epochs", "3", "-epochs-per-layer", "1", "-orders", "float,sideways", "-seeds", "1"}, 1, []string{`order "sideways"`}, false},
		{"compare: more stages than epochs", []string{"compare", "-epochs", "2", "-epochs-per-layer", "1", "-orders", "float,forward", "-seeds", "1"}, 1, []string{`order "forward"`, "more stages than epochs"}, false},
		{"compare: bad seeds", []string{"compare", "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1,x"}, 1, []string{`-seeds: "x"`}, false},
		{"train: -lr-gamma without milestones", train("-lr-gamma", "0.5"), 1, []string{"-lr-gamma 0.5: mlp-300-100 has no learning-rate milestones to apply it at (give -lr-milestones)"}, false},
		{"train: -workers on MNIST", train("-workers", "3"), 1, []string{"-workers: applies only to -dataset imagenet", "the data set here is sample"}, false},
		{"sensitivity: -split-file on MNIST", []string{"sensitivity", "-epochs", "1", "-split-file", "x.json"}, 1, []string{"-split-file: applies only to -dataset cifar10"}, false},
		{"compare: -split-seed on MNIST", []string{"compare", "-epochs", "3", "-epochs-per-layer", "1", "-split-seed", "7", "-seeds", "1"}, 1, []string{"-split-seed: applies only to -dataset cifar10"}, false},
		{"sweep: orders whose stages binarize the same layers", []string{"sweep", "-orders", "forward;2,1,3", "-layers-per-stage", "2", "-epochs", "4", "-epochs-per-layer", "2", "-seeds", "1"}, 1,
			[]string{"-orders: 2,1,3 is the same schedule as forward (2,1,3 and 1,2,3 binarize the same layers in every stage): list one of them"}, false},
		{"compare: -seed, which -seeds replaces", []string{"compare", "-epochs", "3", "-epochs-per-layer", "1", "-seed", "7", "-seeds", "1"}, 1, []string{"-seed: give the seeds of every run with -seeds (-seeds 7 for that one seed; now -seeds 1)"}, false},
		{"sensitivity: layer out of range", []string{"sensitivity", "-epochs", "1", "-layers", "4"}, 1, []string{"-layers", `"4"`, "1..3"}, false},
		{"sensitivity: negative epochs", []string{"sensitivity", "-epochs", "-1"}, 1, []string{"-epochs must be at least 1"}, false},
		{"sensitivity: negative learning rate", []string{"sensitivity", "-epochs", "1", "-lr", "-1"}, 1, []string{"learning rate"}, false},
		{"schedule: bad order", []string{"schedule", "-order", "1,2", "-epochs", "3", "-epochs-per-layer", "1"}, 1, []string{"missing 3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := slices.Clone(tc.args)
			if tc.data {
				args = train("-data-dir", truncatedMNIST(t))
			}
			out := filepath.Join(t.TempDir(), "out")
			if len(args) > 0 && slices.Contains([]string{"train", "compare", "sensitivity", "sweep"}, args[0]) {
				args = append(args, "-out", out)
			}
			start := time.Now()
			code, stdout, stderr := cli(t, args...)
			if code != tc.code {
				t.Errorf("binnet %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tc.code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("binnet %s: stderr does not contain %q:\n%s", strings.Join(args, " "), w, stderr)
				}
			}
			if strings.Contains(stderr, "epoch   1/") || strings.Contains(stderr, "internal error") {
				t.Errorf("binnet %s trained or panicked:\n%s", strings.Join(args, " "), stderr)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("binnet %s created its output folder (%v)", strings.Join(args, " "), err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("binnet %s took %v to refuse", strings.Join(args, " "), d)
			}
		})
	}
}

// goCommand returns the go command of the toolchain running the tests.
func goCommand(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	return p
}

// TestBinary builds the real binary and checks its exit codes and that bad
// input never ends in a Go panic trace.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "binnet")
	build := exec.Command(goCommand(t), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(t.TempDir(), "out")
	tiny := []string{"-epochs", "3", "-epochs-per-layer", "1", "-out", out}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{}, 2},
		{[]string{"-h"}, 0},
		{[]string{"models"}, 0},
		{[]string{"train", "-h"}, 0},
		{[]string{"nope"}, 2},
		{[]string{"train", "-bogus"}, 2},
		{[]string{"train", "-epochs", "x"}, 2},
		{append([]string{"train", "-order", "sideways"}, tiny...), 1},
		{append([]string{"train", "-order", "1,1,2"}, tiny...), 1},
		{[]string{"train", "-epochs-per-layer", "0", "-out", out}, 1},
		{append([]string{"train", "-data-dir", "/nonexistent"}, tiny...), 1},
		{append([]string{"train", "-model", "nope"}, tiny...), 1},
		{append([]string{"train", "-lr", "-1"}, tiny...), 1},
		{append([]string{"train", "-order", "ascend", "-sensitivity", "testdata/sensitivity-other-model.json"}, tiny...), 1},
		{[]string{"sensitivity", "-layers", "0", "-out", out}, 1},
		{[]string{"schedule", "-order", "1,2,4"}, 1},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("binnet %s: %v", strings.Join(tc.args, " "), err)
		}
		if code != tc.code {
			t.Errorf("binnet %s: exit code %d, want %d\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr.String())
		}
		for _, bad := range []string{"goroutine ", "panic:", "internal error"} {
			if strings.Contains(stderr.String(), bad) || strings.Contains(stdout.String(), bad) {
				t.Errorf("binnet %s printed %q:\n%s%s", strings.Join(tc.args, " "), bad, stdout.String(), stderr.String())
			}
		}
		if code != 0 && stderr.Len()+stdout.Len() == 0 {
			t.Errorf("binnet %s failed without a message", strings.Join(tc.args, " "))
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad input created the output folder (%v)", err)
	}
}
