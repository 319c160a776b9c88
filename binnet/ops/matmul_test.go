package ops

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// signPlusMinus is sign(w) with sign(0) = +1, as binnet's quantizers binarize.
func signPlusMinus(w *Node) *Node { return SignPlusOrMinus(w) }

// cancel is Larq's ste_sign gradient rule: g where |w| <= 1, else 0.
func cancel(w, g *Node) *Node {
	return Where(LessOrEqual(Abs(w), ScalarOne(w.Graph(), w.DType())), g, ZerosLike(g))
}

// TestQuantizedDenseProductMatchesAutodiff compares the value and both
// gradients of QuantizedDenseProduct with GoMLX's autodiff of the same
// function written with graph ops (graphWeightMap and MatMul): float weights,
// sign with the identity estimator, and sign with the cancelled estimator,
// for a batch smaller and larger than the layer's output (the two ways of
// forming the weights' gradient).
func TestQuantizedDenseProductMatchesAutodiff(t *testing.T) {
	be := testBackend(t)
	maps := map[string]WeightMap{
		"float":       {},
		"ste_sign":    {Forward: signPlusMinus},
		"sign_cancel": {Forward: signPlusMinus, Gradient: cancel},
	}
	for _, dims := range [][3]int{{5, 7, 3}, {4, 6, 9}, {12, 3, 2}} {
		batch, in, out := dims[0], dims[1], dims[2]
		for name, q := range maps {
			xs := randomData(11, batch*in)
			ws := randomData(12, in*out)
			ws[0], ws[1] = 0, 1.5 // sign(0) and a weight outside [-1,1]
			rs := randomData(13, batch*out)
			xt := tensors.FromFlatDataAndDimensions(xs, batch, in)
			wt := tensors.FromFlatDataAndDimensions(ws, in, out)
			rt := tensors.FromFlatDataAndDimensions(rs, batch, out)
			run := func(product func(x, w *Node) *Node) [][]float32 {
				exec := MustNewExec(be, func(x, w, r *Node) []*Node {
					y := product(x, w)
					grads := Gradient(ReduceAllSum(Mul(y, r)), x, w)
					return []*Node{y, grads[0], grads[1]}
				})
				outs := exec.MustExec(xt, wt, rt)
				res := make([][]float32, len(outs))
				for i, o := range outs {
					res[i] = tensors.MustCopyFlatData[float32](o)
				}
				return res
			}
			ours := run(func(x, w *Node) *Node { return QuantizedDenseProduct(x, w, q) })
			ref := run(func(x, w *Node) *Node { return MatMul(x, graphWeightMap(w, q)) })
			for k, what := range []string{"value", "gradient of x", "gradient of w"} {
				for i := range ref[k] {
					if d := math.Abs(float64(ours[k][i] - ref[k][i])); d > 1e-5*(1+math.Abs(float64(ref[k][i]))) {
						t.Fatalf("%s %v: %s[%d] = %v, GoMLX autodiff %v", name, dims, what, i, ours[k][i], ref[k][i])
					}
				}
			}
			if name == "sign_cancel" && ours[2][1] != 0 {
				t.Errorf("%v: cancelled estimator passed a gradient %v to a weight of 1.5", dims, ours[2][1])
			}
		}
		// DenseProductThrough: DenseProduct's value and gradients, and its
		// second output is w's values (what a caller makes w's new value).
		xt := tensors.FromFlatDataAndDimensions(randomData(14, batch*in), batch, in)
		wt := tensors.FromFlatDataAndDimensions(randomData(15, in*out), in, out)
		rt := tensors.FromFlatDataAndDimensions(randomData(16, batch*out), batch, out)
		outs := MustNewExec(be, func(x, w, r *Node) []*Node {
			y, through := DenseProductThrough(x, w)
			yRef := DenseProduct(x, w)
			grads := Gradient(ReduceAllSum(Mul(y, r)), x, w)
			ref := Gradient(ReduceAllSum(Mul(yRef, r)), x, w)
			return []*Node{y, yRef, grads[0], ref[0], grads[1], ref[1], through, w}
		}).MustExec(xt, wt, rt)
		for k := 0; k < len(outs); k += 2 {
			got, want := tensors.MustCopyFlatData[float32](outs[k]), tensors.MustCopyFlatData[float32](outs[k+1])
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("DenseProductThrough %v: output %d [%d] = %v, want %v", dims, k/2, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDenseProductFiniteDifferences checks DenseProduct's gradients against
// central finite differences in float64.
func TestDenseProductFiniteDifferences(t *testing.T) {
	be := testBackend(t)
	batch, in, out := 3, 4, 5
	xs, ws, rs := randomData(21, batch*in), randomData(22, in*out), randomData(23, batch*out)
	x64, w64, r64 := make([]float64, len(xs)), make([]float64, len(ws)), make([]float64, len(rs))
	for i := range xs {
		x64[i] = float64(xs[i])
	}
	for i := range ws {
		w64[i] = float64(ws[i])
	}
	for i := range rs {
		r64[i] = float64(rs[i])
	}
	loss := func(x, w, r *Node) *Node { return ReduceAllSum(Mul(DenseProduct(x, w), r)) }
	lossExec := MustNewExec(be, loss)
	gradExec := MustNewExec(be, func(x, w, r *Node) []*Node { return Gradient(loss(x, w, r), x, w) })
	rt := tensors.FromFlatDataAndDimensions(r64, batch, out)
	at := func(x, w []float64) float64 {
		return lossExec.MustExec(tensors.FromFlatDataAndDimensions(x, batch, in), tensors.FromFlatDataAndDimensions(w, in, out), rt)[0].Value().(float64)
	}
	grads := gradExec.MustExec(tensors.FromFlatDataAndDimensions(x64, batch, in), tensors.FromFlatDataAndDimensions(w64, in, out), rt)
	for k, vals := range [][]float64{x64, w64} {
		got := tensors.MustCopyFlatData[float64](grads[k])
		for i := range vals {
			const h = 1e-6
			orig := vals[i]
			vals[i] = orig + h
			up := at(x64, w64)
			vals[i] = orig - h
			down := at(x64, w64)
			vals[i] = orig
			fd := (up - down) / (2 * h)
			if math.Abs(fd-got[i]) > 1e-6*(1+math.Abs(fd)) {
				t.Fatalf("input %d element %d: gradient %v, finite differences %v", k, i, got[i], fd)
			}
		}
	}
}

// TestConv2DForwardEqualsConv2D: the evaluation graphs' convolution (no
// hand-written gradient) computes exactly the training graphs' values.
func TestConv2DForwardEqualsConv2D(t *testing.T) {
	be := testBackend(t)
	for _, cc := range []convCase{{2, 6, 6, 3, 4, 3, 1, 1}, {2, 7, 5, 2, 3, 3, 2, 1}, {2, 4, 4, 3, 2, 1, 1, 0}} {
		xt := tensors.FromFlatDataAndDimensions(randomData(31, cc.b*cc.h*cc.w*cc.c), cc.b, cc.h, cc.w, cc.c)
		wt := tensors.FromFlatDataAndDimensions(randomData(32, cc.k*cc.k*cc.c*cc.o), cc.k, cc.k, cc.c, cc.o)
		exec := MustNewExec(be, func(x, w *Node) []*Node {
			return []*Node{Conv2D(x, w, cc.stride, cc.pad), Conv2DForward(x, w, nil, cc.stride, cc.pad)}
		})
		out := exec.MustExec(xt, wt)
		a, b := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: element %d: Conv2D %v, Conv2DForward %v", cc, i, a[i], b[i])
			}
		}
	}
}

// TestTransposeRows checks both formulations of transposeRows (the identity
// product for a tall narrow matrix, Transpose otherwise) against the
// element-wise definition, exactly.
func TestTransposeRows(t *testing.T) {
	be := testBackend(t)
	for _, dims := range [][2]int{{8192, 24}, {100, 30}, {9000, 200}} {
		rows, cols := dims[0], dims[1]
		data := randomData(21, rows*cols)
		out := MustExecOnce(be, func(m *Node) *Node { return transposeRows(m) }, tensors.FromFlatDataAndDimensions(data, rows, cols))
		if got := out.Shape().Dimensions; got[0] != cols || got[1] != rows {
			t.Fatalf("%dx%d: transposed shape %v", rows, cols, got)
		}
		got := tensors.MustCopyFlatData[float32](out)
		for i := range rows {
			for j := range cols {
				if got[j*rows+i] != data[i*cols+j] {
					t.Fatalf("%dx%d: [%d,%d] = %v, want %v", rows, cols, j, i, got[j*rows+i], data[i*cols+j])
				}
			}
		}
	}
}
