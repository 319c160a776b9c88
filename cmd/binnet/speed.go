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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/summary"
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
	Threads     int     `json:"threads"`              // GOMAXPROCS during the run
	PerCall     int     `json:"steps_per_call"`       // training steps per execution of the compiled graph
	Loop        bool    `json:"steps_loop,omitempty"` // those steps as a While loop rather than unrolled
	Devices     int     `json:"devices,omitempty"`    // devices each batch was split over (-devices), when more than one
	// ThreadStepMs is the step time (ms) measured with each thread count
	// to choose Threads, keyed by the count; absent when nothing was timed
	// (-threads given, a large step, GOMAXPROCS set, another backend).
	ThreadStepMs map[string]float64 `json:"thread_step_ms,omitempty"`
}

func runSpeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("speed", "Times the training step of a model preset on random data with the backend that\nGOMLX_BACKEND selects (the batch stays the same tensor shape, so the step is compiled once),\nand prints examples/s: the number to compare with PyTorch or JAX on the same machine.", stderr)
	modelName := fs.String("model", "vgg5", "model preset: "+fmt.Sprint(models.Names()))
	batch := fs.Int("batch", 0, "batch size (default: the preset's)")
	size := fs.Int("image-size", 0, "for image models, rebuild the network for this square input size (e.g. 224 for resnet21); "+
		"refused on the CPU when the step's estimated memory exceeds the memory available")
	mode := fs.String("mode", "binary", "binary (every layer binary) | float")
	steps := fs.Int("steps", 10, "timed steps per window")
	windows := fs.Int("windows", 3, "timed windows (the median is reported)")
	asJSON := fs.Bool("json", false, "print one JSON line")
	threads := fs.Int("threads", 0, threadsUsage)
	loop := fs.Bool("steps-loop", false, "with -steps-per-call, run the steps of a call as a While loop in the graph instead of unrolled (see train -steps-loop; XLA only)")
	devices := fs.Int("devices", 1, "split each batch over this many devices of the backend (data parallel, as train -devices; XLA on several GPUs): the batch must be a multiple of it, and the sharded step runs one step per call")
	perCall := fs.Int("steps-per-call", 1, "training steps per execution of the compiled graph (see train -steps-per-call): on a GPU more than 1 unrolls the steps, each on its own batch, so that the host waits for the device once per call")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed windows (not the first step and its compilation) to this file, for \"go tool pprof\"")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := models.Lookup(*modelName)
	if err != nil {
		return err
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	given := func(name string) bool { return flagGiven(fs, name) }
	net := p.Network
	if given("image-size") {
		if net, err = imageSizeNetwork(net, p.Name, *size); err != nil {
			return err
		}
	}
	if *batch < 0 || *batch == 0 && given("batch") {
		return fmt.Errorf("-batch %d: the batch size must be at least 2 (omit -batch for the preset's %d)", *batch, p.Hyper.BatchSize)
	}
	if *batch == 0 {
		*batch = p.Hyper.BatchSize
	}
	if err := checkStepsLoop(*loop, *perCall); err != nil {
		return err
	}
	if *batch < 2 || *steps < 1 || *windows < 1 || *perCall < 1 {
		return fmt.Errorf("-batch must be at least 2, -steps, -windows and -steps-per-call at least 1 (got -batch %d, -steps %d, -windows %d, -steps-per-call %d)", *batch, *steps, *windows, *perCall)
	}
	if err := checkDevices(*devices, *perCall, *batch); err != nil {
		return err
	}
	calls := (*steps + *perCall - 1) / *perCall // executions per window
	if given("image-size") || given("batch") {
		// The preset's own step is not checked: it fits the machines binnet runs on.
		if err := checkStepMemory(net, *batch, max(*size, 0)); err != nil {
			return err
		}
	}
	layerMode := binnet.Float
	switch *mode {
	case "binary":
		layerMode = binnet.Binary
	case "float":
	default:
		return fmt.Errorf("-mode %q: want binary or float", *mode)
	}
	modes := slices.Repeat([]binnet.Mode{layerMode}, net.NumBinarizable())
	var profile *os.File // created before any work, so that a bad path fails at once
	if *cpuProfile != "" {
		if err := checkOutputFile("cpuprofile", *cpuProfile, "cpu.prof"); err != nil {
			return err
		}
		if profile, err = os.Create(*cpuProfile); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer profile.Close()
	}
	choice, err := applyThreads(*threads, net, *batch, *asJSON, stderr)
	if err != nil {
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
	e.LoopSteps = *loop
	if err := e.DataParallel(*devices); err != nil {
		return fmt.Errorf("-devices %d: %w", *devices, err)
	}
	x, y := training.RandomBatch(net, *batch**perCall, rand.New(rand.NewPCG(1, 2)))
	// The learning rate is an input of the compiled step, so its value does not change the work; a
	// thousandth of the preset's keeps the weights finite while they fit random labels.
	lr := opt.LearningRate * 1e-3
	step := func() error { return e.TrainStep(x, y, net.InputShape(), modes, lr) }
	if !training.OnHost(b) || *perCall > 1 {
		// On an accelerator the batches stay on the device, as a peer's benchmark keeps them: the
		// steps time the training, not a host-to-device copy of the same batch.
		xt, yt, err := e.DeviceBatch(x, y, net.InputShape(), *perCall)
		if err != nil {
			return err
		}
		step = func() error { return e.TrainStepTensors(xt, yt, modes, lr) }
		if *perCall > 1 {
			step = func() error { return e.TrainStepsTensors(xt, yt, modes, lr) }
		}
	}
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
		for range calls {
			if err := step(); err != nil {
				return err
			}
		}
		per = append(per, time.Since(t).Seconds()/float64(calls**perCall))
	}
	sort.Float64s(per)
	med := per[len(per)/2]
	var macs int64
	for _, in := range e.Layers() {
		macs += in.MACs()
	}
	r := speedResult{Model: p.Name, Network: net.Name(), Mode: *mode, Batch: *batch, Backend: b.Name(), FirstStepS: first,
		StepMs: med * 1000, ExamplesPS: float64(*batch) / med, ForwardMACs: macs, Threads: runtime.GOMAXPROCS(0), PerCall: *perCall, Loop: *loop}
	if *devices > 1 {
		r.Devices = *devices
	}
	for i, n := range choice.Timed {
		if r.ThreadStepMs == nil {
			r.ThreadStepMs = map[string]float64{}
		}
		r.ThreadStepMs[strconv.Itoa(n)] = float64(choice.StepTimes[i]) / float64(time.Millisecond)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "%s (%s) %s, batch %d on %s (GOMAXPROCS %d): %.2f ms/step, %.1f examples/s (first step with compilation %.1f s; %.1f forward MFLOP per example in binarizable layers)\n",
		r.Model, r.Network, r.Mode, r.Batch, r.Backend, r.Threads, r.StepMs, r.ExamplesPS, r.FirstStepS, 2*float64(macs)/1e6)
	return nil
}

// imageSizeNetwork rebuilds net (preset name) for square images of side
// size, the -image-size flag: refused when it is not positive, when the
// network has a fixed input, and below the network's minimum (the error of
// its Adapt, which names it), each error naming the flag and the value.
func imageSizeNetwork(net models.Network, name string, size int) (models.Network, error) {
	if size < 1 {
		return nil, fmt.Errorf("-image-size %d: must be a positive side in pixels (omit the flag for the preset's input size)", size)
	}
	ad, ok := net.(models.Adaptable)
	if !ok {
		return nil, fmt.Errorf("-image-size %d: model %s has a fixed input", size, name)
	}
	shape := net.InputShape()
	adapted, err := ad.Adapt([]int{size, size, shape[len(shape)-1]}, net.NumClasses())
	if err != nil {
		return nil, fmt.Errorf("-image-size %d: %w", size, err)
	}
	return adapted, nil
}

// stepSizes returns the values the binarizable layers of net (convolutions
// and dense layers) output per example, and the network's parameters, from
// its summary (built on a private pure-Go backend, so that the threads are
// not fixed yet): a layer's output has MACs / fan-in values.
func stepSizes(net models.Network) (acts, params float64, err error) {
	b, err := backend.NewGo()
	if err != nil {
		return 0, 0, err
	}
	defer b.Finalize()
	s, err := summary.OfWithBackend(b, net, nil) // every binarizable layer binary: BinaryParams are the weights
	if err != nil {
		return 0, 0, err
	}
	for _, r := range s.Rows {
		if r.BinaryParams > 0 && r.Outputs > 0 {
			acts += float64(r.BinaryMACs) * float64(r.Outputs) / float64(r.BinaryParams)
		}
	}
	return acts, float64(s.Total.Params), nil
}

// stepSizeRef is the largest image side whose summary stepEstimate builds:
// the graph of a larger image takes long to build (and its dense layers
// huge weights), so larger sides are extrapolated from sides 128 and 256.
const stepSizeRef = 256

// stepEstimate returns stepSizes for net, whose input is an image of side
// size when size > 0. Above stepSizeRef, the layer outputs are those of
// side stepSizeRef times the ratio of the areas (convolutions output values
// in proportion to the image's area), and the parameters are extrapolated
// linearly in the area from sides stepSizeRef/2 and stepSizeRef (a VGG's
// first dense layer has a fan-in proportional to the area; a ResNet's
// parameters do not depend on the size).
func stepEstimate(net models.Network, size int) (acts, params float64, err error) {
	ad, ok := net.(models.Adaptable)
	if size <= stepSizeRef || !ok {
		return stepSizes(net)
	}
	shape := net.InputShape()
	at := func(side int) (float64, float64, error) {
		n, err := ad.Adapt([]int{side, side, shape[len(shape)-1]}, net.NumClasses())
		if err != nil {
			return 0, 0, err
		}
		return stepSizes(n)
	}
	a1, p1, err := at(stepSizeRef)
	if err != nil {
		return 0, 0, err
	}
	_, p0, err := at(stepSizeRef / 2)
	if err != nil {
		return 0, 0, err
	}
	r0, r1, r := float64(stepSizeRef*stepSizeRef/4), float64(stepSizeRef*stepSizeRef), float64(size)*float64(size)
	return a1 * r / r1, p1 + (p1-p0)*(r-r1)/(r1-r0), nil
}

// stepMemoryFactor is the float32 values a training step keeps or computes
// per output value of a binarizable layer and example: the layer's output,
// its batch norm's and activation's (kept for the backward pass) and their
// gradients. Measured on the pure-Go backend, vgg5 steps at batch 100 and
// sides 32 to 128 peak at 18 to 20 values (with everything else the
// process holds), so the estimate stays below what the step takes.
const stepMemoryFactor = 12

// checkStepMemory refuses a training step of net at batch whose estimated
// memory exceeds the memory available (MemAvailable of /proc/meminfo;
// without it, nothing is checked): such a step dies with "fatal error:
// runtime: out of memory", after minutes of compilation for a big one. The
// estimate is stepMemoryFactor float32 values per layer output (see
// stepEstimate) and example of the batch, plus the parameters 4 times
// (weights, gradients and Adam's two moments). size is the image side of
// -image-size (0 when the preset's); the error names it and -batch. Only a
// step in this machine's memory is checked, the pure-Go backend's or XLA's on
// the CPU (onHostMemory): on a GPU the step lives in the device's memory,
// which XLA sizes and refuses itself ("RESOURCE_EXHAUSTED"), and the host's
// may be far smaller (a GPU machine's VM) or the step split over devices
// (-devices).
func checkStepMemory(net models.Network, batch, size int) error {
	if !onHostMemory(backend.Configuration()) {
		return nil
	}
	avail, ok := memAvailable()
	if !ok {
		return nil
	}
	acts, params, err := stepEstimate(net, size)
	if err != nil {
		return err
	}
	need := (acts*float64(batch)*stepMemoryFactor + params*4) * 4
	if need <= float64(avail) {
		return nil
	}
	flags := fmt.Sprintf("-batch %d", batch)
	if size > 0 {
		flags = fmt.Sprintf("-image-size %d with %s", size, flags)
	}
	return fmt.Errorf("%s: a training step of %s at batch %d needs about %s (%.3g layer outputs per example x batch %d x %d, and %.3g parameters x 4, float32), more than the %s of memory available",
		flags, net.Name(), batch, byteSize(need), acts, batch, stepMemoryFactor, params, byteSize(float64(avail)))
}

// onHostMemory reports whether the backend that config (GOMLX_BACKEND's
// value) selects computes in this machine's memory: the pure-Go backend and
// XLA's CPU plugin ("xla:cpu"), not XLA with a GPU plugin.
func onHostMemory(config string) bool {
	name, rest, _ := strings.Cut(config, ":")
	return name == "go" || name == "xla" && strings.HasPrefix(rest, "cpu")
}

// memAvailable returns the memory available to new processes, in bytes:
// MemAvailable of /proc/meminfo (Linux); false where there is none.
func memAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "MemAvailable:")
		if !ok {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil || kb <= 0 {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// byteSize formats a number of bytes, e.g. "2.4 TB" or "180 MB".
func byteSize(b float64) string {
	for _, u := range []string{"B", "kB", "MB", "GB", "TB", "PB"} {
		if b < 1000 || u == "PB" {
			return fmt.Sprintf("%.3g %s", b, u)
		}
		b /= 1000
	}
	return ""
}
