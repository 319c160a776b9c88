package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// idxImageFile encodes n images of rows x cols pixels in the IDX3 format.
func idxImageFile(n, rows, cols int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, d := range []int{n, rows, cols} {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	for i := range n * rows * cols {
		b = append(b, byte(i*7))
	}
	return b
}

// idxLabelFile encodes n labels 0, 1, ..., 9, 0, ... in the IDX1 format.
func idxLabelFile(n int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000801)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for i := range n {
		b = append(b, byte(i%10))
	}
	return b
}

// writeIDXSet writes the four IDX files of a data set of 40 training and 20
// test images of rows x cols pixels into dir, gzip-compressed when gz.
func writeIDXSet(t *testing.T, dir string, rows, cols int, gz bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		datasets.TrainImagesFile: idxImageFile(40, rows, cols),
		datasets.TrainLabelsFile: idxLabelFile(40),
		datasets.TestImagesFile:  idxImageFile(20, rows, cols),
		datasets.TestLabelsFile:  idxLabelFile(20),
	} {
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			data, name = buf.Bytes(), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// refused runs binnet train with args and -out, and checks (mustRefuse) that it exits 1
// before training, without creating -out, with every one of want in its
// error output (and none of notWant). It returns the error output.
func refused(t *testing.T, args []string, want []string, notWant ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	args = append(append([]string{"train"}, args...), "-out", out)
	stderr := mustRefuse(t, 1, want, args...)
	for _, w := range notWant {
		if strings.Contains(stderr, w) {
			t.Errorf("binnet %s: stderr contains %q:\n%s", strings.Join(args, " "), w, stderr)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("binnet %s created its output folder (%v)", strings.Join(args, " "), err)
	}
	t.Logf("binnet %s:\n%s", strings.Join(args, " "), stderr)
	return stderr
}

// IDX images whose shape is not the model's input are refused, naming the
// data set, the images file, the shape found and the shape wanted, even
// when the pixel count matches (14x56 = 28x28 = 784).
func TestTrainIDXShapeMismatch(t *testing.T) {
	tall := t.TempDir()
	writeIDXSet(t, tall, 14, 56, true)
	odd := t.TempDir()
	writeIDXSet(t, odd, 14, 57, false)
	common := []string{"-epochs", "1", "-order", "binary", "-val-size", "10"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"cnn 14x56", []string{"-model", "cnn", "-data-dir", tall},
			[]string{"data set mnist", filepath.Join(tall, datasets.TrainImagesFile+".gz"), "grey images of 14x56 pixels (shape 14x56x1)", "model cnn wants 28x28x1 images"}},
		{"cnn 14x56 fashion-mnist", []string{"-model", "cnn", "-dataset", "fashion-mnist", "-data-dir", tall},
			[]string{"data set fashion-mnist", filepath.Join(tall, datasets.TrainImagesFile+".gz"), "14x56", "model cnn wants 28x28x1"}},
		{"mlp 14x57", []string{"-model", "mlp-300-100", "-data-dir", odd},
			[]string{"data set mnist", filepath.Join(odd, datasets.TrainImagesFile), "14x57", "model mlp-300-100 wants 784 input values (flattened images), not 798"}},
		{"vgg5 14x56", []string{"-model", "vgg5", "-dataset", "mnist", "-data-dir", tall},
			[]string{filepath.Join(tall, datasets.TrainImagesFile+".gz"), "14x56", "model vgg5 wants 32x32x3 colour images", "at most 32x32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, append(tc.args, common...), tc.want)
		})
	}
	// 14x56 images flatten to the MLP's 784 inputs: an MLP has no notion
	// of rows, so they are accepted (the check fails later on -val-size,
	// after the shape).
	refused(t, []string{"-model", "mlp-300-100", "-data-dir", tall, "-epochs", "1", "-order", "binary", "-val-size", "40"},
		[]string{"-val-size", "cannot hold out 40 of 40"}, "14x56")
}

// The data set cache ($BINNET_DATA): absent files are reported as absent
// with how to get them; files that are there but fail to load give the
// loader's error, naming the file, not "is not in".
func TestTrainCachedDataErrors(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("BINNET_DATA", cache)
	dir := filepath.Join(cache, "mnist")
	args := []string{"-model", "mlp-300-100", "-dataset", "mnist", "-epochs", "1", "-order", "binary", "-val-size", "10"}

	refused(t, args, []string{"data set mnist is not in " + dir, "-data-dir", "-fetch"})

	writeIDXSet(t, dir, 28, 28, true)
	labels := filepath.Join(dir, datasets.TestLabelsFile+".gz")
	data, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-8] ^= 0x01 // the gzip trailer's CRC-32
	if err := os.WriteFile(labels, data, 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, args, []string{labels, "bad gzip stream", "-fetch"}, "is not in")

	// A directory named like the file is reported as a directory.
	if err := os.Remove(labels); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(labels, 0o755); err != nil {
		t.Fatal(err)
	}
	refused(t, args, []string{labels, "is a directory, not an IDX file"}, "is not in", ": not found")

	// A missing file among present ones is named.
	if err := os.Remove(labels); err != nil {
		t.Fatal(err)
	}
	refused(t, args, []string{"data set mnist is incomplete in " + dir, filepath.Join(dir, datasets.TestLabelsFile), "not found", "-fetch"})
}

// An IDX images file with no images is refused naming the file.
func TestTrainNoImages(t *testing.T) {
	dir := t.TempDir()
	writeIDXSet(t, dir, 28, 28, false)
	for name, data := range map[string][]byte{datasets.TrainImagesFile: idxImageFile(0, 28, 28), datasets.TrainLabelsFile: idxLabelFile(0)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refused(t, []string{"-model", "mlp-300-100", "-data-dir", dir, "-epochs", "1", "-order", "binary"},
		[]string{filepath.Join(dir, datasets.TrainImagesFile), "has no images"}, "0 < n < 0")
}

// writeImageFolders writes perClass sample digits as 16x16 JPEGs into
// root/split/<class> for each "split/class" of dirs and returns root.
func writeImageFolders(t *testing.T, perClass int, dirs ...string) string {
	t.Helper()
	train, _, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for k, d := range dirs {
		split, class, _ := strings.Cut(d, "/")
		s := train.Slice(k*perClass, (k+1)*perClass)
		if err := imagefolder.WriteFromGray(filepath.Join(root, split), []string{class}, s.Rows, s.Cols, s.Images,
			make([]uint8, perClass), imagefolder.WriteOptions{Width: 16, Height: 16, RGB: true}); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Image folders: a single class, a val/ without a class of train/ and a
// class whose files are all unreadable are refused with errors naming the
// class and its folder.
func TestTrainImageFolderBadInput(t *testing.T) {
	args := func(root string) []string {
		return []string{"-model", "cnn", "-dataset", "imagenet", "-data-dir", root, "-image-size", "8", "-batch", "4",
			"-workers", "1", "-epochs", "1", "-order", "binary", "-augment", "off"}
	}

	one := writeImageFolders(t, 4, "train/a", "val/a")
	refused(t, args(one), []string{filepath.Join(one, "train"), `only 1 class folder, "a"`, "at least 2 classes"})

	noB := writeImageFolders(t, 4, "train/a", "train/b", "val/a")
	refused(t, args(noB), []string{filepath.Join(noB, "val", "b"), `no folder for class "b"`, "1 of the 2 given classes missing"})

	root := writeImageFolders(t, 8, "train/a", "train/b", "val/a", "val/b")
	bad := filepath.Join(root, "train", "b")
	entries, err := os.ReadDir(bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(bad, e.Name()), []byte("not a JPEG"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := cli(t, append(append([]string{"train"}, args(root)...), "-out", out)...)
	t.Logf("all of train/b unreadable:\n%s", stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, w := range []string{
		"16 image files listed in " + filepath.Join(root, "train"), "the example counts are of files listed",
		bad + ": " + `class "b" of imagenet/train: none of its 8 image files can be read`,
		"skipped unreadable " + filepath.Join(bad, entries[0].Name()), // Skipped seen through -augment off
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not contain %q", w)
		}
	}
	if strings.Contains(stderr, "test accuracy") {
		t.Errorf("the run completed")
	}
}

// realDataset returns the folder of a real IDX data set (../shared/datasets
// beside the repository, or $BINNET_TEST_DATASETS), or skips the test.
func realDataset(t *testing.T, name string) string {
	t.Helper()
	root := "../../../shared/datasets"
	if env := os.Getenv("BINNET_TEST_DATASETS"); env != "" {
		root = env
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, datasets.TestLabelsFile+".gz")); err != nil {
		t.Skipf("real %s data not available in %s: %v", name, dir, err)
	}
	return dir
}

// TestDatasetOtherFilesRefused: -dataset mnist with a folder of
// Fashion-MNIST's files (and the reverse) is refused, naming the labels file,
// both data sets and the -dataset to use, before an output folder is made:
// it was trained and recorded as the wrong data set.
func TestDatasetOtherFilesRefused(t *testing.T) {
	mnist, fashion := realDataset(t, "mnist"), realDataset(t, "fashion-mnist")
	for _, c := range []struct {
		dataset, dir string
		want         []string
	}{
		{"mnist", fashion, []string{filepath.Join(fashion, datasets.TrainLabelsFile+".gz") + " is Fashion-MNIST's training labels (SHA-256 ", "not MNIST's: use -dataset fashion-mnist"}},
		{"fashion-mnist", mnist, []string{filepath.Join(mnist, datasets.TrainLabelsFile+".gz") + " is MNIST's training labels", "not Fashion-MNIST's: use -dataset mnist"}},
	} {
		out := filepath.Join(t.TempDir(), "run")
		mustRefuse(t, 1, c.want, "train", "-dataset", c.dataset, "-data-dir", c.dir, "-order", "binary", "-epochs", "1", "-quiet", "-out", out)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("-dataset %s -data-dir %s: output folder made (%v)", c.dataset, c.dir, err)
		}
	}
	// -data-dir alone reads the MLPs' mnist: Fashion-MNIST's files need -dataset.
	mustRefuse(t, 1, []string{"not MNIST's: use -dataset fashion-mnist"}, "train", "-data-dir", fashion, "-order", "binary", "-epochs", "1", "-quiet",
		"-out", filepath.Join(t.TempDir(), "run"))
}
