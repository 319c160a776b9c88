package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestConv2DWinograd checks Conv2DBias on geometries that take the
// Winograd formulation (and Conv2DForward, the evaluation form) against
// GoMLX's convolution plus bias computed in float64 from the same float32
// inputs: the value and the gradients of x, the kernel and the bias. The
// largest difference must stay below 1e-4 of the reference's root mean
// square (F(4x4,3x3) rounds to about 1e-5 of it at 64 channels); the same
// check of the float32 im2col convolution is logged for comparison. The
// same convolution in float64 must agree to 1e-12.
func TestConv2DWinograd(t *testing.T) {
	be := testBackend(t)
	// The last two have sides that are not multiples of 4 (the tiles' extra
	// outputs dropped).
	for _, cc := range []convCase{{2, 8, 8, 16, 5, 3, 1, 1}, {3, 12, 4, 16, 7, 3, 1, 1}, {1, 16, 16, 64, 64, 3, 1, 1}, {2, 4, 8, 32, 3, 3, 1, 1}, {2, 7, 7, 16, 5, 3, 1, 1}, {1, 14, 11, 32, 6, 3, 1, 1}} {
		t.Run(cc.String(), func(t *testing.T) {
			if !takesWinograd(be, cc) {
				t.Fatalf("geometry %v does not take the Winograd formulation", cc)
			}
			xt, wt, bt, rt := cc.tensors()
			run := func(f func(x, w, b *Node) *Node, evaluate func(x, w, b *Node) *Node, dtype bool) [][]float64 {
				exec := MustNewExec(be, func(x, w, b, r *Node) []*Node {
					if dtype {
						x, w, b, r = ConvertDType(x, dtypes.Float64), ConvertDType(w, dtypes.Float64), ConvertDType(b, dtypes.Float64), ConvertDType(r, dtypes.Float64)
					}
					xs := AddScalar(x, 0.25)
					y := f(xs, w, b)
					outs := append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, r)), x, w, b)...)
					if evaluate != nil {
						outs = append(outs, evaluate(xs, w, b))
					}
					return outs
				})
				var res [][]float64
				for _, o := range exec.MustExec(xt, wt, bt, rt) {
					if o.DType() == dtypes.Float64 {
						res = append(res, tensors.MustCopyFlatData[float64](o))
					} else {
						res = append(res, float64s(tensors.MustCopyFlatData[float32](o)))
					}
				}
				return res
			}
			conv := func(x, w, b *Node) *Node { return Conv2DBias(x, w, b, 1, 1) }
			eval := func(x, w, b *Node) *Node { return Conv2DForward(x, w, b, 1, 1) }
			reference := func(x, w, b *Node) *Node {
				return Add(gomlxConv(1, 1)(x, w), ExpandLeftToRank(b, 4))
			}
			want := run(reference, nil, true)
			want = append(want, want[0]) // the evaluation form against the same reference
			got := run(conv, eval, false)
			direct := run(func(x, w, b *Node) *Node { return conv2DIm2Col(x, w, b, 1, 1) }, nil, false)
			for i, name := range []string{"output", "dx", "dw", "dbias", "evaluation output"} {
				rel, err := relativeMaxDiff(want[i], got[i])
				if err != "" {
					t.Fatalf("%s: %s", name, err)
				}
				if i < len(direct) {
					directRel, _ := relativeMaxDiff(want[i], direct[i])
					t.Logf("%s: largest difference %.2g of the rms (im2col: %.2g)", name, rel, directRel)
				}
				if rel > 1e-4 {
					t.Errorf("%s: largest difference %.3g of the float64 reference's rms, want at most 1e-4", name, rel)
				}
			}
			// In float64 the transforms' rounding is that of float64.
			got64 := run(conv, eval, true)
			for i, name := range []string{"output", "dx", "dw", "dbias", "evaluation output"} {
				if rel, _ := relativeMaxDiff(want[i], got64[i]); rel > 1e-12 {
					t.Errorf("float64 %s: largest difference %.3g of the reference's rms, want at most 1e-12", name, rel)
				}
			}
		})
	}
}

// relativeMaxDiff returns the largest |want-got| over the root mean square
// of want.
func relativeMaxDiff(want, got []float64) (float64, string) {
	if len(want) != len(got) {
		return 0, fmt.Sprintf("%d values, want %d", len(got), len(want))
	}
	var rms, worst float64
	for j := range want {
		rms += want[j] * want[j]
		worst = max(worst, math.Abs(want[j]-got[j]))
	}
	return worst / math.Sqrt(rms/float64(len(want))), ""
}

// TestUseWinograd lists which geometries take the Winograd formulation.
func TestUseWinograd(t *testing.T) {
	be := testBackend(t)
	for _, c := range []struct {
		h, w, in, k, stride, pad int
		want                     bool
	}{
		{32, 32, 64, 3, 1, 1, true},  // VGG-5's second convolution
		{32, 32, 3, 3, 1, 1, false},  // a first convolution: too few channels
		{28, 28, 32, 3, 1, 1, true},  // the cnn's second
		{14, 14, 16, 3, 1, 1, true},  // 16x16 outputs for 14x14: 1.31x
		{7, 7, 16, 3, 1, 1, true},    // 8x8 for 7x7: 1.31x
		{6, 6, 16, 3, 1, 1, false},   // 8x8 for 6x6: 1.78x
		{2, 2, 64, 3, 1, 1, false},   // 4x4 for 2x2
		{32, 32, 16, 3, 2, 1, false}, // strided
		{32, 32, 16, 3, 1, 0, false}, // no padding: the size shrinks
		{32, 32, 16, 1, 1, 0, false}, // 1x1
		{32, 32, 16, 5, 1, 2, false}, // 5x5
	} {
		if got := takesWinograd(be, convCase{2, c.h, c.w, c.in, 8, c.k, c.stride, c.pad}); got != c.want {
			t.Errorf("%dx%dx%d, kernel %d, stride %d, padding %d: Winograd %v, want %v", c.h, c.w, c.in, c.k, c.stride, c.pad, got, c.want)
		}
	}
	t.Setenv("BINNET_CONV", "im2col")
	if takesWinograd(be, convCase{2, 32, 32, 64, 64, 3, 1, 1}) {
		t.Error("BINNET_CONV=im2col: still Winograd")
	}
}

// takesWinograd reports whether Conv2D takes the Winograd formulation for
// the geometry of cc.
func takesWinograd(be compute.Backend, cc convCase) bool {
	g := NewGraph(be, "geometry")
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, cc.b, cc.h, cc.w, cc.c))
	w := Parameter(g, "w", shapes.Make(dtypes.Float32, cc.k, cc.k, cc.c, cc.o))
	return useWinograd(newIm2colConv(x, w, cc.stride, cc.pad))
}
