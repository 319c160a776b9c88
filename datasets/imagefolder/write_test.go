package imagefolder_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/binnet/binnet/datasets/imagefolder"
)

// PNG without resizing keeps the digits exactly; JPEG files are grayscale or
// colour as asked, at the asked size; bad arguments are refused.
func TestWriteFromGray(t *testing.T) {
	images, labels := digits(t, 2, 2) // labels 0 0 1 1
	root := t.TempDir()
	if err := imagefolder.WriteFromGray(root, []string{"zero", "one", "unused"}, 28, 28, images, labels, imagefolder.WriteOptions{PNG: true}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"zero/000000.png", "zero/000001.png", "one/000002.png", "one/000003.png"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		g, ok := img.(*image.Gray)
		if !ok || !bytes.Equal(g.Pix, images[i*784:(i+1)*784]) {
			t.Errorf("%s: %T, not the source digit", name, img)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "unused")); !os.IsNotExist(err) {
		t.Errorf("folder of a class without images: %v", err)
	}

	for _, rgb := range []bool{false, true} {
		root := t.TempDir()
		if err := imagefolder.WriteFromGray(root, []string{"a", "b"}, 28, 28, images, labels, imagefolder.WriteOptions{Width: 50, Height: 30, RGB: rgb}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(root, "b", "000003.JPEG"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		_, gray := img.(*image.Gray)
		if img.Bounds() != image.Rect(0, 0, 50, 30) || gray == rgb {
			t.Errorf("RGB %v: %T %v", rgb, img, img.Bounds())
		}
	}

	for name, call := range map[string]func() error{
		"label out of range": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a"}, 28, 28, images, labels, imagefolder.WriteOptions{})
		},
		"size mismatch": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a", "b"}, 28, 27, images, labels, imagefolder.WriteOptions{})
		},
		"class with slash": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a", "b/c"}, 28, 28, images, labels, imagefolder.WriteOptions{})
		},
		"hidden class": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a", ".b"}, 28, 28, images, labels, imagefolder.WriteOptions{})
		},
		"repeated class": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a", "a"}, 28, 28, images, labels, imagefolder.WriteOptions{})
		},
		"quality": func() error {
			return imagefolder.WriteFromGray(t.TempDir(), []string{"a", "b"}, 28, 28, images, labels, imagefolder.WriteOptions{Quality: 101})
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
