package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/training"
	"github.com/gomlx/gomlx/ml/model"
)

// speedResult is what "binnet speed -json" prints.
type speedResult struct {
	Model       string  `json:"model"`
	Network     string  `json:"network"`
	Mode        string  `json:"mode"`
	Batch       int     `json:"batch"`
	Backend     string  `json:"backend"`
	FirstStepS  float64 `json:"first_step_s"` // includes compilation
	StepMs      float64 `json:"step_ms"`      // median of the timed windows
	ExamplesPS  float64 `json:"examples_per_s"`
	ForwardMACs int64   `json:"forward_macs_per_example"`
	Threads     int     `json:"threads"` // GOMAXPROCS during the run
}

func runSpeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("speed", "Times the training step of a model preset on random data with the backend that\nGOMLX_BACKEND selects (the batch stays the same tensor shape, so the step is compiled once),\nand prints examples/s: the number to compare with PyTorch or JAX on the same machine.", stderr)
	modelName := fs.String("model", "vgg5", "model preset: "+fmt.Sprint(models.Names()))
	batch := fs.Int("batch", 0, "batch size (default: the preset's)")
	size := fs.Int("image-size", 0, "for image models, rebuild the network for this square input size (e.g. 224 for resnet21)")
	mode := fs.String("mode", "binary", "binary (every layer binary) | float")
	steps := fs.Int("steps", 10, "timed steps per window")
	windows := fs.Int("windows", 3, "timed windows (the median is reported)")
	asJSON := fs.Bool("json", false, "print one JSON line")
	threads := fs.Int("threads", 0, threadsUsage)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed windows (not the first step and its compilation) to this file, for \"go tool pprof\"")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := models.Lookup(*modelName)
	if err != nil {
		return err
	}
	net := p.Network
	if *size > 0 {
		ad, ok := net.(models.Adaptable)
		if !ok {
			return fmt.Errorf("-image-size: model %s has a fixed input", p.Name)
		}
		shape := net.InputShape()
		if net, err = ad.Adapt([]int{*size, *size, shape[len(shape)-1]}, net.NumClasses()); err != nil {
			return err
		}
	}
	if *batch == 0 {
		*batch = p.Hyper.BatchSize
	}
	if *batch < 2 || *steps < 1 || *windows < 1 {
		return fmt.Errorf("-batch must be at least 2, -steps and -windows at least 1")
	}
	modes := make([]binnet.Mode, net.NumBinarizable())
	switch *mode {
	case "binary":
		for i := range modes {
			modes[i] = binnet.Binary
		}
	case "float":
	default:
		return fmt.Errorf("-mode %q: want binary or float", *mode)
	}
	var profile *os.File // created before any work, so that a bad path fails at once
	if *cpuProfile != "" {
		if profile, err = os.Create(*cpuProfile); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer profile.Close()
	}
	if err := applyThreads(*threads, net, *batch, *asJSON, stderr); err != nil {
		return err
	}
	b, err := backend.Shared()
	if err != nil {
		return err
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	opt := training.Optimizer{Name: p.Hyper.Optimizer, LearningRate: p.Hyper.LearningRate, Momentum: p.Hyper.Momentum, WeightDecay: p.Hyper.WeightDecay}
	e, err := training.NewEngine(b, store, net, quant.STESign, opt)
	if err != nil {
		return err
	}
	x, y := training.RandomBatch(net, *batch, rand.New(rand.NewPCG(1, 2)))
	// The learning rate is an input of the compiled step, so its value does not change the work; a
	// thousandth of the preset's keeps the weights finite while they fit random labels.
	step := func() error { return e.TrainStep(x, y, net.InputShape(), modes, opt.LearningRate*1e-3) }
	t0 := time.Now()
	if err := step(); err != nil {
		return err
	}
	first := time.Since(t0).Seconds()
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return fmt.Errorf("-cpuprofile %s: %w", *cpuProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	var per []float64
	for w := 0; w < *windows; w++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		for s := 0; s < *steps; s++ {
			if err := step(); err != nil {
				return err
			}
		}
		per = append(per, time.Since(t).Seconds()/float64(*steps))
	}
	sort.Float64s(per)
	med := per[len(per)/2]
	var macs int64
	for _, in := range e.Layers() {
		macs += in.MACs()
	}
	r := speedResult{Model: p.Name, Network: net.Name(), Mode: *mode, Batch: *batch, Backend: b.Name(), FirstStepS: first,
		StepMs: med * 1000, ExamplesPS: float64(*batch) / med, ForwardMACs: macs, Threads: runtime.GOMAXPROCS(0)}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "%s (%s) %s, batch %d on %s (GOMAXPROCS %d): %.2f ms/step, %.1f examples/s (first step with compilation %.1f s; %.1f forward MFLOP per example in binarizable layers)\n",
		r.Model, r.Network, r.Mode, r.Batch, r.Backend, r.Threads, r.StepMs, r.ExamplesPS, r.FirstStepS, 2*float64(macs)/1e6)
	return nil
}
