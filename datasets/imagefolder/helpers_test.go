package imagefolder_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// source is binnet/training's Source interface, repeated here so that the
// test checks that *Folder satisfies it without importing training.
type source interface {
	String() string
	Len() int
	ExampleShape() []int
	Batch(indices []int, rng *rand.Rand, x []float32, y []int32) error
}

var _ source = (*imagefolder.Folder)(nil)

var sample = sync.OnceValues(func() (*datasets.Set, error) {
	train, _, err := datasets.Sample()
	return train, err
})

// digits returns perClass MNIST images of each of the digits 0..classes-1
// from the embedded sample, grouped by digit, with labels 0..classes-1.
func digits(t testing.TB, classes, perClass int) (images, labels []uint8) {
	t.Helper()
	s, err := sample()
	if err != nil {
		t.Fatal(err)
	}
	count := make([]int, classes)
	for d := range classes {
		for i := range s.Len() {
			if int(s.Labels[i]) == d && count[d] < perClass {
				images = append(images, s.Image(i)...)
				labels = append(labels, uint8(d))
				count[d]++
			}
		}
	}
	return images, labels
}

// digitFolder writes classes×perClass MNIST digits, resized to size×size,
// under a new temporary folder, with classes named "digit0", "digit1", ...
// and returns the folder and the images' 28×28 sources in file order.
func digitFolder(t testing.TB, classes, perClass, size int, opts imagefolder.WriteOptions) (root string, images, labels []uint8) {
	t.Helper()
	images, labels = digits(t, classes, perClass)
	names := make([]string, classes)
	for i := range names {
		names[i] = fmt.Sprintf("digit%d", i)
	}
	root = t.TempDir()
	opts.Width, opts.Height = size, size
	if err := imagefolder.WriteFromGray(root, names, 28, 28, images, labels, opts); err != nil {
		t.Fatal(err)
	}
	return root, images, labels
}

// writeSmallImages writes one 4x4 image of a single color under dir at each
// relative path (class folder layouts for the tests of class handling).
func writeSmallImages(t testing.TB, dir string, paths ...string) {
	t.Helper()
	img := pattern(4, 4, func(x, y int) (uint8, uint8, uint8) { return 1, 2, 3 })
	for _, p := range paths {
		writeImage(t, filepath.Join(dir, p), img)
	}
}

// writeImage writes img to path as PNG (lossless) if the name ends in .png,
// else as JPEG of quality 95.
func writeImage(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var err error
	if filepath.Ext(path) == ".png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pattern returns a w×h NRGBA image whose pixel (x, y) is f(x, y).
func pattern(w, h int, f func(x, y int) (r, g, b uint8)) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			r, g, b := f(x, y)
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = r, g, b, 255
		}
	}
	return m
}

// open opens root or fails the test.
func open(t testing.TB, root string, opts imagefolder.Options) *imagefolder.Folder {
	t.Helper()
	f, err := imagefolder.Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// batch returns the examples and labels of indices.
func batch(t testing.TB, f *imagefolder.Folder, indices []int, rng *rand.Rand) ([]float32, []int32) {
	t.Helper()
	size := 1
	for _, d := range f.ExampleShape() {
		size *= d
	}
	x := make([]float32, len(indices)*size)
	y := make([]int32, len(indices))
	if err := f.Batch(indices, rng, x, y); err != nil {
		t.Fatal(err)
	}
	return x, y
}

// seq returns 0..n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// unitNorm scales pixels to [0, 1] only: x = pixel/255.
var unitNorm = struct{ Mean, Std [3]float32 }{[3]float32{}, [3]float32{1, 1, 1}}

// maxAbsDiff returns the largest |a[i]-b[i]|.
func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}
