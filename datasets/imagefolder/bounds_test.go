package imagefolder_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/binnet/binnet/datasets/imagefolder"
)

// TestOpenBoundsSizes: Size, ResizeSize, Workers and MaxPixels out of
// range are refused by Open, naming the field, before anything is
// allocated for them (a Size of 1<<32 overflowed the example shape's
// product to 0 and then allocated 32 GiB).
func TestOpenBoundsSizes(t *testing.T) {
	root := t.TempDir()
	writeSmallImages(t, root, "a/x.png", "b/y.png")
	for _, c := range []struct {
		name string
		o    imagefolder.Options
		want string
	}{
		{"Size 1<<32", imagefolder.Options{Size: 1 << 32}, "imagefolder: Size 4294967296: want at most 32768"},
		{"Size MaxInt/100", imagefolder.Options{Size: 1<<63/100 - 1}, "imagefolder: Size 92233720368547757: want at most 32768"},
		{"Size over MaxPixels", imagefolder.Options{Size: 8193}, "imagefolder: Size 8193: 8193×8193 is more than MaxPixels 67108864"},
		{"Size over a given MaxPixels", imagefolder.Options{Size: 32, MaxPixels: 1000}, "imagefolder: Size 32: 32×32 is more than MaxPixels 1000"},
		{"Size negative", imagefolder.Options{Size: -1}, "imagefolder: Size -1: want > 0"},
		{"default ResizeSize too large", imagefolder.Options{Size: 8192},
			"imagefolder: ResizeSize 9362: 9362×9362 is more than MaxPixels 67108864 (the default for Size 8192, Size*256/224)"},
		{"ResizeSize too large", imagefolder.Options{Size: 32, ResizeSize: 1 << 40}, "imagefolder: ResizeSize 1099511627776: want at most 32768"},
		{"ResizeSize too small", imagefolder.Options{Size: 32, ResizeSize: 16}, "imagefolder: ResizeSize 16 is smaller than Size 32"},
		{"Workers negative", imagefolder.Options{Size: 32, Workers: -1}, "imagefolder: Workers -1: want >= 0 (0: one per CPU)"},
		{"MaxPixels negative", imagefolder.Options{Size: 32, MaxPixels: -5}, "imagefolder: MaxPixels -5: want >= 0 (0: DefaultMaxPixels)"},
	} {
		if f, err := imagefolder.Open(root, c.o); err == nil || err.Error() != c.want {
			t.Errorf("%s: Open = %v, %v; want %q", c.name, f, err, c.want)
		}
	}
	// The largest sizes the default MaxPixels allows, and a larger
	// MaxPixels for a larger Size.
	for _, o := range []imagefolder.Options{{Size: 7168}, {Size: 8192, ResizeSize: 8192}, {Size: 9000, MaxPixels: 1 << 27}} {
		f, err := imagefolder.Open(root, o)
		if err != nil {
			t.Errorf("Open with %+v: %v", o, err)
			continue
		}
		if s := f.ExampleShape(); s[0] != o.Size || s[1] != o.Size || s[2] != 3 {
			t.Errorf("Open with %+v: example shape %v", o, s)
		}
	}
}

// TestWriteFromGrayBounds: an output or source size beyond what Open
// decodes is refused before any folder is made (a width and height of 1<<20
// tried to allocate 1 TiB and left class folders behind).
func TestWriteFromGrayBounds(t *testing.T) {
	images, labels := digits(t, 2, 1)
	classes := []string{"zero", "one"}
	for _, c := range []struct {
		name       string
		rows, cols int
		images     []uint8
		o          imagefolder.WriteOptions
		want       string
	}{
		{"huge output", 28, 28, images, imagefolder.WriteOptions{Width: 1 << 20, Height: 1 << 20},
			"imagefolder: WriteFromGray: size 1048576×1048576 is more than the 67108864 pixels Open decodes (DefaultMaxPixels)"},
		{"huge width", 28, 28, images, imagefolder.WriteOptions{Width: 1 << 40},
			"imagefolder: WriteFromGray: size 1099511627776×28 is more than the 67108864 pixels Open decodes (DefaultMaxPixels)"},
		{"one pixel over", 28, 28, images, imagefolder.WriteOptions{Width: 8192, Height: 8193},
			"imagefolder: WriteFromGray: size 8192×8193 is more than the 67108864 pixels Open decodes (DefaultMaxPixels)"},
		{"huge source", 1 << 40, 1 << 40, images, imagefolder.WriteOptions{},
			"imagefolder: WriteFromGray: images of 1099511627776×1099511627776 pixels: more than the 67108864 pixels Open decodes"},
		{"source bytes short", 28, 28, images[:len(images)-1], imagefolder.WriteOptions{},
			"imagefolder: WriteFromGray: 1567 bytes of images for 2 labels of 28×28 images"},
	} {
		root := filepath.Join(t.TempDir(), "out")
		err := imagefolder.WriteFromGray(root, classes, c.rows, c.cols, c.images, labels, c.o)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: WriteFromGray = %v, want %q", c.name, err, c.want)
		}
		if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s made (or %v) by a refused write", c.name, root, err)
		}
	}
}
