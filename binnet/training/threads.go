package training

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/summary"
	"github.com/gomlx/gomlx/ml/model"
)

// StepMACs estimates the multiply-accumulates of one training step of net
// at batch: three times the forward products of its dense and convolutional
// layers (the forward pass, then the gradients of the inputs and of the
// weights). It builds the network's graph on a pure-Go backend of its own,
// closed before it returns, so that the shared backend stays unopened.
func StepMACs(net models.Network, batch int) (int64, error) {
	if batch < 1 {
		return 0, fmt.Errorf("training: StepMACs: a batch of %d examples: want at least 1", batch)
	}
	b, err := backend.NewGo()
	if err != nil {
		return 0, err
	}
	defer b.Finalize()
	s, err := summary.OfWithBackend(b, net, nil)
	if err != nil {
		return 0, err
	}
	return 3 * int64(batch) * (s.Total.MACs + s.Total.BinaryMACs), nil
}

// ThreadChoice is the thread count (GOMAXPROCS) chosen for a training step,
// with the step times measured to choose it.
type ThreadChoice struct {
	Threads int // the threads chosen
	// Timed lists the thread counts timed and StepTimes the best time of
	// one step measured with each (in the same order); both are empty when
	// there was nothing to choose (see backend.StepThreadCandidates).
	Timed     []int
	StepTimes []time.Duration
}

// String describes the choice, e.g. "1 thread(s): 1.77 ms/step, 2
// thread(s): 1.42 ms/step", or "2 thread(s)" when nothing was timed.
func (c ThreadChoice) String() string {
	if len(c.Timed) == 0 {
		return fmt.Sprintf("%d thread(s)", c.Threads)
	}
	parts := make([]string, len(c.Timed))
	for i, n := range c.Timed {
		parts[i] = fmt.Sprintf("%d thread(s): %.2f ms/step", n, float64(c.StepTimes[i])/float64(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

// PickStepThreads returns the threads (GOMAXPROCS) for training net at
// batch as the binnet command picks them: for a step under
// backend.SmallStepMACs on the pure-Go backend, whichever of one thread and
// the current GOMAXPROCS runs it faster, measured here (a few steps of the
// all-binary network with Adam on random batches, each thread count on a
// pure-Go backend of its own, alternating, about a quarter of a second for the
// paper's MLPs; the training results are the same bits on any number of
// threads); otherwise the current GOMAXPROCS. It leaves GOMAXPROCS as it
// found it. When the GOMAXPROCS environment variable is set (the user's
// choice), on another backend or once the shared backend is open, it
// returns the current GOMAXPROCS without measuring.
func PickStepThreads(net models.Network, batch int) (ThreadChoice, error) {
	current := runtime.GOMAXPROCS(0)
	if !backend.PicksThreads() || backend.Opened() {
		return ThreadChoice{Threads: current}, nil
	}
	macs, err := StepMACs(net, batch)
	if err != nil {
		return ThreadChoice{}, err
	}
	candidates := backend.StepThreadCandidates(macs)
	if len(candidates) == 1 {
		return ThreadChoice{Threads: candidates[0]}, nil
	}
	times, err := timeStepThreads(net, batch, candidates)
	if err != nil {
		return ThreadChoice{}, fmt.Errorf("training: timing a step of %s at batch %d on %v threads: %w", net.Name(), batch, candidates, err)
	}
	return ThreadChoice{Threads: fastest(candidates, times), Timed: candidates, StepTimes: times}, nil
}

// fastest returns the thread count of threads whose step time (times, in
// the same order) is the shortest, the first of equals.
func fastest(threads []int, times []time.Duration) int {
	best := 0
	for i, t := range times {
		if t < times[best] {
			best = i
		}
	}
	return threads[best]
}

// timeStepThreads times a training step of net at batch with each thread
// count of threads: for each, an engine on a pure-Go backend opened under
// that GOMAXPROCS (its graph executors are sized then), its graph compiled
// and warmed up; then three rounds that run each engine in turn, under its
// GOMAXPROCS, for at least stepWindow and 3 steps. It returns the best time
// per step of each and restores GOMAXPROCS.
func timeStepThreads(net models.Network, batch int, threads []int) ([]time.Duration, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const stepWindow = 25 * time.Millisecond
	modes := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
	x, y := RandomBatch(net, batch, rand.New(rand.NewPCG(1, 2)))
	shape := net.InputShape()
	engines := make([]*Engine, len(threads))
	for i, n := range threads {
		runtime.GOMAXPROCS(n)
		b, err := backend.NewGo()
		if err != nil {
			return nil, err
		}
		defer b.Finalize()
		store := model.NewStore()
		if err := store.SetRNGStateFromSeed(1); err != nil {
			return nil, err
		}
		e, err := NewEngine(b, store, net, nil, Optimizer{Name: "adam", LearningRate: 1e-3})
		if err != nil {
			return nil, err
		}
		for range 3 { // compiles, then warms up
			if err := e.TrainStep(x, y, shape, modes, 1e-3); err != nil {
				return nil, err
			}
		}
		engines[i] = e
	}
	best := make([]time.Duration, len(threads))
	for range 3 {
		for i, e := range engines {
			runtime.GOMAXPROCS(threads[i])
			steps, start := 0, time.Now()
			for steps < 3 || time.Since(start) < stepWindow {
				if err := e.TrainStep(x, y, shape, modes, 1e-3); err != nil {
					return nil, err
				}
				steps++
			}
			if per := time.Since(start) / time.Duration(steps); best[i] == 0 || per < best[i] {
				best[i] = per
			}
		}
	}
	return best, nil
}

// UseStepThreads sets this process's threads (GOMAXPROCS) for training net
// at batch to PickStepThreads's choice, as the binnet command does, and
// returns the choice. It changes nothing when the GOMAXPROCS environment
// variable is set (the user's choice) or once the shared backend is open
// (its graph executors were sized to the threads then): call it before
// anything else of binnet's.
func UseStepThreads(net models.Network, batch int) (ThreadChoice, error) {
	c, err := PickStepThreads(net, batch)
	if err != nil {
		return c, err
	}
	if !backend.Opened() {
		backend.UseThreads(c.Threads)
	}
	return c, nil
}
