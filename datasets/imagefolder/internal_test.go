package imagefolder

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResizedSize(t *testing.T) {
	for _, tc := range []struct{ w, h, s, rw, rh int }{
		{500, 375, 256, 341, 256}, // int(256*500/375) = int(341.33)
		{375, 500, 256, 256, 341},
		{256, 256, 256, 256, 256},
		{40, 30, 36, 48, 36},
		{3, 1000, 256, 256, 85333},
	} {
		if rw, rh := resizedSize(tc.w, tc.h, tc.s); rw != tc.rw || rh != tc.rh {
			t.Errorf("resizedSize(%d, %d, %d) = %d, %d, want %d, %d", tc.w, tc.h, tc.s, rw, rh, tc.rw, tc.rh)
		}
	}
}

// Centre crop offsets round half to even, as Python's round.
func TestCenterCropOffsets(t *testing.T) {
	o := Options{Size: 4, ResizeSize: 5}
	for _, tc := range []struct {
		w, h      int
		x0, y0    float64 // expected span starts, in source pixels
		xlo, xhi0 int
	}{
		{5, 5, 0, 0, 0, 5},   // (5-4)/2 = 0.5 rounds to 0
		{7, 5, 2, 0, 0, 7},   // (7-4)/2 = 1.5 rounds to 2
		{9, 5, 2, 0, 0, 9},   // 2.5 rounds to 2
		{10, 5, 3, 0, 0, 10}, // 3
	} {
		sx, sy := geometry(tc.w, tc.h, &o, nil)
		if sx.b0 != tc.x0 || sy.b0 != tc.y0 || sx.b1-sx.b0 != 4 || sy.b1-sy.b0 != 4 || sx.lo != tc.xlo || sx.hi != tc.xhi0 {
			t.Errorf("%d×%d: spans %+v %+v", tc.w, tc.h, sx, sy)
		}
	}
	// 500×375 → 341×256; crop 224: left round(58.5) = 58, top 16; the
	// spans are in source pixels (×375/256).
	o = Options{Size: 224, ResizeSize: 256}
	sx, sy := geometry(500, 375, &o, nil)
	scale := 500.0 / 341
	if math.Abs(sx.b0-58*scale) > 1e-9 || math.Abs(sx.b1-282*scale) > 1e-9 || math.Abs(sy.b0-16*375.0/256) > 1e-9 {
		t.Errorf("500×375: spans %+v %+v", sx, sy)
	}
}

// RandomResizedCrop: crops fit the image, have an area and aspect ratio in
// range (up to rounding), and cover the positions; impossible shapes fall
// back to the centred crop of the largest allowed aspect ratio.
func TestRandomResizedCrop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	var a augment
	fallbacks := 0
	for range 2000 {
		w, h := 50+rng.IntN(500), 50+rng.IntN(500)
		a.draw(RandomResizedCrop, rng)
		top, left, ch, cw := randomResizedCrop(w, h, scale, ratio, &a.u)
		if top < 0 || left < 0 || ch < 1 || cw < 1 || top+ch > h || left+cw > w {
			t.Fatalf("%d×%d: crop %d,%d %d×%d outside", w, h, left, top, cw, ch)
		}
		area := float64(cw*ch) / float64(w*h)
		ar := float64(cw) / float64(ch)
		if area < 0.07 || ar < 0.7 || ar > 1.4 {
			// Only the fallback may leave the area range; it keeps the
			// ratio in range.
			fallbacks++
			if ar < 0.7 || ar > 1.4 {
				t.Fatalf("%d×%d: crop %d×%d has aspect ratio %.3f", w, h, cw, ch, ar)
			}
		}
	}
	if fallbacks > 20 {
		t.Errorf("%d fallbacks of 2000", fallbacks)
	}
	// 1000×10: no crop of ratio ≤ 4/3 and area ≥ 8% fits; the fallback is
	// the centred 13×10 (round(10 * 4/3)).
	a.draw(RandomResizedCrop, rng)
	if top, left, ch, cw := randomResizedCrop(1000, 10, scale, ratio, &a.u); top != 0 || left != 493 || ch != 10 || cw != 13 {
		t.Errorf("1000×10: crop %d,%d %d×%d, want 493,0 13×10", left, top, cw, ch)
	}
	if top, left, ch, cw := randomResizedCrop(10, 1000, scale, ratio, &a.u); top != 493 || left != 0 || ch != 13 || cw != 10 {
		t.Errorf("10×1000: crop %d,%d %d×%d, want 0,493 10×13", left, top, cw, ch)
	}
	// Given uniforms: u = 0.5 for area and ratio of the first try gives
	// area 0.54 and ratio 1: a 0.54*100*100 square, round(sqrt(5400)) = 73.
	var u [4 * rrcAttempts]float64
	u[0], u[1], u[2], u[3] = 0.5, 0.5, 0.999, 0
	if top, left, ch, cw := randomResizedCrop(100, 100, scale, ratio, &u); cw != 73 || ch != 73 || top != 27 || left != 0 {
		t.Errorf("100×100, u=%v: crop %d,%d %d×%d, want 0,27 73×73", u[:4], left, top, cw, ch)
	}
}

// The filter weights sum to 1, fit in k, stay in [lo, hi), and are the
// identity when the scale is 1 and the crop is on pixel boundaries.
func TestTaps(t *testing.T) {
	var tp taps
	for _, tc := range []struct {
		sp span
		n  int
	}{
		{span{0, 10, 0, 10}, 10},
		{span{2.5, 9.75, 0, 12}, 3},
		{span{0, 500, 0, 500}, 7},
		{span{3, 5, 3, 5}, 224},
		{span{58 * 500.0 / 341, 282 * 500.0 / 341, 0, 500}, 224},
	} {
		tp.compute(tc.sp, tc.n)
		for o := range tc.n {
			sum := float32(0)
			if tp.count[o] < 1 || tp.count[o] > tp.k || tp.start[o] < tc.sp.lo || tp.start[o]+tp.count[o] > tc.sp.hi {
				t.Fatalf("%+v n=%d: output %d has taps %d+%d (k=%d)", tc.sp, tc.n, o, tp.start[o], tp.count[o], tp.k)
			}
			for _, v := range tp.w[o*tp.k : o*tp.k+tp.count[o]] {
				if !(v > 0) {
					t.Fatalf("%+v: weight %v", tc.sp, v)
				}
				sum += v
			}
			if math.Abs(float64(sum)-1) > 1e-6 {
				t.Fatalf("%+v: weights of output %d sum to %v", tc.sp, o, sum)
			}
		}
	}
	tp.compute(span{3, 7, 0, 10}, 4)
	for o := range 4 {
		if tp.start[o] != 3+o || tp.count[o] != 1 || tp.w[o*tp.k] != 1 {
			t.Errorf("identity: output %d: taps %d+%d", o, tp.start[o], tp.count[o])
		}
	}
}

// toRGB of every pixel type matches the standard library's colour
// conversion (within rounding for YCbCr and CMYK).
func TestToRGB(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	r := image.Rect(0, 0, 13, 9)
	fill := func(b []uint8) {
		for i := range b {
			b[i] = uint8(rng.IntN(256))
		}
	}
	var imgs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(r, ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		imgs = append(imgs, m, m.SubImage(image.Rect(3, 1, 11, 8)))
	}
	gray, gray16, cmyk := image.NewGray(r), image.NewGray16(r), image.NewCMYK(r)
	nrgba, rgba, nrgba64, rgba64 := image.NewNRGBA(r), image.NewRGBA(r), image.NewNRGBA64(r), image.NewRGBA64(r)
	pal := image.NewPaletted(r, color.Palette{color.Black, color.RGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 128}})
	for _, b := range [][]uint8{gray.Pix, gray16.Pix, cmyk.Pix, nrgba.Pix, nrgba64.Pix, rgba64.Pix} {
		fill(b)
	}
	for i := 6; i < len(nrgba64.Pix); i += 8 {
		// Opaque: the library converts through premultiplied colour,
		// which loses the colour of nearly transparent pixels.
		nrgba64.Pix[i], nrgba64.Pix[i+1] = 0xff, 0xff
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(3))
	}
	for i := 0; i < len(rgba.Pix); i += 4 { // valid premultiplied colours
		a := uint8(rng.IntN(256))
		if i%8 == 0 {
			a = 255
		}
		rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2], rgba.Pix[i+3] = uint8(rng.IntN(int(a)+1)), uint8(rng.IntN(int(a)+1)), uint8(rng.IntN(int(a)+1)), a
	}
	imgs = append(imgs, gray, gray16, cmyk, nrgba, rgba, nrgba64, rgba64, pal, cmyk.SubImage(image.Rect(2, 2, 5, 7)),
		image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420))
	var w worker
	for _, img := range imgs {
		b := img.Bounds()
		tol := 0
		switch img.(type) {
		case *image.YCbCr, *image.CMYK, *image.RGBA:
			tol = 1
		}
		for _, win := range []image.Rectangle{image.Rect(0, 0, b.Dx(), b.Dy()), image.Rect(1, 2, b.Dx()-1, b.Dy()-1)} {
			w.toRGB(img, win.Min.X, win.Min.Y, win.Max.X, win.Max.Y)
			i := 0
			for y := win.Min.Y; y < win.Max.Y; y++ {
				for x := win.Min.X; x < win.Max.X; x++ {
					c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
					for ch, want := range []uint8{c.R, c.G, c.B} {
						if d := int(w.rgb[i+ch]) - int(want); d > tol || d < -tol {
							t.Fatalf("%T %v window %v: pixel (%d, %d) channel %d = %d, want %d", img, b, win, x, y, ch, w.rgb[i+ch], want)
						}
					}
					i += 3
				}
			}
		}
	}
}

// The Go distribution's JPEG test images (all chroma subsamplings,
// progressive, grayscale, CMYK, RGB) decode and convert like image.At.
func TestGoTestdataJPEGs(t *testing.T) {
	// The go command sets GOROOT for the tests it runs.
	goroot := os.Getenv("GOROOT")
	files, _ := filepath.Glob(filepath.Join(goroot, "src", "image", "testdata", "*.jpeg"))
	if goroot == "" || len(files) == 0 {
		t.Skipf("no $GOROOT/src/image/testdata/*.jpeg (GOROOT=%q)", goroot)
	}
	kinds := map[string]bool{}
	var w worker
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		img, err := decode(data, DefaultMaxPixels)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		kinds[typeName(img)] = true
		b := img.Bounds()
		w.toRGB(img, 0, 0, b.Dx(), b.Dy())
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				for ch, want := range []uint8{c.R, c.G, c.B} {
					if d := int(w.rgb[i+ch]) - int(want); d > 1 || d < -1 {
						t.Fatalf("%s: pixel (%d, %d) channel %d = %d, want %d", file, x, y, ch, w.rgb[i+ch], want)
					}
				}
				i += 3
			}
		}
	}
	t.Logf("%d files, pixel types %v", len(files), kinds)
	for _, k := range []string{"YCbCr", "Gray", "CMYK"} {
		if !kinds[k] {
			t.Errorf("no %s image among %d files", k, len(files))
		}
	}
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.YCbCr:
		return "YCbCr"
	case *image.Gray:
		return "Gray"
	case *image.CMYK:
		return "CMYK"
	case *image.RGBA:
		return "RGBA"
	}
	return "other"
}

// Headers declaring more than MaxPixels are refused before decoding.
func TestMaxPixels(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 100, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := decode(buf.Bytes(), 9999); err == nil || !strings.Contains(err.Error(), "100×100") {
		t.Errorf("PNG over MaxPixels: %v", err)
	}
	if _, err := decode(buf.Bytes(), 10000); err != nil {
		t.Errorf("PNG at MaxPixels: %v", err)
	}
}

// fuzzSeeds returns small valid and broken images.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	enc := func(img image.Image, asPNG bool) []byte {
		var buf bytes.Buffer
		if asPNG {
			png.Encode(&buf, img)
		} else {
			jpeg.Encode(&buf, img, &jpeg.Options{Quality: 50})
		}
		return buf.Bytes()
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 9, 7))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 37)
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 17))
	pal := image.NewPaletted(image.Rect(0, 0, 5, 5), color.Palette{color.White, color.Black})
	g16 := image.NewGray16(image.Rect(0, 0, 2, 2))
	j := enc(rgba, false)
	seeds = append(seeds, j, enc(gray, false), enc(rgba, true), enc(gray, true), enc(pal, true), enc(g16, true),
		j[:len(j)/2], []byte("not an image"), []byte{}, []byte{0xff, 0xd8}, []byte("\x89PNG\r\n\x1a\n"))
	return seeds
}

// FuzzDecodeTransform feeds arbitrary bytes through decoding, conversion to
// RGB and both transforms: no panic, and on success every value is the
// normalization of a 0..255 value.
func FuzzDecodeTransform(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(s, uint64(i), i%3)
	}
	opts, err := Options{Size: 5, ResizeSize: 7, MaxPixels: 1 << 20}.withDefaults()
	if err != nil {
		f.Fatal(err)
	}
	var mul, add [3]float32
	for c := range 3 {
		mul[c], add[c] = 1/(255*opts.Std[c]), -opts.Mean[c]/opts.Std[c]
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, mode int) {
		img, err := decode(data, opts.MaxPixels)
		if err != nil {
			if img != nil {
				t.Fatalf("error %v with an image", err)
			}
			return
		}
		o := opts
		var a *augment
		if mode%3 != 0 {
			a = new(augment)
			if mode%3 == 2 {
				o.Train = ResizeRandomCrop
			}
			a.draw(o.Train, rand.New(rand.NewPCG(seed, 1)))
		}
		b := img.Bounds()
		sx, sy := geometry(b.Dx(), b.Dy(), &o, a)
		out := make([]float32, 5*5*3)
		var w worker
		w.transform(img, sx, sy, 5, a != nil && a.flip, &mul, &add, out)
		for i, v := range out {
			c := i % 3
			if lo, hi := add[c]-1e-4, 255*mul[c]+add[c]+1e-4; !(v >= lo && v <= hi) {
				t.Fatalf("value %d = %v outside [%v, %v]", i, v, lo, hi)
			}
		}
	})
}
