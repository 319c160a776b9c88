package training

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	_ "unsafe" // go:linkname

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/tensors"
)

// goBackendPasses is gomlx/compute v0.1.14's list of the pure-Go backend's
// optimization passes (only the implicit-broadcast fusion); withoutGoPasses
// empties it so that a While loop's body compiles as it was built (see
// goBackendLoops). Only its length is touched, so the element type need only
// have the size of the real one (an int and an interface).
//
//go:linkname goBackendPasses github.com/gomlx/compute/internal/gobackend.graphTransformations
var goBackendPasses []struct {
	priority  int
	transform any
}

// withoutGoPasses runs f with the pure-Go backend's passes off and its
// While loops allowed.
func withoutGoPasses(t *testing.T, f func()) {
	t.Helper()
	if len(goBackendPasses) != 1 {
		t.Fatalf("gomlx/compute registers %d passes on the pure-Go backend; this test knows v0.1.14's one", len(goBackendPasses))
	}
	saved := goBackendPasses
	goBackendPasses, goBackendLoops = nil, true
	defer func() { goBackendPasses, goBackendLoops = saved, false }()
	f()
}

var _ = gobackend.New // the backend whose passes goBackendPasses names is linked in

// TestLoopStepsMatchSingleSteps: with LoopSteps, TrainSteps runs its
// batches as a While loop whose body is one step; it must give, bit for
// bit, what TrainStep gives on each batch in turn through float, binary and
// frozen stages (Adam's step count, batch norm's running statistics and the
// epoch's accumulators included), with 3 and then 1 step per call.
func TestLoopStepsMatchSingleSteps(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	shape := data.Train.ExampleShape()
	single, looped := newTestEngine(t, smallMLP, opt), newTestEngine(t, smallMLP, opt)
	single.InGraphUpdate, looped.InGraphUpdate, looped.LoopSteps = true, true, true
	step := 0
	withoutGoPasses(t, func() {
		for _, modes := range threeStages {
			for _, k := range []int{3, 1} {
				xs, ys := singleSteps(t, single, data, &step, k, modes, opt.LearningRate)
				// [k, batch, ...], also for one step (DeviceBatch would shape it [batch, ...]).
				xt := tensors.FromFlatDataAndDimensions(xs, append([]int{k, len(ys) / k}, shape...)...)
				yt := tensors.FromFlatDataAndDimensions(ys, k, len(ys)/k)
				if err := looped.TrainStepsTensors(xt, yt, modes, opt.LearningRate); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	assertSameTraining(t, single, "looped steps", looped, 16*step)
}

// TestLoopStepsRefusedOnGoBackend: on the pure-Go backend, whose compiler
// breaks the loop's body, LoopSteps gives its error rather than the
// backend's.
func TestLoopStepsRefusedOnGoBackend(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.05})
	if !OnHost(e.Backend) {
		t.Skip("only the pure-Go backend refuses the loop; this backend runs it")
	}
	e.InGraphUpdate, e.LoopSteps = true, true
	var xs []float32
	var ys []int32
	for step := range 2 {
		x, y := stepBatch(data, step)
		xs, ys = append(xs, x...), append(ys, y...)
	}
	if err := e.TrainSteps(xs, ys, data.Train.ExampleShape(), 2, threeStages[1], 0.05); !errors.Is(err, errGoBackendLoop) {
		t.Errorf("error %v, want %v", err, errGoBackendLoop)
	}
}

// TestLoopStepsConvNet: the loop's body holds whatever a step holds: here
// a small CIFAR ResNet (8x8 images, one block per stage; the stem by
// im2col, the 16-channel block by Winograd, the strided convolutions, the
// residual paths, the batch split into parts, binnet's hand-written
// gradients) trained with SGD, all layers binary: three steps in a loop
// give, bit for bit, what three single steps give.
func TestLoopStepsConvNet(t *testing.T) {
	net := models.ResNetCIFAR{Label: "resnet-test", Input: []int{8, 8, 3}, BlocksPerStage: 1, Classes: 10}
	opt := Optimizer{Name: "sgd", LearningRate: 0.05, Momentum: 0.9, WeightDecay: 1e-4}
	single, looped := newTestEngine(t, net, opt), newTestEngine(t, net, opt)
	looped.LoopSteps = true
	modes := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
	rng := rand.New(rand.NewPCG(5, 6))
	const k, batch = 3, 8
	var xs []float32
	var ys []int32
	for range k {
		x, y := RandomBatch(net, batch, rng)
		if err := single.TrainStep(x, y, net.InputShape(), modes, opt.LearningRate); err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, x...), append(ys, y...)
	}
	withoutGoPasses(t, func() {
		if err := looped.TrainSteps(xs, ys, net.InputShape(), k, modes, opt.LearningRate); err != nil {
			t.Fatal(err)
		}
	})
	assertSameTraining(t, single, "looped steps", looped, k*batch)
}
