package main

// Deployment commands: summary, export, infer.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/summary"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/datasets/imagefolder"
	"github.com/binnet/binnet/deploy/bnn"
	"github.com/binnet/binnet/deploy/bnn/export"
	"github.com/binnet/binnet/deploy/runtime"
)

// runSummary is binnet summary: a network's layers, their modes, sizes and
// operations, for a preset or for a run's checkpoint (export.ReadRun, whose
// errors name the file or folder).
func runSummary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", "Prints a network's layers with their mode (float / binary / frozen), parameters,\n"+
		"bits, memory as float32 and packed, multiply-accumulates and the additions that\nreplace them in binary layers; totals and the compression ratio.\n"+
		"Without -checkpoint every binarizable layer counts as binary; with it, the layers\nhave the modes of the run's last epoch.", stderr)
	name := fs.String("model", "", "model preset (see binnet models); default: the checkpoint's, else mlp-300-100")
	ckpt := fs.String("checkpoint", "", "a training output folder (results.json and checkpoint.bin)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var preset models.Preset
	var run *export.Run
	var err error
	if *ckpt != "" {
		if run, err = export.ReadRun(*ckpt); err != nil {
			return err
		}
		if *name != "" && *name != run.Preset.Name {
			return fmt.Errorf("-model %s, but %s holds a run of %s", *name, *ckpt, run.Preset.Name)
		}
		// Build the model as export does: a checkpoint.bin whose variables
		// do not fit the network results.json names (another run's) is an
		// error, not the summary of a network the checkpoint does not hold.
		if _, err := run.Model(); err != nil {
			return fmt.Errorf("-checkpoint %s: its %s does not hold the network its %s names (%s): %w", *ckpt, training.CheckpointFile, training.ResultsFile, run.Preset.Network.Name(), err)
		}
		preset = run.Preset
	} else {
		if *name == "" {
			*name = "mlp-300-100"
		}
		if preset, err = models.Lookup(*name); err != nil {
			return err
		}
	}
	var s *summary.Summary
	if run != nil {
		s, err = summary.Of(preset.Network, run.Modes)
		fmt.Fprintf(stdout, "%s (%s), modes of %s after epoch %d:\n\n", preset.Name, preset.Network.Name(), *ckpt, run.Checkpoint.EpochsDone)
	} else {
		s, err = summary.Of(preset.Network, nil)
		fmt.Fprintf(stdout, "%s (%s), every binarizable layer binary:\n\n", preset.Name, preset.Network.Name())
	}
	if err != nil {
		return err
	}
	return s.Format(stdout)
}

// runExport is binnet export: a run folder's checkpoint to a .bnn file,
// read back to check that it loads; it warns when the run is unfinished (the
// file then records "not tested", see bnn.Origin).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", "Exports a training run to a .bnn file for deploy/runtime: binary layers as packed\n"+
		"sign bits, batch norm folded into a scale and offset per output, float layers as\nfloat32; SHA-256 checked on load. The format is in docs/deploy.md.\n"+
		"MLPs, cnn, vgg5, vgg9, resnet20 and resnet21, also as binnet train adapted them\nto an image folder's size and classes.", stderr)
	ckpt := fs.String("checkpoint", "", "training output folder (results.json and checkpoint.bin); required")
	out := fs.String("out", "model.bnn", "output file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		fmt.Fprintln(stderr, "-checkpoint is required")
		return errUsage
	}
	if err := checkOutputFile("out", *out, "model.bnn"); err != nil {
		return err
	}
	run, err := export.ReadRun(*ckpt)
	if err != nil {
		return err
	}
	m, err := run.Model()
	if err != nil {
		return err
	}
	if res := run.Results; res.Status != training.StatusCompleted {
		total := "?"
		if res.Schedule != nil {
			total = fmt.Sprint(res.Schedule.TotalEpochs())
		}
		why := ""
		if res.Error != "" {
			why = " (" + res.Error + ")"
		}
		fmt.Fprintf(stderr, "warning: exporting an unfinished run: status %s after epoch %d of %s%s\n", res.Status, run.Checkpoint.EpochsDone, total, why)
	}
	if err := bnn.WriteFile(*out, m); err != nil {
		return err
	}
	// Read it back: what was written must load.
	if _, err := runtime.Load(*out); err != nil {
		return fmt.Errorf("the written file does not load: %w", err)
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	var floatBytes int64
	for _, name := range []string{"weights", "bias", "gamma", "beta", "running_mean", "running_var"} {
		for path, t := range run.Checkpoint.Values {
			if strings.HasPrefix(path, "/model/") && strings.HasSuffix(path, "/"+name) {
				floatBytes += int64(t.Shape().Size()) * 4
			}
		}
	}
	var modes []string
	for _, l := range m.Layers {
		if !l.Kind.HasWeights() {
			modes = append(modes, l.Name)
			continue
		}
		modes = append(modes, fmt.Sprintf("%s:%s", l.Name, map[bnn.Encoding]string{bnn.SignBits: "binary", bnn.Float32: "float"}[l.Encoding]))
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes (the model's float32 variables: %d bytes, %.1fx smaller); layers %s\n",
		*out, st.Size(), floatBytes, float64(floatBytes)/float64(st.Size()), strings.Join(modes, " "))
	return nil
}

// runInfer is binnet infer: a .bnn model on a data set's test images with
// the pure-Go runtime, its accuracy, latency and throughput. The images must
// be the model's own: the data set the file records (bnn.ParseOrigin;
// checkInferDataset: mnist and sample count as one, any image folder as
// "imagenet"), the model's input shape after train's padding (checkGrayInput)
// and its number of classes; a model whose name records no origin (named by a
// program of its own) is checked for shape and classes only.
func runInfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("infer", "Runs a .bnn model with the pure-Go add-only runtime on a test set and prints its\n"+
		"accuracy, the latency per image at batch 1 and the throughput at batch 64.\n"+
		"Models of 32x32x3 images (vgg5, vgg9, resnet20) get MNIST-like images padded to\n32x32 and replicated to three channels, as binnet train feeds them. With\n"+
		"-dataset imagenet, the images of DIR/val are resized and centre-cropped to the\nmodel's input size, as binnet train evaluates them.\n"+
		"The images must be the model's: of the data set its file records (mnist and\nsample count as one; any image folder of as many classes as imagenet), of its\ninput shape, and of its number of classes.", stderr)
	path := fs.String("model", "model.bnn", "the .bnn file (binnet export)")
	dataset := fs.String("dataset", "", "mnist | fashion-mnist | sample | cifar10 | imagenet (default: sample, the embedded MNIST test images, unless -data-dir is given, then mnist)")
	dataDir := fs.String("data-dir", "", "folder with the IDX files (cifar10: cifar-10-batches-bin or its parent; imagenet: the folder with val/, one folder per class); the test split is used")
	limit := fs.Int("n", 0, "use only the first N test images (0: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 0 {
		return fmt.Errorf("-n %d: the number of test images cannot be negative (0 or no -n: all)", *limit)
	}
	net, err := runtime.Load(*path)
	if err != nil {
		return err
	}
	name := *dataset
	if name == "" {
		name = "sample"
		if *dataDir != "" {
			name = "mnist"
		}
	}
	// The model's origin (binnet export records it as the model's name):
	// its data set must be the one given; a model named otherwise (by a
	// program of its own) is only checked for its input shape and classes.
	origin, known := bnn.ParseOrigin(net.Model().Name)
	model := *path
	if known {
		model = origin.Preset
		if err := checkInferDataset(*path, origin.Dataset, name, *dataset == "", *dataDir != ""); err != nil {
			return err
		}
	}
	var test *testImages
	if name == "imagenet" {
		test, err = imageFolderData(*dataDir, net.Model(), *limit)
	} else {
		test, err = inferData(name, *dataDir, model, net.InputShape(), net.NumClasses())
	}
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < test.n {
		test.n = *limit
		if test.pixels != nil {
			test.pixels = test.pixels[:test.n*net.InputSize()]
		}
		test.labels = test.labels[:test.n]
	}
	n, in := test.n, net.InputSize()
	x := test.x
	if x == nil {
		x = net.Normalize(test.pixels, nil)
	}

	// Batch 1, one image after the other, in this goroutine.
	lat := make([]time.Duration, n)
	logits := make([]float32, net.NumClasses())
	correct := 0
	for e := 0; e < n; e++ {
		if e%1000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		logits = net.Logits(x[e*in:(e+1)*in], logits)
		lat[e] = time.Since(start)
		if runtime.Argmax(logits) == int(test.labels[e]) { // NaN logits never win; all NaN (-1) is wrong
			correct++
		}
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })

	// Batch 64, as many full batches as the test set holds (at least one).
	const batch = 64
	bx := x
	if n < batch {
		bx = make([]float32, batch*in)
		for i := range bx {
			bx[i] = x[i%len(x)]
		}
	}
	batches := max(len(bx)/(batch*in), 1)
	var out []float32
	start := time.Now()
	for b := 0; b < batches; b++ {
		out = net.LogitsBatch(bx[b*batch*in:(b+1)*batch*in], batch, out)
	}
	elapsed := time.Since(start)

	desc := net.Model().Name
	if known && origin.Tested && origin.TestAccuracy == 0 {
		desc += " (0 may also mean not tested: binnet export wrote 0 for unfinished runs before it wrote \"not tested\")"
	}
	fmt.Fprintf(stdout, "model %s: %s\n", *path, desc)
	fmt.Fprintf(stdout, "data %s: %d test images of %s\n", test.name, n, shapeString(net.InputShape()))
	fmt.Fprintf(stdout, "accuracy %.4f (%d/%d)\n", float64(correct)/float64(n), correct, n)
	fmt.Fprintf(stdout, "batch 1: mean %.1f µs/image, median %.1f µs, p99 %.1f µs (1 goroutine)\n",
		us(total/time.Duration(n)), us(lat[n/2]), us(lat[min(n-1, n*99/100)]))
	fmt.Fprintf(stdout, "batch 64: %.0f images/s (%d batches, %d goroutines)\n",
		float64(batches*batch)/elapsed.Seconds(), batches, goruntime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "binary kernel: %s\n", runtime.Kernel())
	return nil
}

// testImages are raw pixels shaped as the model's input, one example after
// the other (channels last), or the model's inputs x (image folders, whose
// transform works on floats), and their labels.
type testImages struct {
	name   string
	n      int
	pixels []uint8
	x      []float32
	labels []int32
}

// imageFolderData loads DIR/val (the split binnet train evaluates on for
// -dataset imagenet) with the evaluation transform at the model's input
// size (resize, centre crop) and the model's normalization; the first limit
// images (files sorted by class folder and name) when limit > 0. Labels are
// indices into the sorted class folders of DIR/train, as in training (of
// DIR/val when there is no DIR/train).
func imageFolderData(dir string, m *bnn.Model, limit int) (*testImages, error) {
	if dir == "" {
		return nil, errors.New("-dataset imagenet needs -data-dir DIR with val/ class folders")
	}
	shape := m.InputShape
	if len(shape) != 3 || shape[0] != shape[1] || shape[2] != 3 || len(m.InputMean) != 3 {
		return nil, fmt.Errorf("the model wants inputs of shape %v with %d normalization channels; image folders give square RGB images normalized per channel", shape, len(m.InputMean))
	}
	opts := imagefolder.Options{Size: shape[0], Name: "imagenet/val"}
	copy(opts.Mean[:], m.InputMean)
	copy(opts.Std[:], m.InputStd)
	if classes, err := imagefolder.ClassFolders(filepath.Join(dir, "train")); err == nil {
		opts.Classes = classes
	}
	val, err := imagefolder.Open(filepath.Join(dir, "val"), opts)
	if err != nil {
		return nil, err
	}
	if c := len(val.Classes()); c != m.NumClasses() {
		return nil, fmt.Errorf("%s has %d classes, the model %d: its accuracy there would mean nothing (a folder of the classes it was trained on is needed, with the same class folder names in train/ or val/, which set the labels)", val, c, m.NumClasses())
	}
	n := val.Len()
	if limit > 0 && limit < n {
		n = limit
	}
	indices := make([]int, n)
	for i := range indices {
		indices[i] = i
	}
	size := shape[0] * shape[1] * shape[2]
	x, y := make([]float32, n*size), make([]int32, n)
	if err := val.Batch(indices, nil, x, y); err != nil {
		return nil, err
	}
	return &testImages{name: fmt.Sprintf("%s (%dx%d centre crops)", val, shape[0], shape[1]), n: n, x: x, labels: y}, nil
}

// inferData loads the test split of a data set as the inputs of a model
// (named model in errors) of input shape shape and classes outputs: the
// 28x28 grey images as they are for models of [784] or [28, 28, 1] inputs,
// padded to 32x32 and replicated to three channels (cifar10.FromGray, as
// binnet train does) for models of [32, 32, 3]; CIFAR-10's images for
// [32, 32, 3]. Grey images must fit the input as binnet train requires
// (checkGrayInput: the same rows and columns, not only as many pixels), and
// the model must have the data set's 10 classes.
func inferData(name, dir, model string, shape []int, classes int) (*testImages, error) {
	colour := slices.Equal(shape, []int{cifar10.Rows, cifar10.Cols, cifar10.Channels})
	if name == "cifar10" {
		if dir == "" {
			return nil, errors.New("-dataset cifar10 needs -data-dir DIR (cifar-10-batches-bin or its parent)")
		}
		if !colour {
			return nil, fmt.Errorf("model %s wants inputs of shape %v, CIFAR-10 has 32x32x3 colour images", model, shape)
		}
		if classes != cifar10.NumClasses {
			return nil, fmt.Errorf("model %s has %d classes, CIFAR-10 %d: its accuracy there would mean nothing", model, classes, cifar10.NumClasses)
		}
		_, test, err := cifar10.Load(dir)
		if err != nil {
			return nil, err
		}
		return &testImages{name: test.Name, n: test.Len(), pixels: test.Images, labels: int32s(test.Labels)}, nil
	}
	var test *datasets.Set
	var err error
	switch {
	case name == "sample":
		if dir != "" {
			return nil, errors.New("-data-dir cannot be used with -dataset sample")
		}
		_, test, err = datasets.Sample()
	case dir != "":
		_, test, err = datasets.Load(name, dir)
	default:
		return nil, fmt.Errorf("-dataset %s needs -data-dir DIR", name)
	}
	if err != nil {
		return nil, err
	}
	if err := checkGrayInput(model, shape, name, test); err != nil {
		return nil, err
	}
	if classes != datasets.NumClasses {
		return nil, fmt.Errorf("model %s has %d classes, data set %s %d: its accuracy there would mean nothing", model, classes, name, datasets.NumClasses)
	}
	n := test.Len()
	if colour {
		cs, err := cifar10.FromGray(test.Name, test.Rows, test.Cols, test.Images, test.Labels)
		if err != nil {
			return nil, err
		}
		return &testImages{name: test.Name + " (padded to 32x32x3)", n: n, pixels: cs.Images, labels: int32s(cs.Labels)}, nil
	}
	return &testImages{name: test.Name, n: n, pixels: test.Images, labels: int32s(test.Labels)}, nil
}

// checkInferDataset refuses to score the model in path, trained on data set
// trained, on data set given (defaulted: no -dataset was given; withDir:
// -data-dir was), unless datasets.SameData allows it: the accuracy of a model on
// another data set's images and labels means nothing. The error names both
// data sets and the flags that would select the model's own.
func checkInferDataset(path, trained, given string, defaulted, withDir bool) error {
	// The same data (datasets.SameData: mnist and its sample count as
	// one); every image folder is "imagenet", so a model trained on one
	// folder may be scored on another of the same classes (checked by
	// their number).
	if datasets.SameData(trained, given) {
		return nil
	}
	how := ""
	if defaulted {
		how = " (-dataset's default without -data-dir)"
		if withDir {
			how = " (-dataset's default with -data-dir)"
		}
	}
	var hint string
	switch base, _, _ := strings.Cut(trained, "/"); base {
	case "sample":
		hint = "-dataset sample (the embedded MNIST test images), or -dataset mnist -data-dir DIR with MNIST's IDX files"
	case "mnist":
		hint = "-dataset mnist -data-dir DIR with MNIST's IDX files, or -dataset sample (the embedded MNIST test images)"
	case "fashion-mnist":
		hint = "-dataset fashion-mnist -data-dir DIR with Fashion-MNIST's IDX files"
	case "cifar10":
		hint = "-dataset cifar10 -data-dir DIR with cifar-10-batches-bin"
	case "imagenet":
		hint = "-dataset imagenet -data-dir DIR with val/ (and train/) folders of the classes it was trained on"
	default:
		hint = "-dataset " + base
	}
	return fmt.Errorf("%s was trained on data set %s, but the test images are %s%s: its accuracy there would mean nothing; use %s", path, trained, given, how, hint)
}

// int32s returns the labels as int32, the runtime's label type.
func int32s(labels []uint8) []int32 {
	out := make([]int32, len(labels))
	for i, l := range labels {
		out[i] = int32(l)
	}
	return out
}

// shapeString writes a shape as its dimensions joined by "x", e.g. 28x28x1.
func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// us returns d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
