package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/deploy/bnn"
)

// TestDeployCommands trains one all-binary epoch on the embedded sample, then
// runs summary (preset and checkpoint), export, infer, and infer on a damaged
// copy of the file.
func TestDeployCommands(t *testing.T) {
	out, _ := mustCLI(t, "summary", "-model", "mlp-300-100")
	for _, want := range []string{"every binarizable layer binary", "dense1", "bn3", "compression ratio 25.87x"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	stdout, _ := mustCLI(t, "train", "-model", "mlp-300-100", "-order", "binary", "-epochs", "1", "-quiet", "-out", run)
	acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
	if acc == nil {
		t.Fatalf("train printed no test accuracy: %s", stdout)
	}
	out, _ = mustCLI(t, "summary", "-checkpoint", run)
	if !strings.Contains(out, "after epoch 1") || strings.Count(out, "binary") < 3 {
		t.Errorf("summary of the checkpoint:\n%s", out)
	}
	model := filepath.Join(dir, "m.bnn")
	out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
	if !strings.Contains(out, "dense1:binary dense2:binary dense3:binary") {
		t.Errorf("export: %s", out)
	}
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	// header 64 + name + 3 descriptors + 38,640 bytes of layer data + 32.
	if st.Size() < 64+3*64+38640+32 || st.Size() > 64+3*64+38640+32+200 {
		t.Errorf("model file is %d bytes", st.Size())
	}
	out, _ = mustCLI(t, "infer", "-model", model)
	got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
	if got == nil || got[1] != acc[1] {
		t.Errorf("infer accuracy %v, train recorded %s:\n%s", got, acc[1], out)
	}
	for _, want := range []string{"batch 1: mean", "batch 64:", "images/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("infer lacks %q:\n%s", want, out)
		}
	}
	// A damaged file is refused with the field and the offset.
	b, _ := os.ReadFile(model)
	b[1000] ^= 1
	bad := filepath.Join(dir, "bad.bnn")
	os.WriteFile(bad, b, 0o644)
	code, _, stderr := cli(t, "infer", "-model", bad)
	if code != 1 || !strings.Contains(stderr, "layer 1 (dense1).weights at offset") || !strings.Contains(stderr, "damaged") {
		t.Errorf("damaged model: exit %d, %s", code, stderr)
	}
	if _, err := strconv.ParseFloat(acc[1], 64); err != nil {
		t.Fatal(err)
	}
}

// TestDeployConvCommands trains the small CNN and VGG-5 for one short epoch on
// sample images (VGG-5's padded to 32x32x3), exports them and runs infer on
// the same test images: the accuracy equals the one training recorded.
// summary shows the conv rows.
func TestDeployConvCommands(t *testing.T) {
	out, _ := mustCLI(t, "summary", "-model", "vgg5")
	for _, want := range []string{"conv1   conv2d     binary       64", "37,748,736", "dense3", "compression ratio 31.27x"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary -model vgg5 lacks %q:\n%s", want, out)
		}
	}
	models := []struct{ name, trainSize, testSize, layers string }{
		{"cnn", "500", "300", "conv1:binary conv2:binary maxpool flatten dense3:binary"},
		{"vgg5", "200", "100", "conv1:binary conv2:binary maxpool flatten dense3:binary dense4:binary dense5:binary"},
	}
	if testing.Short() {
		models = models[:1]
	}
	dir := t.TempDir()
	var inferOut string
	for _, m := range models {
		run := filepath.Join(dir, m.name)
		stdout, _ := mustCLI(t, "train", "-model", m.name, "-order", "binary", "-epochs", "1", "-train-size", m.trainSize,
			"-val-size", "100", "-test-size", m.testSize, "-quiet", "-out", run)
		acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
		if acc == nil {
			t.Fatalf("%s: train printed no test accuracy: %s", m.name, stdout)
		}
		model := filepath.Join(dir, m.name+".bnn")
		out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
		if !strings.Contains(out, m.layers) {
			t.Errorf("%s: export: %s", m.name, out)
		}
		out, _ = mustCLI(t, "infer", "-model", model, "-n", m.testSize)
		got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
		if got == nil || got[1] != acc[1] {
			t.Errorf("%s: infer accuracy %v, train recorded %s:\n%s", m.name, got, acc[1], out)
		}
		t.Logf("%s: %s", m.name, out)
		inferOut = out
	}
	if !testing.Short() && !strings.Contains(inferOut, "padded to 32x32x3") {
		t.Errorf("vgg5 infer did not pad the images:\n%s", inferOut)
	}
}

// TestDeployResNetCommands trains ResNet-20 on sample images padded to
// 32x32x3 and ResNet-21 on an image folder (sample digits written as 40x40
// JPEGs, the network rebuilt for 32x32 crops and 10 classes), each for one
// short all-binary epoch, exports them (residual adds, global average
// pooling; the adapted ResNet-21 rebuilt from results.json) and runs infer on
// the test images: the accuracy equals the one training recorded.
func TestDeployResNetCommands(t *testing.T) {
	dir := t.TempDir()
	check := func(name string, trainArgs, inferArgs []string, layers string) {
		t.Helper()
		run := filepath.Join(dir, name)
		stdout, _ := mustCLI(t, append([]string{"train", "-model", name, "-order", "binary", "-epochs", "1", "-optimizer", "adam",
			"-lr", "0.001", "-batch", "50", "-quiet", "-out", run}, trainArgs...)...)
		acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
		if acc == nil {
			t.Fatalf("%s: train printed no test accuracy: %s", name, stdout)
		}
		out, _ := mustCLI(t, "summary", "-checkpoint", run)
		if !strings.Contains(out, "after epoch 1") {
			t.Errorf("%s: summary of the checkpoint:\n%s", name, out)
		}
		model := filepath.Join(dir, name+".bnn")
		out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
		if !strings.Contains(out, layers) {
			t.Errorf("%s: export: %s", name, out)
		}
		out, _ = mustCLI(t, append([]string{"infer", "-model", model}, inferArgs...)...)
		got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
		if got == nil || got[1] != acc[1] {
			t.Errorf("%s: infer accuracy %v, train recorded %s:\n%s", name, got, acc[1], out)
		}
		t.Logf("%s: %s", name, out)
	}
	check("resnet20", []string{"-train-size", "200", "-val-size", "100", "-test-size", "100"}, []string{"-n", "100"},
		"conv1:binary l1b0.conv1:binary l1b0.conv2:binary l1b0.add l1b1.conv1:binary")
	if testing.Short() {
		return
	}
	root := writeDigitFolders(t, 200, 100)
	check("resnet21", []string{"-dataset", "imagenet", "-data-dir", root, "-image-size", "32", "-workers", "2"},
		[]string{"-dataset", "imagenet", "-data-dir", root},
		"l2b0.conv1:binary l2b0.conv2:binary l2b0.downsample:binary l2b0.add")
}

// writeFloatModel writes a .bnn model named name to path: for an input of
// shape [28, 28, 1] or [32, 32, 3] a flatten layer, then one float dense
// layer of classes outputs (weights 0.01, scale 1, offset 0), normalized
// with MNIST's one channel or three (image folders). No training: infer's
// checks of the data against the model only need its shape, its classes
// and its name.
func writeFloatModel(t *testing.T, path, name string, shape []int, classes int) {
	t.Helper()
	in := 1
	for _, d := range shape {
		in *= d
	}
	m := &bnn.Model{Name: name, InputShape: shape, InputMean: []float32{0.1307}, InputStd: []float32{0.3081}}
	if shape[len(shape)-1] == 3 {
		m.InputMean, m.InputStd = []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	}
	if len(shape) > 1 {
		m.Layers = append(m.Layers, bnn.Layer{Name: "flatten", Kind: bnn.Flatten})
	}
	l := bnn.Layer{Name: "dense1", Kind: bnn.Dense, Encoding: bnn.Float32, Inputs: in, Outputs: classes,
		Weights: make([]float32, in*classes), Scale: make([]float32, classes), Offset: make([]float32, classes)}
	for i := range l.Weights {
		l.Weights[i] = 0.01
	}
	for i := range l.Scale {
		l.Scale[i] = 1
	}
	m.Layers = append(m.Layers, l)
	if err := bnn.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
}

// TestInferChecksData checks that infer refuses test images that are not
// the model's: grey images of another shape with as many pixels (14x56 for
// a 28x28x1 model, which binnet train refuses with the same message), a
// data set other than the one the .bnn records (sample and mnist being the
// same), a model of another number of classes (MNIST-like sets and image
// folders); and that it accepts the model's own data set, and a model whose
// name records no origin (checked for shape and classes only).
func TestInferChecksData(t *testing.T) {
	dir := t.TempDir()
	tall, square := filepath.Join(dir, "tall"), filepath.Join(dir, "square")
	writeIDXSet(t, tall, 14, 56, false)
	writeIDXSet(t, square, 28, 28, false)
	model := func(file string, o bnn.Origin, shape []int, classes int) string {
		path := filepath.Join(dir, file)
		writeFloatModel(t, path, o.String(), shape, classes)
		return path
	}
	cnn := bnn.Origin{Preset: "cnn", Network: "cnn-28x28x1", Dataset: "mnist", Epochs: 1, TotalEpochs: 1, Tested: true, TestAccuracy: 0.5}
	cnnModel := model("cnn.bnn", cnn, []int{28, 28, 1}, 10)
	mlp := bnn.Origin{Preset: "mlp-300-100", Network: "mlp-784-300-100-10", Dataset: "fashion-mnist", Epochs: 3, TotalEpochs: 3, Tested: true, TestAccuracy: 0.8}
	fashion := model("fashion.bnn", mlp, []int{784}, 10)
	mlp.Dataset = "sample"
	sample := model("sample.bnn", mlp, []int{784}, 10)
	twoClasses := model("two.bnn", mlp, []int{784}, 2)
	r21 := bnn.Origin{Preset: "resnet21", Network: "resnet21-32x32x3", Dataset: "imagenet", Epochs: 1, TotalEpochs: 1, Tested: true, TestAccuracy: 0.5}
	folderModel := model("folder.bnn", r21, []int{32, 32, 3}, 2)
	unnamed := filepath.Join(dir, "unnamed.bnn")
	writeFloatModel(t, unnamed, "my own network", []int{784}, 10)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"14x56 images, 28x28x1 model", []string{"-model", cnnModel, "-data-dir", tall},
			"binnet infer: data set mnist: " + filepath.Join(tall, "t10k-images-idx3-ubyte") + " has grey images of 14x56 pixels (shape 14x56x1), but model cnn wants 28x28x1 images\n"},
		{"fashion-mnist model, sample data", []string{"-model", fashion},
			"binnet infer: " + fashion + " was trained on data set fashion-mnist, but the test images are sample (-dataset's default without -data-dir): its accuracy there would mean nothing; use -dataset fashion-mnist -data-dir DIR with Fashion-MNIST's IDX files\n"},
		{"sample model, fashion-mnist data", []string{"-model", sample, "-dataset", "fashion-mnist", "-data-dir", square},
			"binnet infer: " + sample + " was trained on data set sample, but the test images are fashion-mnist: its accuracy there would mean nothing; use -dataset sample (the embedded MNIST test images), or -dataset mnist -data-dir DIR with MNIST's IDX files\n"},
		{"image-folder model, MNIST data", []string{"-model", folderModel, "-data-dir", square},
			"binnet infer: " + folderModel + " was trained on data set imagenet, but the test images are mnist (-dataset's default with -data-dir): its accuracy there would mean nothing; use -dataset imagenet -data-dir DIR with val/ (and train/) folders of the classes it was trained on\n"},
		{"2-class model, 10-class data", []string{"-model", twoClasses},
			"binnet infer: model mlp-300-100 has 2 classes, data set sample 10: its accuracy there would mean nothing\n"},
	} {
		code, stdout, stderr := cli(t, append([]string{"infer"}, tc.args...)...)
		if code != 1 || stderr != tc.want || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr\n%q\nwant exit 1 and\n%q", tc.name, code, stdout, stderr, tc.want)
		}
	}

	// The model's own data: the sample is MNIST's first test images, so an
	// MNIST model may be scored on it and a sample model on MNIST.
	for _, tc := range []struct {
		name  string
		args  []string
		lines []string
	}{
		{"28x28 images", []string{"-model", cnnModel, "-data-dir", square},
			[]string{"model " + cnnModel + ": cnn (cnn-28x28x1) dataset mnist, 1 epochs, test accuracy 0.5000", "data mnist/test: 20 test images of 28x28x1"}},
		{"mnist model on the sample", []string{"-model", cnnModel, "-n", "30"},
			[]string{"model " + cnnModel + ": cnn (cnn-28x28x1) dataset mnist, 1 epochs, test accuracy 0.5000", "data sample/test: 30 test images of 28x28x1"}},
		{"sample model on mnist", []string{"-model", sample, "-data-dir", square},
			[]string{"model " + sample + ": mlp-300-100 (mlp-784-300-100-10) dataset sample, 3 epochs, test accuracy 0.8000", "data mnist/test: 20 test images of 784"}},
		{"no recorded origin", []string{"-model", unnamed, "-dataset", "fashion-mnist", "-data-dir", square},
			[]string{"model " + unnamed + ": my own network", "data fashion-mnist/test: 20 test images of 784"}},
	} {
		stdout, _ := mustCLI(t, append([]string{"infer"}, tc.args...)...)
		lines := strings.Split(stdout, "\n")
		if len(lines) < 2 || lines[0] != tc.lines[0] || lines[1] != tc.lines[1] {
			t.Errorf("%s: infer printed\n%s\nwant first lines\n%s", tc.name, stdout, strings.Join(tc.lines, "\n"))
		}
	}

	// An image folder of 10 classes for a model of 2.
	if testing.Short() {
		return
	}
	root := writeDigitFolders(t, 20, 20)
	want := "binnet infer: imagenet/val has 10 classes, the model 2: its accuracy there would mean nothing (a folder of the classes it was trained on is needed, with the same class folder names in train/ or val/, which set the labels)\n"
	code, _, stderr := cli(t, "infer", "-model", folderModel, "-dataset", "imagenet", "-data-dir", root)
	if code != 1 || stderr != want {
		t.Errorf("image folder of 10 classes, model of 2: exit %d, stderr\n%q\nwant\n%q", code, stderr, want)
	}
}

// TestInferModelLine checks infer's first line for a model exported from an
// unfinished run ("not tested", with the epochs run of the schedule's), from
// a completed run that skipped its test, and for a file written before
// export recorded either (its "test accuracy 0.0000" gets a note).
func TestInferModelLine(t *testing.T) {
	dir := t.TempDir()
	o := bnn.Origin{Preset: "mlp-300-100", Network: "mlp-784-300-100-10", Dataset: "mnist", Epochs: 1, TotalEpochs: 3}
	for _, tc := range []struct{ name, want string }{
		{o.String(), "mlp-300-100 (mlp-784-300-100-10) dataset mnist, not tested (run unfinished: 1 of 3 epochs)"},
		{"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, not tested", "mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, not tested"},
		{"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 1 epochs, test accuracy 0.0000",
			"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 1 epochs, test accuracy 0.0000 (0 may also mean not tested: binnet export wrote 0 for unfinished runs before it wrote \"not tested\")"},
	} {
		path := filepath.Join(dir, "m.bnn")
		writeFloatModel(t, path, tc.name, []int{784}, 10)
		stdout, _ := mustCLI(t, "infer", "-model", path, "-n", "10")
		if first, _, _ := strings.Cut(stdout, "\n"); first != "model "+path+": "+tc.want {
			t.Errorf("model named %q: infer's first line\n%s\nwant\nmodel %s: %s", tc.name, first, path, tc.want)
		}
	}
}

// TestExportSummaryNoCheckpoint checks the messages of export and summary
// for a run folder whose results.json records a run that failed before its
// first epoch (so it has no checkpoint.bin), and of summary for a folder
// without results.json: each names the folder or the file, with no
// "export:" prefix in summary's.
func TestExportSummaryNoCheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "diverged")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	sched, err := schedule.New(schedule.Config{NumLayers: 3, Kind: schedule.KindBinary, TotalEpochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	res := &training.Results{Status: training.StatusFailed, Error: "training diverged: loss NaN in epoch 1", Model: "mlp-300-100",
		Network: "mlp-784-300-100-10", Dataset: "mnist", Schedule: sched}
	if err := training.WriteResults(filepath.Join(run, training.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
	msg := run + " has no checkpoint.bin: its results.json records the run as failed before its first epoch ended (training diverged: loss NaN in epoch 1), so no trained weights were saved: there is nothing to export or summarize\n"
	out := filepath.Join(dir, "m.bnn")
	for _, cmd := range [][]string{{"export", "-checkpoint", run, "-out", out}, {"summary", "-checkpoint", run}} {
		code, stdout, stderr := cli(t, cmd...)
		if want := "binnet " + cmd[0] + ": " + msg; code != 1 || stderr != want || stdout != "" {
			t.Errorf("binnet %s: exit %d, stdout %q, stderr\n%q\nwant exit 1 and\n%q", strings.Join(cmd, " "), code, stdout, stderr, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("export wrote %s (%v)", out, err)
	}
	empty := t.TempDir()
	code, _, stderr := cli(t, "summary", "-checkpoint", empty)
	if want := "binnet summary: open " + filepath.Join(empty, "results.json") + ": no such file or directory\n"; code != 1 || stderr != want {
		t.Errorf("summary of a folder without results.json: exit %d, stderr\n%q\nwant\n%q", code, stderr, want)
	}
}
