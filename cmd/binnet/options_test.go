package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
)

// TestStepsPerCallHint: train suggests -steps-per-call for the paper's MLPs
// on XLA (the steps measured 2-2.8x faster ten per execution on an H100),
// and not on the pure-Go backend, not for ResNet-21's large step, not when
// the flag is already given.
func TestStepsPerCallHint(t *testing.T) {
	macs := func(name string, batch int) int64 {
		p, err := models.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := training.StepMACs(p.Network, batch)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	small, large := macs("mlp-784-784", 1000), macs("resnet21", 128)
	t.Logf("step multiply-accumulates: mlp-300-100 batch 100 %d, mlp-784-784 batch 1000 %d, resnet21 batch 128 %d", macs("mlp-300-100", 100), small, large)
	const xla = "xla:/opt/jax_plugins/xla_cuda13/xla_cuda_plugin.so"
	of := func(m int64) func() (int64, error) { return func() (int64, error) { return m, nil } }
	if h := stepsPerCallHint(xla, 1, 1, 550, of(small)); !strings.Contains(h, "-steps-per-call 55 -steps-loop runs 55 steps") || !strings.HasPrefix(h, "hint: xla waits") {
		t.Errorf("mlp-784-784 batch 1000 on XLA, 550 batches per epoch: hint %q", h)
	}
	// The group divides an epoch's batches where a divisor of 10 to 100 exists.
	for batches, k := range map[int]int{90: 90, 600: 100, 101: 100, 14: 14, 3: 3, 550: 55} {
		if h := stepsPerCallHint(xla, 1, 1, batches, of(small)); !strings.Contains(h, fmt.Sprintf("-steps-per-call %d -steps-loop runs %d steps", k, k)) {
			t.Errorf("%d batches per epoch: hint %q, want a group of %d", batches, h, k)
		}
	}
	for _, c := range []struct {
		config                    string
		macs                      int64
		perCall, devices, batches int
	}{
		{"go:num_executors=2", small, 1, 1, 550},
		{xla, large, 1, 1, 550},
		{xla, small, 10, 1, 550},
		{xla, small, 1, 2, 550},
		{xla, small, 1, 1, 1},
	} {
		if h := stepsPerCallHint(c.config, c.perCall, c.devices, c.batches, of(c.macs)); h != "" {
			t.Errorf("%+v: hint %q, want none", c, h)
		}
	}
	// The step's size is not computed where no hint can apply.
	unused := func() (int64, error) { t.Error("step size computed where no hint applies"); return 0, nil }
	stepsPerCallHint("go", 1, 1, 550, unused)
	stepsPerCallHint(xla, 10, 1, 550, unused)
	stepsPerCallHint(xla, 1, 2, 550, unused)
}

// TestSensitivityEmptySeeds: sensitivity -seeds "" (and -seeds=) is refused
// as compare and sweep refuse it, not as a flag that does not exist, and
// before anything is written, with or without -parallel.
func TestSensitivityEmptySeeds(t *testing.T) {
	for _, args := range [][]string{{"-seeds", ""}, {"-seeds="}, {"--seeds="}, {"-seeds=", "-parallel", "2"}} {
		out := filepath.Join(t.TempDir(), "sens")
		a := append([]string{"sensitivity", "-epochs", "1", "-train-size", "200", "-val-size", "100", "-quiet", "-out", out}, args...)
		stderr := mustRefuse(t, 1, []string{`-seeds "": no seed given`}, a...)
		if strings.Contains(stderr, "not defined") || strings.Contains(stderr, "Usage:") {
			t.Errorf("sensitivity %v: %s", args, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("sensitivity %v: output folder %s exists (%v)", args, out, err)
		}
	}
	for _, cmd := range []string{"compare", "sweep"} {
		mustRefuse(t, 1, []string{`-seeds "": no seed given`}, cmd, "-seeds", "", "-epochs", "3", "-epochs-per-layer", "1")
	}
}

// TestPrintSensitivityFewEpochs: sensitivity's noise column says over how
// many epochs its SD is taken (5, or all when fewer), and with one epoch per
// layer prints n/a and claims nothing about resolution.
func TestPrintSensitivityFewEpochs(t *testing.T) {
	for _, c := range []struct {
		epochs  int
		sd      [3]float64
		want    []string
		notWant []string
	}{
		{1, [3]float64{}, []string{"sd, last 1 epoch", "n/a (1 epoch)", "noise unknown: with 1 epoch per layer"}, []string{"not resolved", "0.0000"}},
		{2, [3]float64{0.0041, 0.003, 0.002}, []string{"sd, all 2 epochs", "0.0041", "(sd 0.0041 and 0.0030 over the last 2)"}, []string{"n/a", "last 5", "noise unknown"}},
		{10, [3]float64{0.0041, 0.003, 0.002}, []string{"sd, last 5 epochs", "over the last 5)"}, []string{"n/a", "noise unknown"}},
	} {
		r := noisyResult(1, [3]float64{0.980, 0.975, 0.960}, c.sd)
		r.Epochs = c.epochs
		for i := range r.Layers {
			r.Layers[i].Epochs = c.epochs
		}
		if err := r.Finalize(); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		printSensitivity(&b, r, "sensitivity.json")
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%d epochs: no %q in\n%s", c.epochs, w, b.String())
			}
		}
		for _, w := range c.notWant {
			if strings.Contains(b.String(), w) {
				t.Errorf("%d epochs: %q in\n%s", c.epochs, w, b.String())
			}
		}
	}
}

// TestStepMemoryOnlyOnHost: the estimate of a step's memory refuses a
// step too big for this machine on the pure-Go backend and XLA's CPU plugin,
// whose steps run in its memory, and leaves XLA on GPUs, whose device memory
// XLA sizes itself, alone.
func TestStepMemoryOnlyOnHost(t *testing.T) {
	p, err := models.Lookup("resnet21")
	if err != nil {
		t.Fatal(err)
	}
	net, err := imageSizeNetwork(p.Network, p.Name, 224)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := memAvailable(); !ok {
		t.Skip("no /proc/meminfo here")
	}
	const batch = 1 << 20 // ~120 TB by the estimate
	t.Setenv("GOMLX_BACKEND", "go")
	if err := checkStepMemory(net, batch, 224); err == nil || !strings.Contains(err.Error(), "memory available") {
		t.Errorf("pure-Go backend: %v", err)
	}
	t.Setenv("GOMLX_BACKEND", "xla:cpu")
	if err := checkStepMemory(net, batch, 224); err == nil {
		t.Error("XLA on the CPU: no error")
	}
	t.Setenv("GOMLX_BACKEND", "xla:/opt/plugin/xla_cuda_plugin.so")
	if err := checkStepMemory(net, batch, 224); err != nil {
		t.Errorf("XLA with a GPU plugin: %v", err)
	}
}
