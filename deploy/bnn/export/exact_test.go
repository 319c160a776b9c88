package export_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
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
	return trainNet(t, preset, p.Network, p.Hyper.LearningRate, dataset, data, sched, q)
}

// trainNet is train with another network than the preset's (an adapted
// one) and an Adam learning rate.
func trainNet(t *testing.T, preset string, net models.Network, lr float64, dataset string, data training.Data, sched *schedule.Schedule, q quant.Quantizer) string {
	t.Helper()
	dir := t.TempDir()
	res, err := training.Run(context.Background(), training.Config{Model: preset, Dataset: dataset, Network: net,
		Schedule: sched, Quantizer: q, Optimizer: training.Optimizer{Name: "adam", LearningRate: lr},
		Seed: 1, OutDir: dir}, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %s (%s) %s: test accuracy %.4f in %.1fs", preset, net.Name(), sched.Kind(), res.TestAccuracy, res.TrainSeconds)
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
func checkExact(t *testing.T, dir string, test training.Source) { checkExactBN(t, dir, test, "") }

// checkExactBN is checkExact; with a classifier scope (e.g. "linear"), the
// checkpoint's batch norms (in memory) first get random statistics and
// affine parameters, for both the export and GoMLX: running variances scaled
// by 0.5 to 1.5, running means moved by about half a standard deviation,
// gamma in [-0.5, 1.5) (negative scales included), beta of standard
// deviation 0.5. Then the classifier's bias is centred: GoMLX evaluates the
// examples and the mean logit of each class is subtracted from its bias, so
// that the predicted class varies from image to image (after a few training
// steps a network predicts the same class for every image, which would make
// the argmax comparison trivial). The shift leaves the network's
// computation as it was but for the final bias, while the float32 rounding
// of the features, which the logits inherit, scales with the logits before
// it: the tolerance is then 1e-4 of the example's largest |logit| before
// the shift (both maxima are logged). The accuracy the run recorded does not
// apply and is not compared.
func checkExactBN(t *testing.T, dir string, test training.Source, classifier string) {
	t.Helper()
	perturb := classifier != ""
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
	var logits []float32 // GoMLX's logits before the bias shift
	if perturb {
		perturbBatchNorms(t, run.Checkpoint.Values)
		logits = gomlxLogits(t, run, x, n)
		path := "/model/" + classifier + "/bias"
		bias := tensors.MustCopyFlatData[float32](run.Checkpoint.Values[path])
		for c := range bias {
			var mean float64
			for e := 0; e < n; e++ {
				mean += float64(logits[e*len(bias)+c]) / float64(n)
			}
			bias[c] -= float32(mean)
		}
		run.Checkpoint.Values[path] = tensors.FromFlatDataAndDimensions(bias, len(bias))
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
	var maxRel, maxRelShifted float64
	mismatches, correct := 0, 0
	predicted := map[int]bool{} // GoMLX's predicted classes
	maxAbs := func(v []float32) float64 {
		m := 0.0
		for _, f := range v {
			m = math.Max(m, math.Abs(float64(f)))
		}
		return m
	}
	for e := 0; e < n; e++ {
		g, w := got[e*k:(e+1)*k], want[e*k:(e+1)*k]
		scale := maxAbs(w)
		if perturb {
			scale = math.Max(scale, maxAbs(logits[e*k:(e+1)*k]))
		}
		for j := range w {
			diff := math.Abs(float64(g[j] - w[j]))
			rel := diff / math.Max(scale, 1e-30)
			maxRel = math.Max(maxRel, rel)
			maxRelShifted = math.Max(maxRelShifted, diff/math.Max(maxAbs(w), 1e-30))
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
		predicted[argmax(w)] = true
		if t.Failed() && e > 20 {
			t.FailNow()
		}
	}
	acc := float64(correct) / float64(n)
	what := "trained batch norms"
	if perturb {
		what = fmt.Sprintf("perturbed batch norms, classifier bias shifted (relative to the shifted logits: %.3g)", maxRelShifted)
	}
	t.Logf("%s (%s), %s: modes %v, %d examples (%d classes predicted): %d argmax mismatches, max relative logit difference %.3g, runtime accuracy %.4f (training recorded %.4f)",
		run.Preset.Name, run.Preset.Network.Name(), what, run.Modes, n, len(predicted), mismatches, maxRel, acc, run.Results.TestAccuracy)
	if !perturb && math.Abs(acc-run.Results.TestAccuracy) > 0.5/float64(n) {
		t.Errorf("runtime accuracy %.4f, the run recorded test accuracy %.4f", acc, run.Results.TestAccuracy)
	}
}

// perturbBatchNorms gives every batch norm of values random statistics and
// affine parameters (see checkExactBN).
func perturbBatchNorms(t *testing.T, values map[string]*tensors.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	get := func(path string) []float32 { return tensors.MustCopyFlatData[float32](values[path]) }
	set := func(path string, v []float32) {
		values[path] = tensors.FromFlatDataAndDimensions(v, values[path].Shape().Dimensions...)
	}
	var bns []string
	for path := range values {
		if bn, ok := strings.CutSuffix(path, "/running_var"); ok && strings.HasPrefix(path, "/model/") {
			bns = append(bns, bn)
		}
	}
	sort.Strings(bns) // the same draws every run
	for _, bn := range bns {
		mean, variance, gamma, beta := get(bn+"/running_mean"), get(bn+"/running_var"), get(bn+"/gamma"), get(bn+"/beta")
		for i := range variance {
			sd := math.Sqrt(float64(variance[i]))
			mean[i] += float32(0.5 * r.NormFloat64() * sd)
			variance[i] *= float32(0.5 + r.Float64())
			gamma[i] = float32(r.Float64()*2 - 0.5)
			beta[i] = float32(0.5 * r.NormFloat64())
		}
		set(bn+"/running_mean", mean)
		set(bn+"/running_var", variance)
		set(bn+"/gamma", gamma)
		set(bn+"/beta", beta)
	}
	if len(bns) == 0 {
		t.Fatal("no batch norm to perturb")
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
	data := grayData(t, 500, 200, 500)
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

// paddedData returns sample images padded to 32x32 and replicated to three
// channels, as binnet train feeds MNIST to the CIFAR-10 networks (MNIST's
// mean and std replicated).
func paddedData(t *testing.T, trainN, valN, testN int) training.Data {
	t.Helper()
	tr, val, test := sampleSets(t, trainN, valN, testN)
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
	return training.Data{Train: src(tr), Val: src(val), Test: src(test)}
}

// grayData returns sample images as 28x28x1 examples.
func grayData(t *testing.T, trainN, valN, testN int) training.Data {
	t.Helper()
	tr, val, test := sampleSets(t, trainN, valN, testN)
	ex := func(s *datasets.Set) *training.Examples {
		e, err := training.FromSet(s, datasets.MNISTMean, datasets.MNISTStd, 28, 28, 1)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return training.Data{Train: ex(tr), Val: ex(val), Test: ex(test)}
}

// resizedData returns sample images resized (nearest pixel) to size x size
// and replicated to three channels, normalized with MNIST's mean and std.
func resizedData(t *testing.T, trainN, valN, testN, size int) training.Data {
	t.Helper()
	tr, val, test := sampleSets(t, trainN, valN, testN)
	ex := func(s *datasets.Set) *training.Examples {
		x := make([]float32, 0, s.Len()*size*size*3)
		for i := 0; i < s.Len(); i++ {
			img := s.Images[i*s.Rows*s.Cols : (i+1)*s.Rows*s.Cols]
			for y := 0; y < size; y++ {
				for xx := 0; xx < size; xx++ {
					p := img[(y*s.Rows/size)*s.Cols+xx*s.Cols/size]
					v := (float32(p)/255 - datasets.MNISTMean) / datasets.MNISTStd
					x = append(x, v, v, v)
				}
			}
		}
		e, err := training.NewExamples(s.Name, x, s.Labels, size, size, 3)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return training.Data{Train: ex(tr), Val: ex(val), Test: ex(test)}
}

// TestExactVGG5: VGG-5 (two conv64, max pooling, dense 256-256-10) on sample
// images padded to 32x32 and replicated to three channels, as binnet train
// feeds MNIST to the CIFAR-10 networks; conv2, dense3 and dense5 binary,
// conv1 and dense4 float; one epoch on 500 images, 300 test images.
func TestExactVGG5(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG-5")
	}
	data := paddedData(t, 500, 200, 300)
	mixed, err := schedule.Fixed(5, []int{1, 2, 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, train(t, "vgg5", "sample", data, mixed, nil), data.Test)
}

// adapt returns a preset's network adapted to another input shape and
// number of classes.
func adapt(t *testing.T, preset string, shape []int, classes int) models.Network {
	t.Helper()
	p, err := models.Lookup(preset)
	if err != nil {
		t.Fatal(err)
	}
	net, err := p.Network.(models.Adaptable).Adapt(shape, classes)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestExactVGG5Adapted: VGG-5 adapted to the 28x28x1 sample images (the
// dense layer after the pooling has 14*14*64 inputs), trained one epoch on
// 300 images; export reads the adapted network back from results.json.
// Every layer binary but conv1.
func TestExactVGG5Adapted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG-5")
	}
	data := grayData(t, 300, 100, 200)
	modes, err := schedule.Fixed(5, []int{1, 2, 3, 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, trainNet(t, "vgg5", adapt(t, "vgg5", []int{28, 28, 1}, 10), 1e-3, "sample", data, modes, nil), data.Test)
}

// TestExactResNet20: ResNet-20 (option-A shortcuts, global average pooling,
// a classifier without batch norm) on sample images padded to 32x32x3, one
// epoch on 200 images (two Adam steps: the batch norms' running statistics
// move from 0 and 1), 200 test images. Every layer binary but the stem and
// the first conv of stage 3's first block (a float conv before an option-A
// add).
func TestExactResNet20(t *testing.T) {
	data := paddedData(t, 200, 100, 200)
	var binary []int
	for l := 0; l < 20; l++ {
		if l != 0 && l != 13 {
			binary = append(binary, l)
		}
	}
	modes, err := schedule.Fixed(20, binary, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := models.Lookup("resnet20")
	dir := trainNet(t, "resnet20", p.Network, 1e-3, "sample", data, modes, nil)
	checkExact(t, dir, data.Test)
	checkExactBN(t, dir, data.Test, "linear")
}

// TestExactResNet21: ResNet-18 ("resnet21": 7x7 stride-2 stem, 3x3 max
// pooling, 1x1 stride-2 downsampling convs with batch norm on the shortcuts)
// adapted to 10 classes and 32x32x3 images (stage 4 runs on 1x1), one epoch
// on 200 padded sample images, 100 test images, every layer binary (the
// paper's 21); then (without -short) adapted to 64x64x3 images (stage 4 on
// 2x2; sample images resized) with the stem, stage 2's downsampling conv and
// the classifier float and the scaled quantizer.
func TestExactResNet21(t *testing.T) {
	data := paddedData(t, 200, 100, 100)
	all, _ := schedule.AllBinary(21, 1)
	dir := trainNet(t, "resnet21", adapt(t, "resnet21", []int{32, 32, 3}, 10), 1e-3, "sample", data, all, nil)
	checkExact(t, dir, data.Test)
	checkExactBN(t, dir, data.Test, "fc")
	if testing.Short() {
		return
	}
	data = resizedData(t, 200, 100, 100, 64)
	net := adapt(t, "resnet21", []int{64, 64, 3}, 10)
	var binary []int
	for l := 1; l < 20; l++ {
		if l != 7 { // stem 0, stage 2 block 0: conv1 5, conv2 6, downsample 7
			binary = append(binary, l)
		}
	}
	mixed, err := schedule.Fixed(21, binary, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, trainNet(t, "resnet21", net, 1e-3, "sample", data, mixed, quant.MeanScaledSign), data.Test)
}

// TestExportErrors: networks the format cannot hold, and runs whose
// network cannot be rebuilt, are refused with a reason.
func TestExportErrors(t *testing.T) {
	p, _ := models.Lookup("resnet20")
	if _, err := export.FromValues(p.Network, make([]binnet.Mode, p.Network.NumBinarizable()), nil, nil, []float32{0}, []float32{1}, "x"); err == nil ||
		!strings.Contains(err.Error(), "variable /model/conv1/weights is missing") {
		t.Errorf("resnet20 without variables: %v", err)
	}
	if _, err := export.FromValues(p.Network, make([]binnet.Mode, 3), nil, nil, []float32{0}, []float32{1}, "x"); err == nil ||
		!strings.Contains(err.Error(), "3 layer modes for 20") {
		t.Errorf("resnet20 with 3 modes: %v", err)
	}
}
