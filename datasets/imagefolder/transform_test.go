package imagefolder_test

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/binnet/binnet/datasets/imagefolder"
)

// The evaluation transform of a solid-colour JPEG gives the normalized
// colour everywhere, for both defaults (ImageNet normalization) and a
// custom normalization; the training transforms too.
func TestSolidColor(t *testing.T) {
	root := t.TempDir()
	rgb := [3]uint8{200, 100, 50}
	writeImage(t, filepath.Join(root, "c", "solid.JPEG"), pattern(53, 37, func(x, y int) (uint8, uint8, uint8) { return rgb[0], rgb[1], rgb[2] }))
	for _, o := range []imagefolder.Options{
		{Size: 16, ResizeSize: 20},
		{Size: 16, ResizeSize: 20, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.25, 2}},
		{Size: 16, ResizeSize: 20, Train: imagefolder.ResizeRandomCrop},
	} {
		f := open(t, root, o)
		mean, std := f.Options().Mean, f.Options().Std
		if o.Std == [3]float32{} && (mean != imagefolder.ImageNetMean || std != imagefolder.ImageNetStd) {
			t.Fatalf("default normalization %v %v", mean, std)
		}
		for _, rng := range []*rand.Rand{nil, rand.New(rand.NewPCG(1, 2))} {
			x, _ := batch(t, f, []int{0, 0}, rng)
			for i, v := range x {
				c := i % 3
				want := (float64(rgb[c])/255 - float64(mean[c])) / float64(std[c])
				// JPEG keeps a flat colour within a couple of levels.
				if d := math.Abs(float64(v) - want); d > 2.5/255/float64(std[c]) {
					t.Fatalf("%+v rng=%v: value %d (channel %d) = %.4f, want %.4f", o, rng != nil, i, c, v, want)
				}
			}
		}
	}
}

// Resize to the image's own shorter side and centre crop: the example is
// exactly the centre pixels (PNG is lossless), with R, G, B in order.
func TestCenterCropExact(t *testing.T) {
	root := t.TempDir()
	px := func(x, y int) (uint8, uint8, uint8) { return uint8(20*x + 10), uint8(30*y + 5), uint8(250 - 20*x) }
	writeImage(t, filepath.Join(root, "c", "p.png"), pattern(8, 6, px))
	f := open(t, root, imagefolder.Options{Size: 4, ResizeSize: 6, Mean: unitNorm.Mean, Std: unitNorm.Std})
	x, _ := batch(t, f, []int{0}, nil)
	// 8×6 resized to 8×6, then top = round((6-4)/2) = 1, left = round((8-4)/2) = 2.
	for oy := range 4 {
		for ox := range 4 {
			r, g, b := px(ox+2, oy+1)
			want := []float32{float32(r) / 255, float32(g) / 255, float32(b) / 255}
			got := x[(oy*4+ox)*3 : (oy*4+ox)*3+3]
			if maxAbsDiff(got, want) > 1e-6 {
				t.Fatalf("pixel (%d, %d) = %v, want %v", ox, oy, got, want)
			}
		}
	}
}

// Shrinking by 2 averages with the widened triangle filter (weights 1/8,
// 3/8, 3/8, 1/8): a linear ramp stays exactly linear, and the centre crop
// is taken in the resized image.
func TestResizeCropRamp(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "c", "ramp.png"), pattern(16, 12, func(x, y int) (uint8, uint8, uint8) { return uint8(10 * x), uint8(15 * y), 77 }))
	f := open(t, root, imagefolder.Options{Size: 4, ResizeSize: 6, Mean: unitNorm.Mean, Std: unitNorm.Std})
	x, _ := batch(t, f, []int{0}, nil)
	// Resized to 8×6; centre crop top 1, left 2. Resized pixel k covers
	// source pixels 2k and 2k+1, centre 2k+1; the ramp value there is
	// 10*(2k+0.5).
	for oy := range 4 {
		for ox := range 4 {
			want := []float32{10 * (2*float32(ox+2) + 0.5) / 255, 15 * (2*float32(oy+1) + 0.5) / 255, 77.0 / 255}
			got := x[(oy*4+ox)*3 : (oy*4+ox)*3+3]
			if maxAbsDiff(got, want) > 1e-5 {
				t.Fatalf("pixel (%d, %d) = %v, want %v", ox, oy, got, want)
			}
		}
	}
}

// ResizeRandomCrop on an image already at ResizeSize: every example is
// exactly some Size×Size window, maybe mirrored; several windows and both
// flips occur; evaluation never flips.
func TestRandomCropAndFlip(t *testing.T) {
	root := t.TempDir()
	px := func(x, y int) (uint8, uint8, uint8) { return uint8(30 * x), uint8(30 * y), 7 }
	writeImage(t, filepath.Join(root, "c", "p.png"), pattern(8, 8, px))
	// Left half black, right half white.
	writeImage(t, filepath.Join(root, "c", "q.png"), pattern(6, 6, func(x, y int) (uint8, uint8, uint8) {
		if x < 3 {
			return 0, 0, 0
		}
		return 255, 255, 255
	}))
	f := open(t, root, imagefolder.Options{Size: 4, ResizeSize: 8, Train: imagefolder.ResizeRandomCrop, Mean: unitNorm.Mean, Std: unitNorm.Std})
	const n = 64
	x, _ := batch(t, f, make([]int, n), rand.New(rand.NewPCG(3, 4)))
	offsets := map[[2]int]bool{}
	flips := 0
	for k := range n {
		ex := x[k*48 : (k+1)*48]
		// The first output pixel is the window's top-left, or top-right if
		// mirrored; G gives the top.
		top := int(math.Round(float64(ex[1]) * 255 / 30))
		matches := func(left int, flip bool) bool {
			for oy := range 4 {
				for ox := range 4 {
					sx := left + ox
					if flip {
						sx = left + 3 - ox
					}
					if sx > 7 || top+oy > 7 {
						return false
					}
					r, g, b := px(sx, top+oy)
					if maxAbsDiff(ex[(oy*4+ox)*3:(oy*4+ox)*3+3], []float32{float32(r) / 255, float32(g) / 255, float32(b) / 255}) > 1e-6 {
						return false
					}
				}
			}
			return true
		}
		found := false
		for left := range 5 {
			for _, flip := range []bool{false, true} {
				if matches(left, flip) {
					found = true
					offsets[[2]int{top, left}] = true
					if flip {
						flips++
					}
				}
			}
		}
		if !found {
			t.Fatalf("example %d is not a 4×4 window of the source: %v", k, ex)
		}
	}
	if len(offsets) < 10 || flips < n/4 || flips > 3*n/4 {
		t.Errorf("%d distinct windows of 25, %d of %d flipped", len(offsets), flips, n)
	}

	// The half black, half white image, kept whole (6×6 from 6×6): a
	// flipped example is white on the left.
	g := open(t, root, imagefolder.Options{Size: 6, ResizeSize: 6, Train: imagefolder.ResizeRandomCrop, Mean: unitNorm.Mean, Std: unitNorm.Std})
	side := func(ex []float32) (left, right float32) { return ex[0], ex[5*3] }
	xe, _ := batch(t, g, []int{1, 1, 1}, nil)
	for k := range 3 {
		if l, r := side(xe[k*108:]); l != 0 || r != 1 {
			t.Fatalf("evaluation example %d: left %v right %v, want 0 and 1", k, l, r)
		}
	}
	flipped := 0
	xt, _ := batch(t, g, slices.Repeat([]int{1}, 32), rand.New(rand.NewPCG(5, 6)))
	for k := range 32 {
		switch l, r := side(xt[k*108:]); {
		case l == 0 && r == 1:
		case l == 1 && r == 0:
			flipped++
		default:
			t.Fatalf("training example %d: left %v right %v", k, l, r)
		}
	}
	if flipped == 0 || flipped == 32 {
		t.Errorf("%d of 32 flipped", flipped)
	}
}

// Same seed, same batch, whatever the number of workers; another seed or
// the evaluation transform give another batch.
func TestDeterminism(t *testing.T) {
	root, _, _ := digitFolder(t, 3, 8, 48, imagefolder.WriteOptions{RGB: true})
	idx := []int{5, 0, 23, 7, 7, 12, 19, 2, 16, 9}
	for _, tr := range []imagefolder.TrainTransform{imagefolder.RandomResizedCrop, imagefolder.ResizeRandomCrop} {
		var ref []float32
		for _, workers := range []int{1, 4, 1, 3} {
			f := open(t, root, imagefolder.Options{Size: 32, ResizeSize: 36, Train: tr, Workers: workers})
			rng := rand.New(rand.NewPCG(11, 12))
			x, y := batch(t, f, idx, rng)
			for k, i := range idx {
				if y[k] != int32(f.Label(i)) {
					t.Fatalf("y[%d] = %d, want %d", k, y[k], f.Label(i))
				}
			}
			if ref == nil {
				ref = x
				x2, _ := batch(t, f, idx, rng) // the rng moved on
				if slices.Equal(x, x2) {
					t.Errorf("%v: two batches in a row are equal", tr)
				}
				x3, _ := batch(t, f, idx, rand.New(rand.NewPCG(11, 13)))
				if slices.Equal(x, x3) {
					t.Errorf("%v: another seed gives the same batch", tr)
				}
				e1, _ := batch(t, f, idx, nil)
				e2, _ := batch(t, f, idx, nil)
				if !slices.Equal(e1, e2) || slices.Equal(e1, x) {
					t.Errorf("%v: evaluation batches differ or equal the training one", tr)
				}
			} else if !slices.Equal(x, ref) {
				t.Fatalf("%v: Workers=%d gives another batch than Workers=1 (max diff %g)", tr, workers, maxAbsDiff(x, ref))
			}
		}
	}
}

// Grayscale, paletted, 16-bit and alpha PNGs are converted to RGB.
func TestPixelFormats(t *testing.T) {
	root := t.TempDir()
	rect := image.Rect(0, 0, 6, 6)
	gray := image.NewGray(rect)
	gray16 := image.NewGray16(rect)
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 150, 100, 255}})
	nrgba := image.NewNRGBA(rect)
	rgba64 := image.NewRGBA64(rect)
	for y := range 6 {
		for x := range 6 {
			gray.SetGray(x, y, color.Gray{Y: 90})
			gray16.SetGray16(x, y, color.Gray16{Y: 0x5a00})
			pal.SetColorIndex(x, y, 1)
			nrgba.SetNRGBA(x, y, color.NRGBA{R: 40, G: 50, B: 60, A: 128})
			rgba64.SetRGBA64(x, y, color.RGBA64{R: 0x1000, G: 0x8000, B: 0xff00, A: 0xffff})
		}
	}
	want := map[string][3]uint8{
		"a_gray.png":   {90, 90, 90},
		"b_gray.JPEG":  {90, 90, 90},
		"c_gray16.png": {90, 90, 90},
		"d_pal.png":    {200, 150, 100},
		"e_nrgba.png":  {40, 50, 60}, // alpha dropped, colour kept
		"f_rgb64.png":  {0x10, 0x80, 0xff},
	}
	imgs := map[string]image.Image{"a_gray.png": gray, "b_gray.JPEG": gray, "c_gray16.png": gray16, "d_pal.png": pal, "e_nrgba.png": nrgba, "f_rgb64.png": rgba64}
	var names []string
	for name, img := range imgs {
		writeImage(t, filepath.Join(root, "c", name), img)
		names = append(names, name)
	}
	slices.Sort(names)
	f := open(t, root, imagefolder.Options{Size: 4, ResizeSize: 5, Mean: unitNorm.Mean, Std: unitNorm.Std})
	x, _ := batch(t, f, seq(len(names)), nil)
	for k, name := range names {
		for i, v := range x[k*48 : (k+1)*48] {
			if w := float32(want[name][i%3]) / 255; math.Abs(float64(v-w)) > 1.5/255 {
				t.Fatalf("%s: value %d = %v, want %v", name, i, v*255, w*255)
			}
		}
	}
	if s := f.Skipped(); len(s) != 0 {
		t.Errorf("skipped %v", s)
	}
}
