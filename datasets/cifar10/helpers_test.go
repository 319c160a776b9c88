package cifar10_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
)

// sharedRoot is where the real data sets are, relative to this package's
// directory (the repository's ../shared/datasets).
const sharedRoot = "../../../shared/datasets"

var (
	sampleOnce sync.Once
	sampleSet  *cifar10.Set
	sampleErr  error
)

// mnistAsCIFAR returns the first n training examples of the MNIST sample
// embedded in package datasets (real MNIST digits), turned into CIFAR-shaped
// images by FromGray. The result is new memory.
func mnistAsCIFAR(t testing.TB, n int) *cifar10.Set {
	t.Helper()
	sampleOnce.Do(func() {
		train, _, err := datasets.Sample()
		if err != nil {
			sampleErr = err
			return
		}
		sampleSet, sampleErr = cifar10.FromGray("mnist-sample", train.Rows, train.Cols, train.Images, train.Labels)
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	if n > sampleSet.Len() {
		t.Fatalf("want %d examples, the sample has %d", n, sampleSet.Len())
	}
	s, err := sampleSet.Subset(seq(0, n))
	if err != nil {
		t.Fatal(err)
	}
	s.Name = "mnist-sample"
	return s
}

// seq returns from, from+1, ..., to-1.
func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// encode returns WriteBatch's output for s.
func encode(t testing.TB, s *cifar10.Set) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := cifar10.WriteBatch(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFolder writes the five training files and the test file into dir,
// file i holding the examples s.Slice(bounds[i], bounds[i+1]).
func writeFolder(t testing.TB, dir string, s *cifar10.Set, bounds [7]int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := append(cifar10.TrainFiles(), cifar10.TestFile)
	for i, f := range files {
		data := encode(t, s.Slice(bounds[i], bounds[i+1]))
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta := strings.Join(cifar10.ClassNames(), "\n") + "\n\n"
	if err := os.WriteFile(filepath.Join(dir, cifar10.MetaFile), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFileError checks that err matches kind, is a *datasets.FileError for
// path and that its message contains each of want.
func checkFileError(t *testing.T, err error, kind error, path string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one matching %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
	var fe *datasets.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is not a *datasets.FileError", err)
	}
	if fe.Path != path {
		t.Errorf("FileError.Path = %q, want %q (error %q)", fe.Path, path, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// sameSet reports whether two sets hold the same examples.
func sameSet(a, b *cifar10.Set) bool {
	return bytes.Equal(a.Images, b.Images) && bytes.Equal(a.Labels, b.Labels)
}
