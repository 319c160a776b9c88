package imagefolder_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// A folder of real MNIST digits: the files, classes and labels are listed
// as written, and each evaluation example is its own digit.
func TestOpenMNIST(t *testing.T) {
	for _, rgb := range []bool{false, true} {
		root, images, labels := digitFolder(t, 3, 20, 40, imagefolder.WriteOptions{RGB: rgb})
		f := open(t, root, imagefolder.Options{Size: 28, ResizeSize: 28, Mean: unitNorm.Mean, Std: unitNorm.Std, Workers: 2})
		if f.Len() != 60 {
			t.Fatalf("Len() = %d, want 60", f.Len())
		}
		if got, want := f.Classes(), []string{"digit0", "digit1", "digit2"}; !slices.Equal(got, want) {
			t.Fatalf("Classes() = %q, want %q", got, want)
		}
		if got := f.ExampleShape(); !slices.Equal(got, []int{28, 28, 3}) {
			t.Fatalf("ExampleShape() = %v", got)
		}
		if f.String() != root {
			t.Errorf("String() = %q, want %q", f, root)
		}
		for i := range f.Len() {
			// digits() groups by class and WriteFromGray numbers files by
			// input index, so file order is input order.
			wantPath := filepath.Join(root, f.Classes()[labels[i]], fmt.Sprintf("%06d.JPEG", i))
			if f.Label(i) != int(labels[i]) || f.Path(i) != wantPath {
				t.Fatalf("file %d: %s label %d, want %s label %d", i, f.Path(i), f.Label(i), wantPath, labels[i])
			}
		}
		if from, to := f.ClassRange(1); from != 20 || to != 40 {
			t.Errorf("ClassRange(1) = %d, %d", from, to)
		}
		// The fingerprint names the files, not where the tree is: the same
		// files elsewhere match, one more file or another size does not.
		fp := f.Fingerprint()
		if !strings.HasPrefix(fp, "60 files of 3 classes, names crc32c ") || !strings.HasSuffix(fp, ", 28x28") {
			t.Errorf("Fingerprint() = %q", fp)
		}
		copyRoot := t.TempDir()
		if err := os.CopyFS(copyRoot, os.DirFS(root)); err != nil {
			t.Fatal(err)
		}
		if got := open(t, copyRoot, imagefolder.Options{Size: 28, ResizeSize: 28}).Fingerprint(); got != fp {
			t.Errorf("a copy of the tree: %q, want %q", got, fp)
		}
		if got := open(t, root, imagefolder.Options{Size: 24, ResizeSize: 28}).Fingerprint(); got == fp {
			t.Error("the fingerprint does not change with the example size")
		}
		extra, err := os.ReadFile(f.Path(0))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyRoot, f.Classes()[0], "extra.JPEG"), extra, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := open(t, copyRoot, imagefolder.Options{Size: 28, ResizeSize: 28}).Fingerprint(); got == fp {
			t.Error("the fingerprint does not change with one more file")
		}

		x, y := batch(t, f, seq(60), nil)
		for i := range 60 {
			if y[i] != int32(labels[i]) {
				t.Fatalf("y[%d] = %d, want %d", i, y[i], labels[i])
			}
		}
		// Each example, back to gray, is closest to its own source digit.
		const n = 28 * 28
		gray := func(k int) []float64 {
			g := make([]float64, n)
			for p := range n {
				r, gg, b := x[k*n*3+3*p], x[k*n*3+3*p+1], x[k*n*3+3*p+2]
				if d := max(math.Abs(float64(r-gg)), math.Abs(float64(r-b))); d > 3.0/255 {
					t.Fatalf("example %d pixel %d: channels %v %v %v differ", k, p, r, gg, b)
				}
				g[p] = float64(r) * 255
			}
			return g
		}
		dist := func(g []float64, j int) float64 {
			s := 0.0
			for p := range n {
				s += math.Abs(g[p] - float64(images[j*n+p]))
			}
			return s / n
		}
		worst := 0.0
		for k := range 60 {
			g := gray(k)
			own := dist(g, k)
			worst = max(worst, own)
			for j := range 60 {
				if j != k && dist(g, j) <= own {
					t.Fatalf("rgb=%v: example %d is as close to digit %d (%.1f) as to its own (%.1f)", rgb, k, j, dist(g, j), own)
				}
			}
		}
		if worst > 16 {
			t.Errorf("rgb=%v: mean absolute difference from the source digit up to %.1f/255", rgb, worst)
		}
		t.Logf("rgb=%v: mean absolute difference from the source 28×28 digit ≤ %.2f/255 (40×40 JPEG, resized back)", rgb, worst)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	img := pattern(4, 4, func(x, y int) (uint8, uint8, uint8) { return 1, 2, 3 })

	_, err := imagefolder.Open(filepath.Join(dir, "missing"), imagefolder.Options{})
	var fe *datasets.FileError
	if !errors.Is(err, datasets.ErrNotFound) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing root: %v", err)
	}

	noClasses := filepath.Join(dir, "noclasses")
	writeImage(t, filepath.Join(noClasses, "loose.png"), img)
	if err := os.Mkdir(filepath.Join(noClasses, ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := imagefolder.Open(noClasses, imagefolder.Options{}); !errors.Is(err, datasets.ErrNotFound) || !strings.Contains(err.Error(), "no class folders") {
		t.Errorf("no class folders: %v", err)
	}
	if _, err := imagefolder.Open(filepath.Join(noClasses, "loose.png"), imagefolder.Options{}); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("root is a file: %v", err)
	}

	emptyClass := filepath.Join(dir, "empty")
	writeImage(t, filepath.Join(emptyClass, "cat", "a.png"), img)
	if err := os.MkdirAll(filepath.Join(emptyClass, "dog", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(emptyClass, "dog", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = imagefolder.Open(emptyClass, imagefolder.Options{})
	if !errors.Is(err, datasets.ErrNotFound) || !strings.Contains(err.Error(), `"dog"`) {
		t.Errorf("empty class: %v", err)
	}

	for _, o := range []imagefolder.Options{
		{Size: -1},
		{Size: 32, ResizeSize: 16},
		{Train: 7},
		{Scale: [2]float64{0.5, 0.1}},
		{Ratio: [2]float64{0, 1}},
		{Std: [3]float32{1, 0, 1}},
		{Classes: []string{"cat", "cat"}},
		{Classes: []string{"a/b"}},
	} {
		if _, err := imagefolder.Open(emptyClass, o); err == nil || errors.Is(err, datasets.ErrNotFound) {
			t.Errorf("Open with %+v: %v, want an options error", o, err)
		}
	}
}

// Extensions in any case are accepted, other files and hidden ones are
// not, and files are sorted by name.
func TestOpenFiles(t *testing.T) {
	root := t.TempDir()
	img := pattern(4, 4, func(x, y int) (uint8, uint8, uint8) { return 1, 2, 3 })
	for _, name := range []string{"b.JPEG", "a.jpg", "c.PNG", "d.Jpeg", "e.png"} {
		writeImage(t, filepath.Join(root, "z", name), img)
	}
	writeImage(t, filepath.Join(root, "y", "only.jpeg"), img)
	for _, name := range []string{"z/readme.txt", "z/x.gif", "z/._a.jpg", "z/sub/f.jpg", ".git/g.jpg"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := open(t, root, imagefolder.Options{})
	var got []string
	for i := range f.Len() {
		rel, _ := filepath.Rel(root, f.Path(i))
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{"y/only.jpeg", "z/a.jpg", "z/b.JPEG", "z/c.PNG", "z/d.Jpeg", "z/e.png"}
	if !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if c := f.Classes(); !slices.Equal(c, []string{"y", "z"}) {
		t.Errorf("Classes() = %q", c)
	}
}

// A validation folder opened with the training folder's classes uses its
// labels, and one with a class that training lacks is refused.
func TestOpenExplicitClasses(t *testing.T) {
	dir := t.TempDir()
	writeSmallImages(t, dir, "train/ant/1.png", "train/bee/1.png", "train/cat/1.png", "val/bee/1.png", "val/cat/1.png", "val/cat/2.png", "bad/cat/1.png", "bad/dog/1.png")
	train := open(t, filepath.Join(dir, "train"), imagefolder.Options{})
	val := open(t, filepath.Join(dir, "val"), imagefolder.Options{Classes: train.Classes()})
	if !slices.Equal(val.Classes(), []string{"ant", "bee", "cat"}) {
		t.Errorf("val.Classes() = %q", val.Classes())
	}
	var labels []int
	for i := range val.Len() {
		labels = append(labels, val.Label(i))
	}
	if !slices.Equal(labels, []int{1, 2, 2}) {
		t.Errorf("val labels %v, want [1 2 2]", labels)
	}
	_, y := batch(t, val, seq(3), nil)
	if !slices.Equal(y, []int32{1, 2, 2}) {
		t.Errorf("Batch labels %v, want [1 2 2]", y)
	}
	if from, to := val.ClassRange(0); from != 0 || to != 0 {
		t.Errorf("ClassRange(0) = %d, %d, want 0, 0", from, to)
	}

	_, err := imagefolder.Open(filepath.Join(dir, "bad"), imagefolder.Options{Classes: train.Classes()})
	var fe *datasets.FileError
	if !errors.Is(err, imagefolder.ErrUnknownClass) || !errors.As(err, &fe) || !strings.Contains(err.Error(), `"dog"`) {
		t.Errorf("unknown class: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "a", "1.png"), pattern(4, 4, func(x, y int) (uint8, uint8, uint8) { return 1, 2, 3 }))
	o := open(t, root, imagefolder.Options{}).Options()
	if o.Size != 224 || o.ResizeSize != 256 || o.Train != imagefolder.RandomResizedCrop || o.Scale != [2]float64{0.08, 1} ||
		o.Ratio != [2]float64{3.0 / 4, 4.0 / 3} || o.Mean != [3]float32{0.485, 0.456, 0.406} || o.Std != [3]float32{0.229, 0.224, 0.225} ||
		o.Workers < 1 || o.Name != root {
		t.Errorf("defaults %+v", o)
	}
	if o := open(t, root, imagefolder.Options{Size: 32}).Options(); o.ResizeSize != 36 {
		t.Errorf("Size 32: ResizeSize %d, want 36", o.ResizeSize)
	}
}

func TestBatchArguments(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "a", "1.png"), pattern(4, 4, func(x, y int) (uint8, uint8, uint8) { return 1, 2, 3 }))
	f := open(t, root, imagefolder.Options{Size: 2, ResizeSize: 2})
	for _, tc := range []struct {
		indices []int
		nx, ny  int
	}{
		{[]int{0}, 11, 1},
		{[]int{0}, 12, 2},
		{[]int{1}, 12, 1},
		{[]int{-1}, 12, 1},
	} {
		if err := f.Batch(tc.indices, nil, make([]float32, tc.nx), make([]int32, tc.ny)); err == nil {
			t.Errorf("Batch(%v, x[%d], y[%d]) succeeded", tc.indices, tc.nx, tc.ny)
		}
	}
	if err := f.Batch(nil, nil, nil, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}
