package training

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestUnrolledStepsMatchSingleSteps: TrainSteps runs its batches in one
// execution of a graph that unrolls the steps (the update in the graph, as
// on XLA); it must give what TrainStep gives on each batch in turn, through
// float, binary and frozen stages (Adam's step count, batch norm's running
// statistics and the epoch's accumulators included), and take the same
// path of single steps where it cannot unroll (the fused update).
func TestUnrolledStepsMatchSingleSteps(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	shape := data.Train.ExampleShape()
	for _, inGraph := range []bool{true, false} {
		single, unrolled := newTestEngine(t, smallMLP, opt), newTestEngine(t, smallMLP, opt)
		single.InGraphUpdate, unrolled.InGraphUpdate = inGraph, inGraph
		if unrolled.unrolls() != inGraph {
			t.Fatalf("in-graph update %v: unrolls %v", inGraph, !inGraph)
		}
		step := 0
		for _, modes := range threeStages {
			const k = 3
			xs, ys := singleSteps(t, single, data, &step, k, modes, opt.LearningRate)
			if err := unrolled.TrainSteps(xs, ys, shape, k, modes, opt.LearningRate); err != nil {
				t.Fatal(err)
			}
		}
		if inGraph {
			if s := unrolled.stages[stageKey(threeStages[2])]; s.grouped == nil {
				t.Fatal("no unrolled graph with the update in the graph")
			}
		}
		assertSameTraining(t, single, "unrolled steps", unrolled, 16*step)
	}
}

// singleSteps runs k single steps of e on the batches from *step on,
// advancing *step, and returns those batches one after the other.
func singleSteps(t *testing.T, e *Engine, data Data, step *int, k int, modes []binnet.Mode, lr float64) (xs []float32, ys []int32) {
	t.Helper()
	for range k {
		x, y := stepBatch(data, *step)
		*step++
		if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, lr); err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, x...), append(ys, y...)
	}
	return xs, ys
}

// assertSameTraining checks that an engine trained as single did, one step
// at a time: the same variables and the same accumulated loss, accuracy and
// examples (want of them).
func assertSameTraining(t *testing.T, single *Engine, name string, other *Engine, want int) {
	t.Helper()
	assertSameVariables(t, "single steps", single, name, other)
	l1, a1, n1 := single.Accumulated()
	l2, a2, n2 := other.Accumulated()
	same := l1 == l2 && a1 == a2
	if !OnHost(single.Backend) { // see closeTolerance
		same = math.Abs(l1-l2) <= closeTolerance*math.Abs(l1) && math.Abs(a1-a2) <= closeTolerance
	}
	if !same || n1 != n2 || n1 != want {
		t.Errorf("accumulated: single steps %v %v %v, %s %v %v %v (want %d examples)", l1, a1, n1, name, l2, a2, n2, want)
	}
}

// TestTrainStepsRejectsUnevenBatches: the batches of TrainSteps must split
// evenly, and the features must match the labels.
func TestTrainStepsRejectsUnevenBatches(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	e := newTestEngine(t, smallMLP, opt)
	modes := threeStages[0]
	x, y := stepBatch(data, 0)
	shape := data.Train.ExampleShape()
	if err := e.TrainSteps(x, y, shape, 3, modes, 0.1); err == nil {
		t.Error("16 examples in 3 steps: no error")
	}
	if err := e.TrainSteps(x[:len(x)-1], y, shape, 2, modes, 0.1); err == nil {
		t.Error("features one short: no error")
	}
	if err := e.TrainSteps(x, y, shape, 0, modes, 0.1); err == nil {
		t.Error("0 steps: no error")
	}
}

// TestRunStepsPerCall: a run whose steps go in groups (StepsPerCall 3,
// 2,000 examples in batches of 96: six groups of three, then two full
// batches and the last one of 80 step by step) records the same numbers as
// the same run one step per call, and so does the run with each group a
// While loop (LoopSteps). SGD keeps the update in the graph, so the groups
// are unrolled (or looped) on the pure-Go backend too.
func TestRunStepsPerCall(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 4)
	cfg.Optimizer = Optimizer{Name: "sgd", LearningRate: 0.05, Momentum: 0.9, WeightDecay: 1e-4}
	cfg.BatchSize = 96
	one, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StepsPerCall = 3
	grouped, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	assertSameRecords(t, "one step per call", one, "three", grouped)
	// The groups as While loops (LoopSteps): refused on the pure-Go backend
	// as it is, the same records with its pass off.
	cfg.LoopSteps = true
	if _, err := Run(context.Background(), cfg, data); !errors.Is(err, errGoBackendLoop) {
		t.Fatalf("LoopSteps on the pure-Go backend: error %v", err)
	}
	var looped *Results
	withoutGoPasses(t, func() { looped, err = Run(context.Background(), cfg, data) })
	if err != nil {
		t.Fatal(err)
	}
	assertSameRecords(t, "one step per call", one, "three in a loop", looped)
	cfg.LoopSteps = false
	cfg.StepsPerCall = -1
	if _, err := Run(context.Background(), cfg, data); err == nil || !strings.Contains(err.Error(), "steps per call") {
		t.Errorf("StepsPerCall -1: error %v", err)
	}
}

// assertSameRecords checks that two runs of 4 epochs recorded the same
// training and validation numbers every epoch and the same test accuracy,
// one that shows they trained (above 0.5).
func assertSameRecords(t *testing.T, nameA string, a *Results, nameB string, b *Results) {
	t.Helper()
	if len(a.History) != 4 || len(b.History) != 4 {
		t.Fatalf("epochs recorded: %d and %d, want 4", len(a.History), len(b.History))
	}
	for i, ra := range a.History {
		rb := b.History[i]
		if ra.TrainLoss != rb.TrainLoss || ra.TrainAccuracy != rb.TrainAccuracy || ra.ValLoss != rb.ValLoss || ra.ValAccuracy != rb.ValAccuracy {
			t.Errorf("epoch %d: %s %+v, %s %+v", i+1, nameA, ra, nameB, rb)
		}
	}
	if a.TestAccuracy != b.TestAccuracy || a.TestAccuracy < 0.5 {
		t.Errorf("test accuracy: %s %v, %s %v", nameA, a.TestAccuracy, nameB, b.TestAccuracy)
	}
}

// TestDeviceBatchCopies: DeviceBatch's tensors hold a copy of the batch (a
// caller may reuse its buffers at once), shaped by the number of steps.
func TestDeviceBatchCopies(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.05})
	x, y := stepBatch(data, 0)
	want := append([]float32(nil), x...)
	xt, yt, err := e.DeviceBatch(x, y, data.Train.ExampleShape(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		x[i] = -7
	}
	if got := xt.Shape().Dimensions; len(got) != 3 || got[0] != 2 || got[1] != 8 || got[2] != 784 {
		t.Fatalf("features shaped %v, want [2 8 784]", got)
	}
	if got := yt.Shape().Dimensions; len(got) != 2 || got[0] != 2 || got[1] != 8 {
		t.Fatalf("labels shaped %v, want [2 8]", got)
	}
	for i, v := range tensors.MustCopyFlatData[float32](xt) {
		if v != want[i] {
			t.Fatalf("feature %d: %v after the caller overwrote its batch, want %v", i, v, want[i])
		}
	}
	if _, _, err := e.DeviceBatch(x, y, data.Train.ExampleShape(), 3); err == nil {
		t.Error("16 examples in 3 batches: no error")
	}
}

// TestTrainStepsTensorsOneByOne: with the fused update (no unrolled graph),
// TrainStepsTensors runs its batches one step each, reading the tensors in
// place: the same variables as TrainStep on each batch, and a bad batch's
// error comes back.
func TestTrainStepsTensorsOneByOne(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	shape := data.Train.ExampleShape()
	single, grouped := newTestEngine(t, smallMLP, opt), newTestEngine(t, smallMLP, opt)
	modes := threeStages[1]
	var xs []float32
	var ys []int32
	for step := range 3 {
		x, y := stepBatch(data, step)
		if err := single.TrainStep(x, y, shape, modes, opt.LearningRate); err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, x...), append(ys, y...)
	}
	if grouped.unrolls() {
		t.Fatal("the fused update unrolls")
	}
	xt, yt, err := grouped.DeviceBatch(xs, ys, shape, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := grouped.TrainStepsTensors(xt, yt, modes, opt.LearningRate); err != nil {
		t.Fatal(err)
	}
	assertSameVariables(t, "single steps", single, "TrainStepsTensors", grouped)
	// A step's error comes back (here the modes of one layer for three).
	if err := grouped.TrainStepsTensors(xt, yt, modes[:1], opt.LearningRate); err == nil || !strings.Contains(err.Error(), "1 layer modes") {
		t.Errorf("modes for 1 of 3 layers: error %v", err)
	}
}
