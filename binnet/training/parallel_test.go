package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
)

// TestDataParallelSpecs checks the sharding of a data-parallel step: the
// batch axis of images and labels split over the "data" axis of the mesh,
// everything else replicated.
func TestDataParallelSpecs(t *testing.T) {
	mesh, specs, err := DataParallelSpecs(8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if mesh.NumDevices() != 8 || len(specs) != 3 {
		t.Fatalf("mesh of %d devices, %d specs: want 8 and 3", mesh.NumDevices(), len(specs))
	}
	if got := fmt.Sprint(specs[0].Axes); got != "[[data] [] [] []]" {
		t.Errorf("images sharded as %s, want the batch axis over data", got)
	}
	if got := fmt.Sprint(specs[1].Axes); got != "[[data]]" {
		t.Errorf("labels sharded as %s", got)
	}
	for i, s := range specs[2:] {
		if !s.IsReplicated() {
			t.Errorf("input %d is not replicated: %s", i+2, s)
		}
	}
}

// TestDataParallelOnOneDevice: the pure-Go backend has one device; one
// device is the plain step, more are refused with a message that says why.
func TestDataParallelOnOneDevice(t *testing.T) {
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	if err := e.DataParallel(1); err != nil {
		t.Fatalf("DataParallel(1): %v", err)
	}
	err := e.DataParallel(2)
	if err == nil || !strings.Contains(err.Error(), "2 devices") || !strings.Contains(err.Error(), "has 1") {
		t.Fatalf("DataParallel(2) on the Go backend: %v", err)
	}
}

// TestDataParallelMatchesPlainSteps runs where the backend has distributed
// execution (XLA; the pure-Go backend has none, so it is skipped there): a
// small residual conv net with batch norm, all layers binary, trained with
// SGD, three steps sharded over every device of the backend (a one-device
// mesh on a one-GPU machine, which still goes through the sharding
// partitioner; the whole data-parallel path on several GPUs) must end with
// the variables and accumulators of three plain steps from the same seed (as
// close as assertSameVariables asks on such a backend: see closeTolerance).
func TestDataParallelMatchesPlainSteps(t *testing.T) {
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	if OnHost(b) {
		t.Skip("the pure-Go backend has no distributed execution; run with GOMLX_BACKEND=xla:... (bench/gpu/run.sh does)")
	}
	n := b.NumDevices()
	net := models.ResNetCIFAR{Label: "resnet-test", Input: []int{8, 8, 3}, BlocksPerStage: 1, Classes: 10}
	opt := Optimizer{Name: "sgd", LearningRate: 0.05, Momentum: 0.9, WeightDecay: 1e-4}
	plain, sharded := newTestEngine(t, net, opt), newTestEngine(t, net, opt)
	mesh, specs, err := DataParallelSpecs(n, 1+len(net.InputShape()))
	if err != nil {
		t.Fatal(err)
	}
	modes := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
	batch := 8 * n
	sharded.mesh, sharded.specs, sharded.devices = mesh, specs, n
	rng := rand.New(rand.NewPCG(7, 8))
	for range 3 {
		x, y := RandomBatch(net, batch, rng)
		for _, e := range []*Engine{plain, sharded} {
			if err := e.TrainStep(x, y, net.InputShape(), modes, opt.LearningRate); err != nil {
				t.Fatalf("%d devices: %+v", n, err)
			}
		}
	}
	assertSameVariables(t, "plain steps", plain, fmt.Sprintf("sharded over %d devices", n), sharded)
	l1, a1, c1 := plain.Accumulated()
	l2, a2, c2 := sharded.Accumulated()
	if !(math.Abs(l1-l2) <= closeTolerance*math.Abs(l1)) || !(math.Abs(a1-a2) <= closeTolerance) || c1 != c2 || c1 != 3*batch {
		t.Errorf("accumulated: plain %v %v %v, sharded %v %v %v (want %d examples)", l1, a1, c1, l2, a2, c2, 3*batch)
	}
}

// TestShardedArgs checks the arguments of a step split over two devices, as
// GoMLX's sharded exec takes them (on the host, where no backend is needed):
// images and labels halved along the batch, the learning rate replicated.
func TestShardedArgs(t *testing.T) {
	_, specs, err := DataParallelSpecs(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{0, 1, 2, 3, 4, 5, 6, 7}, 4, 2)
	y := tensors.FromFlatDataAndDimensions([]int32{7, 8, 9, 3}, 4)
	args, err := shardedArgs(specs, x, y, tensors.FromScalar(float32(0.5)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[[0 1] [2 3]]", "[[4 5] [6 7]]", "[7 8]", "[9 3]", "0.5", "0.5"}
	var got []string
	for _, a := range args {
		d, ok := a.(*dtensor.Tensor)
		if !ok {
			t.Fatalf("argument %T, want *dtensor.Tensor", a)
		}
		for _, s := range d.Shards() {
			got = append(got, fmt.Sprint(s.Value()))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("shards %q, want %q", got, want)
	}
	if _, err := shardedArgs(specs, tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 3, 2), y, x); err == nil ||
		!strings.Contains(err.Error(), "argument 0") {
		t.Errorf("a batch of 3 over 2 devices: %v", err)
	}
}
