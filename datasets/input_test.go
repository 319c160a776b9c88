package datasets_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
)

// A directory named like an IDX file is reported as a directory, not as a
// missing file, and the error names it.
func TestLoadDirectoryNamedLikeFile(t *testing.T) {
	for _, name := range []string{datasets.TrainImagesFile, datasets.TestLabelsFile + ".gz"} {
		t.Run(name, func(t *testing.T) {
			files := smallFiles()
			delete(files, strings.TrimSuffix(name, ".gz"))
			dir := writeFiles(t, files)
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
			_, _, err := datasets.Load("mnist", dir)
			checkFileError(t, err, datasets.ErrNotFound, filepath.Join(dir, name), "is a directory, not an IDX file")
			if strings.Contains(err.Error(), ": not found") {
				t.Errorf("error %q says not found", err)
			}
			t.Log(err)
		})
	}
	// A directory does not hide a file under another accepted name.
	files := smallFiles()
	dir := writeFiles(t, files)
	if err := os.Mkdir(filepath.Join(dir, datasets.TrainImagesFile+".gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := datasets.Load("mnist", dir); err != nil {
		t.Errorf("directory %s.gz next to the raw file: %v", datasets.TrainImagesFile, err)
	}
}

// An images file with no images (a valid IDX header declaring 0 images) is
// refused by Load, naming the file and saying it has no images, instead of
// giving an empty set that fails later with "want 0 < n < 0".
func TestLoadNoImages(t *testing.T) {
	for _, tc := range []struct {
		images, labels string
		split          string
	}{
		{datasets.TrainImagesFile, datasets.TrainLabelsFile, "training"},
		{datasets.TestImagesFile, datasets.TestLabelsFile, "test"},
	} {
		t.Run(tc.images, func(t *testing.T) {
			files := smallFiles()
			files[tc.images] = idxImages(0, 28, 28)
			files[tc.labels] = idxLabels()
			dir := writeFiles(t, files)
			train, test, err := datasets.Load("mnist", dir)
			if train != nil || test != nil {
				t.Errorf("Load returned sets with an error")
			}
			checkFileError(t, err, datasets.ErrCorrupt, filepath.Join(dir, tc.images),
				"has no images", "0 images of 28x28", "the "+tc.split+" set cannot be empty")
			t.Log(err)
		})
	}
	// With labels left over, the empty images file is still what is named.
	files := smallFiles()
	files[datasets.TrainImagesFile] = idxImages(0, 14, 56)
	dir := writeFiles(t, files)
	_, _, err := datasets.Load("mnist", dir)
	checkFileError(t, err, datasets.ErrCorrupt, filepath.Join(dir, datasets.TrainImagesFile), "has no images", "0 images of 14x56")
}

// Load records each set's images file, and Slice and HoldOutLast keep it.
func TestLoadSetFile(t *testing.T) {
	dir := writeFiles(t, smallFiles())
	train, test, err := datasets.Load("mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, datasets.TrainImagesFile); train.File != want {
		t.Errorf("train.File = %q, want %q", train.File, want)
	}
	if want := filepath.Join(dir, datasets.TestImagesFile); test.File != want {
		t.Errorf("test.File = %q, want %q", test.File, want)
	}
	tr, va, err := train.HoldOutLast(1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.File != train.File || va.File != train.File || train.Slice(0, 1).File != train.File {
		t.Errorf("Slice and HoldOutLast lost File: %q, %q", tr.File, va.File)
	}
	s, _, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if s.File != "embedded sample/"+datasets.TrainImagesFile+".gz" {
		t.Errorf("Sample File = %q", s.File)
	}
}

// HoldOutLast of a set too small to split says so, naming the set and its
// file, rather than "want 0 < n < 0".
func TestHoldOutLastTooSmall(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "has no examples"},
		{1, "has only 1 example"},
	} {
		s := &datasets.Set{Name: "mnist/train", Rows: 2, Cols: 2, Images: make([]uint8, tc.n*4), Labels: make([]uint8, tc.n), File: "dir/train-images-idx3-ubyte"}
		_, _, err := s.HoldOutLast(5000)
		if err == nil {
			t.Fatalf("HoldOutLast(5000) of %d examples: no error", tc.n)
		}
		for _, w := range []string{"mnist/train", "dir/train-images-idx3-ubyte", tc.want, "5000"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("HoldOutLast(5000) of %d examples: %q does not contain %q", tc.n, err, w)
			}
		}
		if strings.Contains(err.Error(), "< 0") {
			t.Errorf("HoldOutLast(5000) of %d examples: %q", tc.n, err)
		}
	}
}
