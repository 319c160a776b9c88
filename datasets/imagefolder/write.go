package imagefolder

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// WriteOptions configures [WriteFromGray].
type WriteOptions struct {
	// Width and Height are the size of the written images; the source
	// images are resized bilinearly to it. Zero means the source's cols
	// and rows.
	Width, Height int
	// RGB writes three-channel images (a colour JPEG, an RGB PNG) with
	// equal channels instead of one-channel grayscale ones.
	RGB bool
	// PNG writes lossless PNG files (".png") instead of JPEG files
	// (".JPEG").
	PNG bool
	// Quality is the JPEG quality, 1 to 100 (default 90).
	Quality int
}

// WriteFromGray writes grayscale images, such as those of a
// [github.com/binnet/binnet/datasets.Set] (MNIST, Fashion-MNIST), as a
// class-folder tree under root that [Open] reads: image i goes to
// root/classes[labels[i]]/NNNNNN.JPEG (or .png), NNNNNN being i with six or
// more digits. images holds len(labels) images of rows×cols bytes, row-major.
// Folders are created as needed, and only for classes with at least one
// image; existing files are overwritten. The source and written images may
// have at most DefaultMaxPixels pixels (what Open decodes); every argument is
// checked before anything is written.
func WriteFromGray(root string, classes []string, rows, cols int, images, labels []uint8, opts WriteOptions) error {
	if rows <= 0 || cols <= 0 {
		return fmt.Errorf("imagefolder: WriteFromGray: images of %d×%d pixels", cols, rows)
	}
	if rows > DefaultMaxPixels/cols {
		return fmt.Errorf("imagefolder: WriteFromGray: images of %d×%d pixels: more than the %d pixels Open decodes", cols, rows, DefaultMaxPixels)
	}
	if len(images)/(rows*cols) != len(labels) || len(images)%(rows*cols) != 0 {
		return fmt.Errorf("imagefolder: WriteFromGray: %d bytes of images for %d labels of %d×%d images", len(images), len(labels), cols, rows)
	}
	seen := map[string]bool{}
	for _, c := range classes {
		if c == "" || strings.HasPrefix(c, ".") || strings.ContainsAny(c, `/\`) || seen[c] {
			return fmt.Errorf("imagefolder: WriteFromGray: class name %q is empty, starts with \".\", contains a path separator or is repeated", c)
		}
		seen[c] = true
	}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return fmt.Errorf("imagefolder: WriteFromGray: label %d of image %d: only %d classes", l, i, len(classes))
		}
	}
	w, h := opts.Width, opts.Height
	if w == 0 {
		w = cols
	}
	if h == 0 {
		h = rows
	}
	q := opts.Quality
	if q == 0 {
		q = 90
	}
	if w < 0 || h < 0 || q < 1 || q > 100 {
		return fmt.Errorf("imagefolder: WriteFromGray: size %d×%d, quality %d", w, h, q)
	}
	// Checked before any folder is made: Open would skip a larger image as
	// corrupt, and resizing to it would allocate w×h pixels per worker.
	if w > 0 && h > DefaultMaxPixels/w {
		return fmt.Errorf("imagefolder: WriteFromGray: size %d×%d is more than the %d pixels Open decodes (DefaultMaxPixels)", w, h, DefaultMaxPixels)
	}
	ext := ".JPEG"
	if opts.PNG {
		ext = ".png"
	}
	made := map[uint8]bool{}
	for _, l := range labels {
		if !made[l] {
			if err := os.MkdirAll(filepath.Join(root, classes[l]), 0o755); err != nil {
				return err
			}
			made[l] = true
		}
	}

	var (
		next int
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(runtime.NumCPU(), len(labels)) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= len(labels) || len(errs) > 0
				mu.Unlock()
				if stop {
					return
				}
				path := filepath.Join(root, classes[labels[i]], fmt.Sprintf("%06d%s", i, ext))
				img := grayImage(images[i*rows*cols:(i+1)*rows*cols], rows, cols, w, h, opts.RGB)
				if err := writeImage(path, img, opts.PNG, q); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// grayImage returns the rows×cols grayscale pixels src resized bilinearly
// to w×h (pixel centres aligned, edges clamped), as an *image.Gray, or an
// *image.RGBA with equal channels if rgb.
func grayImage(src []uint8, rows, cols, w, h int, rgb bool) image.Image {
	px := make([]uint8, w*h)
	if w == cols && h == rows {
		copy(px, src)
	} else {
		fx, fy := float64(cols)/float64(w), float64(rows)/float64(h)
		for y := range h {
			sy := max((float64(y)+0.5)*fy-0.5, 0)
			y0 := min(int(sy), rows-1)
			y1 := min(y0+1, rows-1)
			ty := sy - float64(y0)
			for x := range w {
				sx := max((float64(x)+0.5)*fx-0.5, 0)
				x0 := min(int(sx), cols-1)
				x1 := min(x0+1, cols-1)
				tx := sx - float64(x0)
				top := float64(src[y0*cols+x0])*(1-tx) + float64(src[y0*cols+x1])*tx
				bot := float64(src[y1*cols+x0])*(1-tx) + float64(src[y1*cols+x1])*tx
				px[y*w+x] = uint8(top*(1-ty) + bot*ty + 0.5)
			}
		}
	}
	if !rgb {
		return &image.Gray{Pix: px, Stride: w, Rect: image.Rect(0, 0, w, h)}
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range px {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = v, v, v, 255
	}
	return m
}

// writeImage writes img to path as PNG or as JPEG of the given quality.
func writeImage(path string, img image.Image, asPNG bool, quality int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if asPNG {
		err = png.Encode(bw, img)
	} else {
		err = jpeg.Encode(bw, img, &jpeg.Options{Quality: quality})
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("imagefolder: WriteFromGray: %s: %w", path, err)
	}
	return nil
}
