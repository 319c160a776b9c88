package imagefolder

import (
	"math"
	"math/rand/v2"
)

// rrcAttempts is the number of random crops RandomResizedCrop tries before
// falling back to a centred crop (10 in torchvision).
const rrcAttempts = 10

// augment holds the random choices of the training transform of one
// example. They are drawn from the batch's rng before the image is decoded,
// so they cannot depend on its size: they are uniform numbers in [0, 1)
// that geometry maps to pixel positions once the size is known.
type augment struct {
	// u holds, for each attempt of RandomResizedCrop, the area fraction,
	// the log aspect ratio, the top and the left position; for
	// ResizeRandomCrop only u[0] (top) and u[1] (left) are used.
	u    [4 * rrcAttempts]float64
	flip bool
}

// draw sets a from rng: the uniform numbers the transform needs, in a fixed
// order, then the flip.
func (a *augment) draw(t TrainTransform, rng *rand.Rand) {
	n := 2
	if t == RandomResizedCrop {
		n = len(a.u)
	}
	for k := range n {
		a.u[k] = rng.Float64()
	}
	a.flip = rng.Float64() < 0.5
}

// span is a crop along one axis of the source image: output samples cover
// the source interval [b0, b1) (in pixels, a pixel k covering [k, k+1)),
// and filter taps are limited to the pixels [lo, hi) (the image for a
// resize, the crop for a crop-then-resize).
type span struct {
	b0, b1 float64
	lo, hi int
}

// geometry returns the spans along x and y of the source image of size w×h
// that give the size×size example: the evaluation transform (resize the
// shorter side to o.ResizeSize, centre crop) when a is nil, else the
// training transform o.Train with the choices a.
func geometry(w, h int, o *Options, a *augment) (x, y span) {
	if a != nil && o.Train == RandomResizedCrop {
		top, left, ch, cw := randomResizedCrop(w, h, o.Scale, o.Ratio, &a.u)
		return span{float64(left), float64(left + cw), left, left + cw},
			span{float64(top), float64(top + ch), top, top + ch}
	}
	s := o.Size
	rw, rh := resizedSize(w, h, o.ResizeSize)
	var top, left int
	if a == nil {
		// torchvision's CenterCrop: int(round((rh - s) / 2.0)), with
		// Python's round half to even.
		top = int(math.RoundToEven(float64(rh-s) / 2))
		left = int(math.RoundToEven(float64(rw-s) / 2))
	} else {
		// RandomCrop: uniform integers in 0..rh-s and 0..rw-s.
		top = uniformInt(a.u[0], rh-s+1)
		left = uniformInt(a.u[1], rw-s+1)
	}
	// The resize maps resized pixel k to the source interval
	// [k*w/rw, (k+1)*w/rw); the crop keeps resized pixels left..left+s-1.
	sx, sy := float64(w)/float64(rw), float64(h)/float64(rh)
	return span{float64(left) * sx, float64(left+s) * sx, 0, w},
		span{float64(top) * sy, float64(top+s) * sy, 0, h}
}

// resizedSize returns the size of a w×h image whose shorter side is resized
// to s, the longer one keeping the aspect ratio (truncated to an integer, as
// torchvision's Resize(s) does).
func resizedSize(w, h, s int) (rw, rh int) {
	if w <= h {
		return s, int(float64(s) * float64(h) / float64(w))
	}
	return int(float64(s) * float64(w) / float64(h)), s
}

// uniformInt maps u in [0, 1) to an integer in 0..n-1.
func uniformInt(u float64, n int) int {
	return min(int(u*float64(n)), n-1)
}

// randomResizedCrop returns torchvision's RandomResizedCrop parameters (top,
// left, height, width of the crop) for a w×h image, with the uniform
// numbers u in place of its random draws.
func randomResizedCrop(w, h int, scale, ratio [2]float64, u *[4 * rrcAttempts]float64) (top, left, ch, cw int) {
	area := float64(w) * float64(h)
	logR0, logR1 := math.Log(ratio[0]), math.Log(ratio[1])
	for k := range rrcAttempts {
		target := area * (scale[0] + u[4*k]*(scale[1]-scale[0]))
		aspect := math.Exp(logR0 + u[4*k+1]*(logR1-logR0))
		cw = int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			return uniformInt(u[4*k+2], h-ch+1), uniformInt(u[4*k+3], w-cw+1), ch, cw
		}
	}
	// Fallback: the largest centred crop whose aspect ratio is in range.
	in := float64(w) / float64(h)
	cw, ch = w, h
	switch {
	case in < ratio[0]:
		ch = int(math.RoundToEven(float64(w) / ratio[0]))
	case in > ratio[1]:
		cw = int(math.RoundToEven(float64(h) * ratio[1]))
	}
	cw, ch = min(max(cw, 1), w), min(max(ch, 1), h)
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}
