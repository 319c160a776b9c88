package export_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/deploy/bnn"
	"github.com/binnet/binnet/deploy/bnn/export"
	"github.com/binnet/binnet/deploy/runtime"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func examples(t *testing.T, s *datasets.Set) *training.Examples {
	t.Helper()
	e, err := training.FromSet(s, datasets.MNISTMean, datasets.MNISTStd, 784)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// train runs a short training of a preset into a temporary folder and
// returns the folder.
func train(t *testing.T, preset, dataset string, data training.Data, sched *schedule.Schedule, q quant.Quantizer) string {
	t.Helper()
	p, err := models.Lookup(preset)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := training.Run(context.Background(), training.Config{Model: p.Name, Dataset: dataset, Network: p.Network,
		Schedule: sched, Quantizer: q, Optimizer: training.Optimizer{Name: "adam", LearningRate: p.Hyper.LearningRate},
		Seed: 1, OutDir: dir}, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %s %s: test accuracy %.4f in %.1fs", preset, sched.Kind(), res.TestAccuracy, res.TrainSeconds)
	return dir
}

// gomlxLogits evaluates the run's checkpoint with GoMLX (the go backend):
// the variables restored into a fresh store, an evaluation graph with the
// run's layer modes and quantizer.
func gomlxLogits(t *testing.T, run *export.Run, x []float32, n int) []float32 {
	t.Helper()
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	if err := run.Checkpoint.Restore(store); err != nil {
		t.Fatal(err)
	}
	exec := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		layers.LiveVariables(scope, x.Graph())
		ctl := layers.NewControl(false).WithModes(run.Modes...).WithQuantizer(run.Quantizer)
		return run.Preset.Network.Logits(scope.In("model"), ctl, x)
	})
	shape := run.Preset.Network.InputShape()
	size := len(x) / n
	const batch = 250
	out := make([]float32, 0, n*run.Preset.Network.NumClasses())
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		xt := tensors.FromFlatDataAndDimensions(x[from*size:to*size], append([]int{to - from}, shape...)...)
		res := exec.MustExec(xt)
		out = append(out, tensors.MustCopyFlatData[float32](res[0])...)
		res[0].FinalizeAll()
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, f := range v {
		if f > v[best] {
			best = i
		}
	}
	return best
}

// checkExact exports the run, runs the test set through deploy/runtime and
// through GoMLX, and checks: the same predicted class for every example, and
// every logit within 1e-4 of GoMLX's relative to the largest |logit| of its
// example; the runtime's accuracy equals the run's recorded test accuracy.
func checkExact(t *testing.T, dir string, test training.Source) {
	t.Helper()
	n := test.Len()
	size := 1
	for _, d := range test.ExampleShape() {
		size *= d
	}
	x, y := make([]float32, n*size), make([]int32, n)
	indices := make([]int, n)
	for i := range indices {
		indices[i] = i
	}
	if err := test.Batch(indices, nil, x, y); err != nil {
		t.Fatal(err)
	}
	run, err := export.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := run.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.bnn")
	if err := bnn.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	net, err := runtime.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := gomlxLogits(t, run, x, n)
	got := net.LogitsBatch(x, n, nil)
	k := net.NumClasses()
	var maxRel float64
	mismatches, correct := 0, 0
	for e := 0; e < n; e++ {
		g, w := got[e*k:(e+1)*k], want[e*k:(e+1)*k]
		scale := 0.0
		for _, v := range w {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range w {
			rel := math.Abs(float64(g[j]-w[j])) / math.Max(scale, 1e-30)
			maxRel = math.Max(maxRel, rel)
			if rel > 1e-4 {
				t.Errorf("example %d logit %d: runtime %v, GoMLX %v (relative difference %.2g)", e, j, g[j], w[j], rel)
			}
		}
		if argmax(g) != argmax(w) {
			mismatches++
			t.Errorf("example %d: runtime predicts %d, GoMLX %d (logits %v vs %v)", e, argmax(g), argmax(w), g, w)
		}
		if argmax(g) == int(y[e]) {
			correct++
		}
		if t.Failed() && e > 20 {
			t.FailNow()
		}
	}
	acc := float64(correct) / float64(n)
	t.Logf("%s: modes %v, %d examples: %d argmax mismatches, max relative logit difference %.3g, runtime accuracy %.4f (training recorded %.4f)",
		run.Preset.Name, run.Modes, n, mismatches, maxRel, acc, run.Results.TestAccuracy)
	if math.Abs(acc-run.Results.TestAccuracy) > 0.5/float64(n) {
		t.Errorf("runtime accuracy %.4f, the run recorded test accuracy %.4f", acc, run.Results.TestAccuracy)
	}
}

// TestExactSample: one epoch on the embedded sample, layers 1 and 3 binary
// and layer 2 float, then the scaled quantizer (BWN's alpha folded into the
// scale), all binary.
func TestExactSample(t *testing.T) {
	trainSet, testSet, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	tr, val, _ := trainSet.HoldOutLast(1000)
	data := training.Data{Train: examples(t, tr), Val: examples(t, val), Test: examples(t, testSet)}
	mixed, err := schedule.Fixed(3, []int{0, 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, train(t, "mlp-300-100", "sample", data, mixed, nil), data.Test)
	if testing.Short() {
		return
	}
	all, _ := schedule.AllBinary(3, 1)
	checkExact(t, train(t, "mlp-300-100", "sample", data, all, quant.MeanScaledSign), data.Test)
}

// TestExactMNIST: the paper's mlp-300-100, one all-binary epoch on the full
// MNIST training set (the last 5,000 images held out), checked on all 10,000
// test images. Skipped without ../shared/datasets/mnist.
func TestExactMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the full MNIST")
	}
	dir := filepath.Join("..", "..", "..", "..", "shared", "datasets", "mnist")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real MNIST not available at %s", dir)
	}
	trainSet, testSet, err := datasets.Load("mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	tr, val, _ := trainSet.HoldOutLast(5000)
	data := training.Data{Train: examples(t, tr), Val: examples(t, val), Test: examples(t, testSet)}
	all, _ := schedule.AllBinary(3, 1)
	checkExact(t, train(t, "mlp-300-100", "mnist", data, all, nil), data.Test)
}

// sampleSets returns the first trainN training images of the embedded
// sample (after holding out its last 1,000), valN of the held-out ones and
// the first testN test images.
func sampleSets(t *testing.T, trainN, valN, testN int) (tr, val, test *datasets.Set) {
	t.Helper()
	trainSet, testSet, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	tr, val, err = trainSet.HoldOutLast(1000)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Slice(0, trainN), val.Slice(0, valN), testSet.Slice(0, testN)
}

// TestExactCNN: the small CNN (conv32, conv64, max pooling, dense) trained
// one epoch on 500 sample images with conv1 and the classifier binary and
// conv2 float; then (without -short) every layer binary with the scaled
// quantizer. 500 test images.
func TestExactCNN(t *testing.T) {
	tr, val, test := sampleSets(t, 500, 200, 500)
	ex := func(s *datasets.Set) *training.Examples {
		e, err := training.FromSet(s, datasets.MNISTMean, datasets.MNISTStd, 28, 28, 1)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	data := training.Data{Train: ex(tr), Val: ex(val), Test: ex(test)}
	mixed, err := schedule.Fixed(3, []int{0, 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, train(t, "cnn", "sample", data, mixed, nil), data.Test)
	if testing.Short() {
		return
	}
	all, _ := schedule.AllBinary(3, 1)
	checkExact(t, train(t, "cnn", "sample", data, all, quant.MeanScaledSign), data.Test)
}

// TestExactVGG5: VGG-5 (two conv64, max pooling, dense 256-256-10) on sample
// images padded to 32x32 and replicated to three channels, as binnet train
// feeds MNIST to the CIFAR-10 networks; conv2, dense3 and dense5 binary,
// conv1 and dense4 float; one epoch on 500 images, 300 test images.
func TestExactVGG5(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG-5")
	}
	tr, val, test := sampleSets(t, 500, 200, 300)
	src := func(s *datasets.Set) *cifar10.Source {
		cs, err := cifar10.FromGray(s.Name, s.Rows, s.Cols, s.Images, s.Labels)
		if err != nil {
			t.Fatal(err)
		}
		m, sd := datasets.MNISTMean, datasets.MNISTStd
		out, err := cifar10.NewSource(cs, cifar10.SourceOptions{Mean: [3]float32{m, m, m}, Std: [3]float32{sd, sd, sd}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	data := training.Data{Train: src(tr), Val: src(val), Test: src(test)}
	mixed, err := schedule.Fixed(5, []int{1, 2, 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, train(t, "vgg5", "sample", data, mixed, nil), data.Test)
}

// TestResNetsRefused: residual networks do not export yet, and say so.
func TestResNetsRefused(t *testing.T) {
	for _, name := range []string{"resnet20", "resnet21"} {
		p, _ := models.Lookup(name)
		_, err := export.FromValues(p.Network, make([]binnet.Mode, p.Network.NumBinarizable()), nil, nil, []float32{0}, []float32{1}, name)
		if err == nil || !strings.Contains(err.Error(), "residual network") || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: got %v, want an error saying residual networks are not supported", name, err)
		}
	}
}
