package export_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
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

// train runs a short training into a temporary folder and returns the folder.
func train(t *testing.T, dataset string, data training.Data, sched *schedule.Schedule, q quant.Quantizer) string {
	t.Helper()
	p, err := models.Lookup("mlp-300-100")
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
	t.Logf("trained %s: test accuracy %.4f in %.1fs", sched.Kind(), res.TestAccuracy, res.TrainSeconds)
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
	const batch = 1000
	out := make([]float32, 0, n*10)
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		xt := tensors.FromFlatDataAndDimensions(x[from*784:to*784], to-from, 784)
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
func checkExact(t *testing.T, dir string, test *training.Examples) {
	t.Helper()
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
	n := test.Len()
	want := gomlxLogits(t, run, test.X, n)
	got := net.LogitsBatch(test.X, n, nil)
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
		if argmax(g) == int(test.Y[e]) {
			correct++
		}
		if t.Failed() && e > 20 {
			t.FailNow()
		}
	}
	acc := float64(correct) / float64(n)
	t.Logf("%s: modes %v, %d examples: %d argmax mismatches, max relative logit difference %.3g, runtime accuracy %.4f (training recorded %.4f)",
		filepath.Base(dir), run.Modes, n, mismatches, maxRel, acc, run.Results.TestAccuracy)
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
	checkExact(t, train(t, "sample", data, mixed, nil), data.Test)
	if testing.Short() {
		return
	}
	all, _ := schedule.AllBinary(3, 1)
	checkExact(t, train(t, "sample", data, all, quant.MeanScaledSign), data.Test)
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
	checkExact(t, train(t, "mnist", data, all, nil), data.Test)
}
