package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/internal/cputime"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
)

// Step workloads.

type stepper struct {
	e       *training.Engine
	xs      [][]float32
	ys      [][]int32
	shape   []int
	modes   []binnet.Mode
	next    int
	compil  float64
	threads int // GOMAXPROCS while measuring; 0: the process's
}

func newStepper(b compute.Backend, net models.MLP, batch int, binary bool, xs [][]float32, ys [][]int32) (*stepper, error) {
	return newNetStepper(b, net, training.Optimizer{Name: "adam", LearningRate: 0.1}, batch, binary, xs, ys, 3)
}

// newNetStepper builds an engine for net, makes 8 random batches unless xs is
// given, compiles the training graph with a first step and runs warm more.
func newNetStepper(b compute.Backend, net models.Network, opt training.Optimizer, batch int, binary bool, xs [][]float32, ys [][]int32, warm int) (*stepper, error) {
	return newNetStepperWith(b, net, opt, batch, binary, xs, ys, warm, func(*training.Engine) {})
}

// newNetStepperWith is newNetStepper with an engine that configure sets up
// before the first step (training.Engine.Gated, InGraphUpdate).
func newNetStepperWith(b compute.Backend, net models.Network, opt training.Optimizer, batch int, binary bool, xs [][]float32, ys [][]int32, warm int, configure func(*training.Engine)) (*stepper, error) {
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	e, err := training.NewEngine(b, store, net, nil, opt)
	if err != nil {
		return nil, err
	}
	configure(e)
	mode := binnet.Float
	if binary {
		mode = binnet.Binary
	}
	modes := make([]binnet.Mode, net.NumBinarizable())
	for i := range modes {
		modes[i] = mode
	}
	shape := net.InputShape()
	if xs == nil {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 8 {
			x, y := training.RandomBatch(net, batch, rng)
			xs, ys = append(xs, x), append(ys, y)
		}
	}
	s := &stepper{e: e, xs: xs, ys: ys, shape: shape, modes: modes}
	t0 := time.Now()
	if err := s.step(); err != nil { // compiles the graph
		return nil, err
	}
	s.compil = time.Since(t0).Seconds()
	for range warm {
		if err := s.step(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *stepper) step() error {
	i := s.next % len(s.xs)
	s.next++
	return s.e.TrainStep(s.xs[i], s.ys[i], s.shape, s.modes, 0.1)
}

// measure runs mlpPeerWarmup untimed steps, then steps for at least minSec
// seconds (and 5 steps); examples/s.
func (s *stepper) measure(batch int, minSec float64) (float64, error) {
	ex, _, _, err := s.measureCPU(batch, minSec, 5, mlpPeerWarmup)
	return ex, err
}

// measureCPU collects the garbage, runs warmup untimed steps (as many as
// the peer runs in its fresh process before its window: the collection
// empties the backend's buffer pools, and memory the Go runtime returned to
// the system while the peer ran is faulted in again by the first steps),
// then steps for at least minSec seconds and minSteps steps, and returns
// examples per second of wall time and per CPU-second of this process
// (user + system, all threads, the garbage collector included), and the
// system (kernel: page faults, madvise) share of that CPU time.
func (s *stepper) measureCPU(batch int, minSec float64, minSteps, warmup int) (ex, exCPU, sysShare float64, err error) {
	if s.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(s.threads))
	}
	runtime.GC()
	for range warmup {
		if err := s.step(); err != nil {
			return 0, 0, 0, err
		}
	}
	n := 0
	u0, s0 := cpuSeconds()
	t0 := time.Now()
	for {
		if err := s.step(); err != nil {
			return 0, 0, 0, err
		}
		n++
		if el := time.Since(t0).Seconds(); n >= minSteps && el >= minSec {
			u1, s1 := cpuSeconds()
			cpu := (u1 - u0) + (s1 - s0)
			return float64(n*batch) / el, float64(n*batch) / cpu, (s1 - s0) / cpu, nil
		}
	}
}

// cpuSeconds is the user and system CPU time of this process so far.
func cpuSeconds() (user, sys float64) {
	u, s, ok := cputime.Process()
	if !ok {
		return math.NaN(), math.NaN()
	}
	return u.Seconds(), s.Seconds()
}

// stepThreads is the thread count "binnet train" picks for a training step
// of net at batch (training.PickStepThreads: for a small step, one thread
// or every core, whichever it measures faster).
func stepThreads(net models.Network, batch int) (int, error) {
	c, err := training.PickStepThreads(net, batch)
	if err != nil {
		return 0, err
	}
	if len(c.Timed) > 0 {
		logf("threads for %s at batch %d: %s; using %d", net.Name(), batch, c, c.Threads)
	}
	return c.Threads, nil
}

// backendFor returns the backend to run binnet on threads threads (while
// measuring, the caller sets GOMAXPROCS to threads): b itself for the
// process's thread count, else a Go backend of its own opened with that
// many threads (so with as many graph executors, as "binnet train" opens
// it after picking them), and the function that closes it.
func backendFor(b compute.Backend, threads int) (compute.Backend, func(), error) {
	if threads == runtime.GOMAXPROCS(0) {
		return b, func() {}, nil
	}
	prev := runtime.GOMAXPROCS(threads)
	own, err := backend.NewGo()
	runtime.GOMAXPROCS(prev)
	if err != nil {
		return nil, nil, err
	}
	return own, own.Finalize, nil
}

// measureEach measures the workloads whose ID contains -only (all without
// it) in order; the first error stops it, named by its workload.
func measureEach[W interface{ ID() string }, R any](ws []W, measure func(W) (R, error)) ([]R, error) {
	var rs []R
	for _, w := range ws {
		if *flagOnly != "" && !strings.Contains(w.ID(), *flagOnly) {
			continue
		}
		r, err := measure(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.ID(), err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func stepWorkload(b compute.Backend, w Workload, threads []int) (*StepResult, error) {
	r := &StepResult{Workload: w, Params: denseParams(w.Hidden), Peer: map[int][]float64{}}
	// binnet steps on the threads its command line picks for this step.
	var err error
	if r.Threads, err = stepThreads(w.network(), w.Batch); err != nil {
		return nil, err
	}
	sb, done, err := backendFor(b, r.Threads)
	if err != nil {
		return nil, err
	}
	defer done()
	s, err := newStepper(sb, w.network(), w.Batch, w.Binary, nil, nil)
	if err != nil {
		return nil, err
	}
	s.threads = r.Threads
	r.Compile = s.compil
	var before *stepper
	if *flagBefore {
		if before, err = beforeStepper(b, w); err != nil {
			return nil, err
		}
	}
	for round := 0; round < *flagRounds; round++ {
		ex, err := s.measure(w.Batch, *flagMinSec)
		if err != nil {
			return nil, err
		}
		r.Binnet = append(r.Binnet, ex)
		line := fmt.Sprintf("%s round %d: binnet %.0f", w.ID(), round+1, ex)
		if before != nil {
			exB, err := before.measure(w.Batch, *flagMinSec)
			if err != nil {
				return nil, err
			}
			r.Before = append(r.Before, exB)
			line += fmt.Sprintf(", binnet before %.0f", exB)
		}
		for _, t := range threads {
			m, err := peerBench(w, t, *flagMinSec)
			if err != nil {
				return nil, err
			}
			v := m["examples_per_s"].(float64)
			r.Peer[t] = append(r.Peer[t], v)
			r.PeerEnv = m
			line += fmt.Sprintf(", pytorch %dt %.0f", t, v)
		}
		logf("%s", line)
	}
	s.e = nil
	if before != nil {
		before.e = nil
	}
	runtime.GC()
	return r, nil
}

// beforeStepper is binnet's training step as formulated until 2026-11-27:
// one graph for every stage with the layer modes as a run-time input
// (training.Engine.Gated: every weight through the quantizer and a select,
// held optimizer updates), the optimizer update in the graph
// (training.Engine.InGraphUpdate) and GoMLX's own gradient of the dense products
// (BINNET_DENSE=native while the graph compiles: transposes of the weights'
// gradient, the straight-through estimator as graph ops). It is measured in
// the same rounds as the current step, to show what the formulation changes
// moved.
func beforeStepper(b compute.Backend, w Workload) (*stepper, error) {
	old, had := os.LookupEnv("BINNET_DENSE")
	os.Setenv("BINNET_DENSE", "native")
	defer func() {
		if had {
			os.Setenv("BINNET_DENSE", old)
		} else {
			os.Unsetenv("BINNET_DENSE")
		}
	}()
	before := func(e *training.Engine) { e.Gated, e.InGraphUpdate = true, true }
	return newNetStepperWith(b, w.network(), training.Optimizer{Name: "adam", LearningRate: 0.1}, w.Batch, w.Binary, nil, nil, 3, before)
}

// hasBefore reports whether any step result measured the earlier formulation.
func hasBefore(steps []*StepResult) bool {
	for _, r := range steps {
		if len(r.Before) > 0 {
			return true
		}
	}
	return false
}

// bestPeer returns the thread count with the best median and its rounds.
// gflops is the rate of a step's dense products at ex examples per second:
// 3 products (forward and two backward) of 2 FLOPs per dense weight and
// example.
func (r *StepResult) gflops(ex float64) float64 { return ex * 6 * float64(r.Params) / 1e9 }

func (r *StepResult) bestPeer() (int, []float64) {
	bt, best := 0, -1.0
	var keys []int
	for t := range r.Peer {
		keys = append(keys, t)
	}
	sort.Ints(keys)
	for _, t := range keys {
		if m := median(r.Peer[t]); m > best {
			bt, best = t, m
		}
	}
	return bt, r.Peer[bt]
}

func bestThreads(rep *Report, model string, batch int, threads []int) int {
	for _, r := range rep.Steps {
		if r.Name == model && r.Batch == batch && r.Binary {
			t, _ := r.bestPeer()
			return t
		}
	}
	return threads[0]
}
