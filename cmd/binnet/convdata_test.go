package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// cifarFromMNIST writes the six CIFAR-10 binary files, 10,000 records each
// as in the real data set, from the embedded MNIST sample padded to 32x32x3
// (the sample's 10,000 training images serve every training file, its first
// 2,000 test images repeated five times the test file).
func cifarFromMNIST(t *testing.T) string {
	t.Helper()
	train, test, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), cifar10.DirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, s *datasets.Set) {
		cs, err := cifar10.FromGray(name, s.Rows, s.Cols, s.Images, s.Labels)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := cifar10.WriteBatch(f, cs); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range cifar10.TrainFiles() {
		write(name, train)
	}
	rep := &datasets.Set{Name: "test", Rows: test.Rows, Cols: test.Cols}
	for range 5 {
		rep.Images = append(rep.Images, test.Images...)
		rep.Labels = append(rep.Labels, test.Labels...)
	}
	write(cifar10.TestFile, rep)
	return dir
}

// TestTrainCIFAR10Format trains VGG-5 through the CLI on files in the exact
// CIFAR-10 binary format, then checks that a truncated file is refused with
// a message that names it.
func TestTrainCIFAR10Format(t *testing.T) {
	dir := cifarFromMNIST(t)
	out := t.TempDir()
	mustCLI(t, "train", "-quiet", "-model", "vgg5", "-dataset", "cifar10", "-data-dir", filepath.Dir(dir),
		"-train-size", "300", "-val-size", "200", "-test-size", "200", "-order", "binary", "-epochs", "1", "-out", out)
	r := readResults(t, out)
	if r.Status != "completed" || r.Model != "vgg5" || len(r.History) != 1 {
		t.Fatalf("results: %+v", r)
	}

	path := filepath.Join(dir, "data_batch_3.bin")
	if err := os.Truncate(path, 3073*9999+1000); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "train", "-quiet", "-model", "vgg5", "-dataset", "cifar10", "-data-dir", dir,
		"-train-size", "300", "-order", "binary", "-epochs", "1", "-out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "data_batch_3.bin") || !strings.Contains(stderr, "3073") {
		t.Fatalf("truncated file: exit %d, stderr %q: want an error naming data_batch_3.bin and the 3073-byte record", code, stderr)
	}
}

// TestTrainImageFolder runs ResNet-21 through the whole ImageNet pipeline
// (class folders of JPEG files, decoding, random resized crops, the network
// rebuilt for 32x32 crops and 3 classes) on MNIST digits written as JPEGs.
func TestTrainImageFolder(t *testing.T) {
	root := writeDigitFolders(t, 48, 64) // 64 test digits include all ten classes, as val/ must
	bad := filepath.Join(root, "train", "n3", "broken.JPEG")
	if err := os.WriteFile(bad, []byte("not a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, stderr := mustCLI(t, "train", "-quiet", "-model", "resnet21", "-dataset", "imagenet", "-data-dir", root, "-image-size", "32",
		"-batch", "16", "-order", "binary", "-epochs", "1", "-out", out)
	if !strings.Contains(stderr, "skipped unreadable") || !strings.Contains(stderr, "broken.JPEG") ||
		!strings.Contains(stderr, "imagenet/train: 1 of 49 listed files were unreadable and skipped") {
		t.Errorf("the corrupt file is not reported: stderr %q", stderr)
	}
	r := readResults(t, out)
	if r.Status != "completed" || len(r.History) != 1 {
		t.Fatalf("results: %+v", r)
	}
	code, _, stderr := cli(t, "train", "-quiet", "-model", "resnet21", "-dataset", "imagenet", "-data-dir", filepath.Join(root, "missing"),
		"-epochs", "1", "-order", "binary", "-out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "missing") {
		t.Fatalf("missing folder: exit %d, stderr %q", code, stderr)
	}
}

// TestSpeed times one window of a small step and checks the JSON it prints.
func TestSpeed(t *testing.T) {
	stdout, _ := mustCLI(t, "speed", "-model", "cnn", "-batch", "4", "-steps", "1", "-windows", "1", "-json")
	var r speedResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("speed -json printed %q: %v", stdout, err)
	}
	// Forward multiply-accumulates of the binarizable layers of cnn, by hand:
	// conv1 28*28*9*32, conv2 28*28*288*64, dense 14*14*64*10.
	wantMACs := int64(28*28*9*32 + 28*28*288*64 + 14*14*64*10)
	if r.Model != "cnn" || r.Batch != 4 || !(r.ExamplesPS > 0) || r.ForwardMACs != wantMACs {
		t.Fatalf("speed: %+v, want cnn, batch 4, positive examples/s and %d MACs", r, wantMACs)
	}
	// Three steps per call: resnet20's SGD keeps the update in the graph, so
	// the steps are unrolled into one execution on the pure-Go backend too.
	stdout, _ = mustCLI(t, "speed", "-model", "resnet20", "-batch", "4", "-steps", "3", "-windows", "1", "-steps-per-call", "3", "-json")
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("speed -steps-per-call 3 -json printed %q: %v", stdout, err)
	}
	if r.Model != "resnet20" || r.PerCall != 3 || !(r.ExamplesPS > 0) {
		t.Fatalf("speed -steps-per-call 3: %+v, want resnet20, 3 steps per call, positive examples/s", r)
	}
	if code, _, stderr := cli(t, "speed", "-model", "mlp-300-100", "-image-size", "64"); code == 0 || !strings.Contains(stderr, "fixed input") {
		t.Fatalf("speed -image-size on an MLP: exit %d, %q", code, stderr)
	}
}

// TestSpeedCPUProfile checks that -cpuprofile writes a profile (pprof's
// gzip-compressed protocol buffer) and that an unwritable path is refused
// before any timing, naming the flag.
func TestSpeedCPUProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "step.prof")
	mustCLI(t, "speed", "-model", "mlp-300-100", "-batch", "10", "-steps", "2", "-windows", "1", "-cpuprofile", prof)
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 20 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("-cpuprofile wrote %d bytes starting % x, want a gzip stream", len(b), b[:min(len(b), 4)])
	}
	bad := filepath.Join(t.TempDir(), "missing", "step.prof")
	if code, _, stderr := cli(t, "speed", "-model", "mlp-300-100", "-batch", "10", "-steps", "1", "-windows", "1", "-cpuprofile", bad); code == 0 ||
		!strings.Contains(stderr, "-cpuprofile") || !strings.Contains(stderr, bad) {
		t.Fatalf("-cpuprofile into a missing folder: exit %d, %q", code, stderr)
	}
}

// TestTrainPaddedMNIST trains VGG-5 on the embedded MNIST sample padded to
// 32x32x3 (the CLI's route for the CIFAR-10 models on grey images), and
// checks the sizes the run records and the refusals of impossible requests.
func TestTrainPaddedMNIST(t *testing.T) {
	out := t.TempDir()
	mustCLI(t, "train", "-quiet", "-model", "vgg5", "-dataset", "sample", "-train-size", "200", "-val-size", "100",
		"-test-size", "100", "-order", "forward", "-epochs", "5", "-epochs-per-layer", "1", "-out", out)
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status        string
		TrainExamples int `json:"train_examples"`
		ValExamples   int `json:"val_examples"`
		TestExamples  int `json:"test_examples"`
		History       []epochJSON
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "completed" || r.TrainExamples != 200 || r.ValExamples != 100 || r.TestExamples != 100 || len(r.History) != 5 {
		t.Fatalf("results: %+v", r)
	}
	if got := r.History[2].BinaryLayers; len(got) != 3 {
		t.Errorf("epoch 3 has binary layers %v, want the first 3 of the forward order", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-model", "cnn", "-augment", "on"}, "no augmentation"},
		{[]string{"-model", "vgg5", "-train-size", "999999"}, "-train-size 999999"},
		{[]string{"-model", "vgg5", "-augment", "maybe"}, "-augment"},
		{[]string{"-model", "mlp-300-100", "-dataset", "cifar10", "-data-dir", t.TempDir()}, "32x32x3"},
	} {
		args := append([]string{"train", "-quiet", "-dataset", "sample", "-epochs", "1", "-order", "binary", "-out", t.TempDir()}, c.args...)
		if code, _, stderr := cli(t, args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("binnet %s: exit %d, stderr %q: want an error containing %q", strings.Join(args, " "), code, stderr, c.want)
		}
	}
}

// writeDigitFolders writes the first nTrain training and nTest test images
// of the embedded sample as 40x40 RGB JPEGs in ImageNet's class-folder
// layout (train/n0..n9, val/n0..n9) under a temporary folder it returns.
func writeDigitFolders(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	train, test, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	classes := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"}
	opts := imagefolder.WriteOptions{Width: 40, Height: 40, RGB: true}
	tr, te := train.Slice(0, nTrain), test.Slice(0, nTest)
	if err := imagefolder.WriteFromGray(filepath.Join(root, "train"), classes, tr.Rows, tr.Cols, tr.Images, tr.Labels, opts); err != nil {
		t.Fatal(err)
	}
	if err := imagefolder.WriteFromGray(filepath.Join(root, "val"), classes, te.Rows, te.Cols, te.Images, te.Labels, opts); err != nil {
		t.Fatal(err)
	}
	return root
}
