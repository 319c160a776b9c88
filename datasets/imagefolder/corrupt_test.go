package imagefolder_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// writeDigit writes MNIST digit k of the sample (0..9 from digits) as a
// 32×32 JPEG at path.
func writeDigit(t *testing.T, path string, k int) {
	t.Helper()
	images, _ := digits(t, 10, 1)
	dir := t.TempDir()
	if err := imagefolder.WriteFromGray(dir, []string{"d"}, 28, 28, images[k*784:(k+1)*784], []uint8{0}, imagefolder.WriteOptions{Width: 32, Height: 32}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "d", "000000.JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// example returns example k of a batch x of examples of n values.
func example(x []float32, k, n int) []float32 { return x[k*n : (k+1)*n] }

// A truncated JPEG, a text file named .JPEG and a file deleted after Open
// are skipped, reported once and replaced by the next readable file of
// their class; the batch still fills, and a skipped file is not read again.
func TestCorruptFilesSkipped(t *testing.T) {
	root := t.TempDir()
	writeDigit(t, filepath.Join(root, "a", "1.JPEG"), 1)
	writeDigit(t, filepath.Join(root, "a", "2.JPEG"), 2)
	data, err := os.ReadFile(filepath.Join(root, "a", "2.JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "2.JPEG"), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "3.JPEG"), []byte("this is not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeDigit(t, filepath.Join(root, "a", "4.JPEG"), 4)
	writeDigit(t, filepath.Join(root, "b", "5.JPEG"), 5)
	writeDigit(t, filepath.Join(root, "b", "6.JPEG"), 6)
	f := open(t, root, imagefolder.Options{Size: 16, ResizeSize: 20, Workers: 2})
	if err := os.Remove(filepath.Join(root, "b", "5.JPEG")); err != nil {
		t.Fatal(err)
	}
	const n = 16 * 16 * 3
	idx := []int{0, 1, 2, 3, 4, 5, 2, 1}
	x, y := batch(t, f, idx, nil)
	if want := []int32{0, 0, 0, 0, 1, 1, 0, 0}; !slices.Equal(y, want) {
		t.Errorf("labels %v, want %v", y, want)
	}
	// Files 1 and 2 are replaced by file 3 (4.JPEG), file 4 by file 5.
	for k, src := range []int{0, 3, 3, 3, 5, 5, 3, 3} {
		if !slices.Equal(example(x, k, n), example(x, slices.Index(idx, src), n)) {
			t.Errorf("example %d (file %d) is not file %d", k, idx[k], src)
		}
	}
	check := func() {
		t.Helper()
		s := f.Skipped()
		if len(s) != 3 {
			t.Fatalf("Skipped() = %v, want 3 files", s)
		}
		for k, want := range []struct {
			index int
			name  string
			kind  error
		}{{1, "a/2.JPEG", datasets.ErrCorrupt}, {2, "a/3.JPEG", datasets.ErrCorrupt}, {4, "b/5.JPEG", datasets.ErrNotFound}} {
			var fe *datasets.FileError
			if s[k].Index != want.index || s[k].Path != filepath.Join(root, want.name) ||
				!errors.Is(s[k].Err, want.kind) || !errors.As(s[k].Err, &fe) || !strings.Contains(s[k].Err.Error(), want.name) {
				t.Errorf("Skipped()[%d] = %+v, want %s (%v)", k, s[k], want.name, want.kind)
			}
			t.Logf("skipped: %v", s[k].Err)
		}
	}
	check()

	// Repair 2.JPEG: it is not read again, so file 1 is still replaced.
	writeDigit(t, filepath.Join(root, "a", "2.JPEG"), 2)
	x2, _ := batch(t, f, idx, nil)
	if !slices.Equal(x, x2) {
		t.Errorf("second batch differs from the first")
	}
	check()
}

// writeGarbage writes bytes that are no image (a JPEG start marker and
// junk) at each path under root.
func writeGarbage(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, name := range names {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\xff\xd8\xff garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkUnreadableClass checks that err is Batch's error for a class none of
// whose files can be read: it names the class folder and the class, says
// why, and wraps the error of the class's first file.
func checkUnreadableClass(t *testing.T, err error, root, class string, files int, first string) {
	t.Helper()
	var fe *datasets.FileError
	switch {
	case err == nil:
		t.Fatalf("Batch succeeded, want an error naming class %q", class)
	case !errors.Is(err, imagefolder.ErrUnreadableClass) || !errors.Is(err, datasets.ErrCorrupt):
		t.Errorf("error %q does not match ErrUnreadableClass and datasets.ErrCorrupt", err)
	case !errors.As(err, &fe) || fe.Path != filepath.Join(root, class):
		t.Errorf("error %q is not a *datasets.FileError for %s", err, filepath.Join(root, class))
	}
	for _, w := range []string{filepath.Join(root, class) + ":", fmt.Sprintf("class %q of ", class), fmt.Sprintf("none of its %d image files can be read", files),
		filepath.Join(root, class, first), "cannot decode image"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	t.Log(err)
}

// A class whose files are all unreadable is an error naming the class
// folder as soon as a batch needs one of its examples; its files are not
// replaced by another class's (which would give them a wrong label). The
// other classes' examples still load, and every failed file is reported
// once in Skipped.
func TestUnreadableClass(t *testing.T) {
	root := t.TempDir()
	writeGarbage(t, root, "a/1.jpg", "a/2.png", "c/1.jpg")
	writeDigit(t, filepath.Join(root, "b", "1.jpg"), 3)
	f := open(t, root, imagefolder.Options{Size: 8, ResizeSize: 8, Workers: 3})
	if _, y := batch(t, f, []int{2, 2}, nil); !slices.Equal(y, []int32{1, 1}) {
		t.Errorf("class b labels %v, want [1 1]", y)
	}
	x, y := make([]float32, 4*192), make([]int32, 4)
	// The first failing example in index order (file 0, class a) gives the
	// error, whatever the worker that finds it.
	err := f.Batch([]int{2, 1, 3, 0}, nil, x, y)
	checkUnreadableClass(t, err, root, "a", 2, "1.jpg")
	if s := f.Skipped(); len(s) != 3 {
		t.Errorf("Skipped() = %v, want the 3 unreadable files", s)
	}
	// Known unreadable files are not read again: the error is the same.
	err = f.Batch([]int{3}, rand.New(rand.NewPCG(1, 2)), x[:192], y[:1])
	checkUnreadableClass(t, err, root, "c", 1, "1.jpg")

	// A single unreadable file among readable ones is still replaced.
	writeDigit(t, filepath.Join(root, "c", "2.jpg"), 4)
	g := open(t, root, imagefolder.Options{Size: 8, ResizeSize: 8})
	if _, y := batch(t, g, []int{3, 4}, nil); !slices.Equal(y, []int32{2, 2}) {
		t.Errorf("class c labels %v, want [2 2]", y)
	}
	if s := g.Skipped(); len(s) != 1 || s[0].Path != filepath.Join(root, "c", "1.jpg") {
		t.Errorf("Skipped() = %v, want c/1.jpg", s)
	}
}

// A folder of only unreadable files fails on the class of the first
// example asked for.
func TestUnreadableFolder(t *testing.T) {
	root := t.TempDir()
	writeGarbage(t, root, "a/1.jpg", "b/1.jpg", "b/2.jpg")
	f := open(t, root, imagefolder.Options{Size: 8, ResizeSize: 8})
	err := f.Batch([]int{2, 0}, nil, make([]float32, 2*192), make([]int32, 2))
	checkUnreadableClass(t, err, root, "b", 2, "1.jpg")
}

// With AllClasses, a validation folder that lacks a folder for some of the
// given classes is refused by Open, naming the missing classes; without it
// such a folder is accepted (TestOpenExplicitClasses).
func TestOpenAllClasses(t *testing.T) {
	dir := t.TempDir()
	writeSmallImages(t, dir, "train/ant/1.png", "train/bee/1.png", "train/cat/1.png", "val/bee/1.png", "val/cat/1.png", "full/ant/1.png", "full/bee/1.png", "full/cat/1.png")
	train := open(t, filepath.Join(dir, "train"), imagefolder.Options{})
	_, err := imagefolder.Open(filepath.Join(dir, "val"), imagefolder.Options{Classes: train.Classes(), AllClasses: true})
	var fe *datasets.FileError
	if !errors.Is(err, datasets.ErrNotFound) || !errors.As(err, &fe) || fe.Path != filepath.Join(dir, "val", "ant") ||
		!strings.Contains(err.Error(), `no folder for class "ant"`) || !strings.Contains(err.Error(), "1 of the 3 given classes missing") {
		t.Errorf("val/ without ant: %v", err)
	}
	t.Log(err)
	_, err = imagefolder.Open(filepath.Join(dir, "val"), imagefolder.Options{Classes: []string{"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis"}, AllClasses: true})
	if err == nil || !strings.Contains(err.Error(), `"ant", "dog", "eel", "fox", "gnu" and 2 more`) || !strings.Contains(err.Error(), "7 of the 9") {
		t.Errorf("val/ without 7 classes: %v", err)
	}
	if f, err := imagefolder.Open(filepath.Join(dir, "full"), imagefolder.Options{Classes: train.Classes(), AllClasses: true}); err != nil || f.Len() != 3 {
		t.Errorf("complete folder: %v", err)
	}
}
