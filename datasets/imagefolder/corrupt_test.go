package imagefolder_test

import (
	"errors"
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

// A class whose files are all unreadable is replaced by the next class,
// with its label; a folder of only unreadable files makes Batch fail.
func TestUnreadableClassAndFolder(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"a/1.jpg", "a/2.png", "c/1.jpg"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\xff\xd8\xff garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeDigit(t, filepath.Join(root, "b", "1.jpg"), 3)
	f := open(t, root, imagefolder.Options{Size: 8, ResizeSize: 8, Workers: 3})
	x, y := batch(t, f, []int{3, 0, 1, 2}, nil)
	if want := []int32{1, 1, 1, 1}; !slices.Equal(y, want) { // all replaced by b/1.jpg
		t.Errorf("labels %v, want %v", y, want)
	}
	// Files 0 and 1 (class a) are replaced by file 2, the only readable
	// one; file 3 (class c) by the next file after its class, cyclically:
	// 0, 1 unreadable, then 2.
	for k := range 4 {
		if !slices.Equal(example(x, k, 192), example(x, 3, 192)) {
			t.Errorf("example %d is not file 2", k)
		}
	}
	if s := f.Skipped(); len(s) != 3 {
		t.Errorf("Skipped() = %v, want 3", s)
	}

	bad := t.TempDir()
	for _, name := range []string{"a/1.jpg", "b/1.jpg"} {
		p := filepath.Join(bad, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("nope"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := open(t, bad, imagefolder.Options{Size: 8, ResizeSize: 8})
	err := g.Batch([]int{1}, nil, make([]float32, 192), make([]int32, 1))
	if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "none of the 2 files") {
		t.Errorf("all unreadable: %v", err)
	}
}
