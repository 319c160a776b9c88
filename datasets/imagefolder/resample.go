package imagefolder

import (
	"image"
	"math"
	"slices"
)

// taps is the resampling filter along one axis: output sample o is the sum
// over t < count[o] of w[o*k+t] times source pixel start[o]+t.
type taps struct {
	k      int // room for weights per output
	start  []int
	count  []int
	w      []float32
	lo, hi int // every tap is in [lo, hi)
}

// compute sets t to the n-sample bilinear resampling of the source interval
// sp.b0..sp.b1 with taps limited to sp.lo..sp.hi-1. Output sample o is
// centred on source position b0 + (o+0.5)*scale, scale = (b1-b0)/n, and
// weighs the pixels whose centres (j+0.5) are nearer than the filter's
// radius with a triangle: 1 - distance/radius. The radius is 1 pixel when
// enlarging and scale pixels when shrinking, which averages over all the
// pixels an output sample covers (antialiasing). Weights are normalized to
// sum to 1, which also handles the taps cut off at lo and hi.
func (t *taps) compute(sp span, n int) {
	scale := (sp.b1 - sp.b0) / float64(n)
	radius := max(scale, 1)
	t.k = int(math.Ceil(radius))*2 + 1
	t.start = slices.Grow(t.start[:0], n)[:n]
	t.count = slices.Grow(t.count[:0], n)[:n]
	t.w = slices.Grow(t.w[:0], n*t.k)[:n*t.k]
	t.lo, t.hi = sp.hi, sp.lo
	var wt [64]float64
	for o := range n {
		c := sp.b0 + (float64(o)+0.5)*scale
		// Pixels j with |j+0.5-c| < radius; at most 2*radius+1 <= k.
		first := max(int(math.Floor(c-radius-0.5))+1, sp.lo)
		last := min(int(math.Ceil(c+radius-0.5))-1, sp.hi-1)
		var ws []float64
		if last-first+1 <= len(wt) {
			ws = wt[:0]
		}
		sum := 0.0
		for j := first; j <= last; j++ {
			v := 1 - math.Abs(float64(j)+0.5-c)/radius
			if v <= 0 {
				if len(ws) == 0 {
					first = j + 1
				}
				continue
			}
			ws = append(ws, v)
			sum += v
		}
		if len(ws) == 0 || !(sum > 0) {
			// Not reached for crops inside the image; nearest pixel.
			first = min(max(int(math.Floor(c)), sp.lo), sp.hi-1)
			ws, sum = append(ws[:0], 1), 1
		}
		t.start[o], t.count[o] = first, len(ws)
		dst := t.w[o*t.k : (o+1)*t.k]
		for i, v := range ws {
			dst[i] = float32(v / sum)
		}
		t.lo, t.hi = min(t.lo, first), max(t.hi, first+len(ws))
	}
}

// worker holds the scratch memory of one goroutine of a batch.
type worker struct {
	buf    []byte    // file content
	rgb    []uint8   // source pixels, RGB
	tmp    []float32 // after the horizontal pass
	acc    []float32 // one output row
	cx     []int32   // chroma column of each window column (YCbCr)
	tx, ty taps
}

// transform writes the example of img given the spans of geometry into out
// (n*n*3 values, channels last), normalized with mul and add and mirrored
// left to right if flip.
func (w *worker) transform(img image.Image, sx, sy span, n int, flip bool, mul, add *[3]float32, out []float32) {
	w.tx.compute(sx, n)
	w.ty.compute(sy, n)
	x0, x1, y0, y1 := w.tx.lo, w.tx.hi, w.ty.lo, w.ty.hi
	ww, wh := x1-x0, y1-y0

	// Horizontal pass: each source row of the window, converted to RGB,
	// to n samples.
	conv := w.rowConverter(img, x0, x1)
	w.rgb = slices.Grow(w.rgb[:0], ww*3)[:ww*3]
	w.tmp = slices.Grow(w.tmp[:0], wh*n*3)[:wh*n*3]
	for r := range wh {
		conv(y0+r, w.rgb)
		w.tx.apply(w.rgb, x0, w.tmp[r*n*3:(r+1)*n*3])
	}

	// Vertical pass, normalization and flip, row by row.
	w.acc = slices.Grow(w.acc[:0], n*3)[:n*3]
	ty := &w.ty
	m0, m1, m2 := mul[0], mul[1], mul[2]
	a0, a1, a2 := add[0], add[1], add[2]
	for oy := range n {
		ws := ty.w[oy*ty.k : oy*ty.k+ty.count[oy]]
		r0 := ty.start[oy] - y0
		acc := w.acc
		if len(ws) == 1 {
			acc = w.tmp[r0*n*3 : (r0+1)*n*3] // weight 1: a row of the resized image
		} else {
			clear(acc)
			for t, v := range ws {
				row := w.tmp[(r0+t)*n*3 : (r0+t+1)*n*3]
				row = row[:len(acc)]
				for i, s := range row {
					acc[i] += v * s
				}
			}
		}
		dst := out[oy*n*3 : (oy+1)*n*3]
		if flip {
			for ox := range n {
				s := acc[ox*3 : ox*3+3]
				d := dst[(n-1-ox)*3 : (n-1-ox)*3+3]
				d[0], d[1], d[2] = s[0]*m0+a0, s[1]*m1+a1, s[2]*m2+a2
			}
		} else {
			for ox := range n {
				s := acc[ox*3 : ox*3+3]
				d := dst[ox*3 : ox*3+3]
				d[0], d[1], d[2] = s[0]*m0+a0, s[1]*m1+a1, s[2]*m2+a2
			}
		}
	}
}

// apply resamples one row of packed RGB pixels, src[0:3] being pixel x0,
// into dst (n RGB samples). One to three taps, the usual counts, are
// unrolled.
func (t *taps) apply(src []uint8, x0 int, dst []float32) {
	k := t.k
	for o, c := range t.count {
		s := (t.start[o] - x0) * 3
		d := dst[o*3 : o*3+3]
		switch c {
		case 1: // weight 1
			p := src[s : s+3]
			d[0], d[1], d[2] = float32(p[0]), float32(p[1]), float32(p[2])
		case 2:
			p := src[s : s+6]
			wt := t.w[o*k : o*k+2]
			w0, w1 := wt[0], wt[1]
			d[0] = w0*float32(p[0]) + w1*float32(p[3])
			d[1] = w0*float32(p[1]) + w1*float32(p[4])
			d[2] = w0*float32(p[2]) + w1*float32(p[5])
		case 3:
			p := src[s : s+9]
			wt := t.w[o*k : o*k+3]
			w0, w1, w2 := wt[0], wt[1], wt[2]
			d[0] = w0*float32(p[0]) + w1*float32(p[3]) + w2*float32(p[6])
			d[1] = w0*float32(p[1]) + w1*float32(p[4]) + w2*float32(p[7])
			d[2] = w0*float32(p[2]) + w1*float32(p[5]) + w2*float32(p[8])
		default:
			ws := t.w[o*k : o*k+c]
			p := src[s : s+c*3]
			var r, g, b float32
			for i, v := range ws {
				q := p[i*3 : i*3+3]
				r += v * float32(q[0])
				g += v * float32(q[1])
				b += v * float32(q[2])
			}
			d[0], d[1], d[2] = r, g, b
		}
	}
}
