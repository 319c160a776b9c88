package ops

import (
	"fmt"
	"os"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// WeightMap turns latent weights into the weights a product multiplies by,
// with its own gradient rule (a quantizer with an element-wise
// straight-through estimator). The zero WeightMap is the identity.
type WeightMap struct {
	// Forward returns the weights the product uses; its own gradient is
	// never taken. Nil uses the latent weights as they are.
	Forward func(w *Node) *Node
	// Gradient returns the gradient of the latent weights w given the
	// gradient g of the weights Forward returned. Nil passes g unchanged
	// (the identity straight-through estimator).
	Gradient func(w, g *Node) *Node
}

// DenseProduct returns x·w for x shaped [batch, in] and w shaped [in, out]
// with a gradient written for the pure-Go backend; see QuantizedDenseProduct.
func DenseProduct(x, w *Node) *Node { return QuantizedDenseProduct(x, w, WeightMap{}) }

// DenseProductThrough is DenseProduct that also returns w as the product's
// gradient reads it: w behind the identity that carries the weights'
// gradient (w itself on other backends). The pure-Go backend copies that
// identity's input while anything else holds it, as it holds a variable's
// value during an execution; a caller that makes through the new value of
// w's variable (Variable.SetValueGraph) lets GoMLX donate the variable's
// buffer to the step, which the identity then moves instead of copying, and
// gets the same values back. The gradient with respect to w is unchanged.
func DenseProductThrough(x, w *Node) (y, through *Node) {
	return quantizedDenseProduct(x, w, WeightMap{})
}

// QuantizedDenseProduct returns x·q.Forward(w) for x shaped [batch, in] and
// latent weights w shaped [in, out]: the product of a binary dense layer,
// with the quantizer's straight-through estimator folded into one
// hand-written gradient. It is written for the pure-Go backend, whose matrix
// kernels read the left operand only with its contracted axis last and whose
// identity operations copy any buffer still in use:
//
//   - GoMLX's own gradient of x·w with respect to w contracts the batch axis
//     first in both operands, so the backend transposes dY and x and then
//     transposes the [out, in] result back: three transposes, one of them of
//     the whole weight matrix. Here the weights' gradient is xᵀ·dY with one
//     explicit transpose of x, or (dYᵀ·x)ᵀ when transposing dY and the
//     [out, in] result moves fewer elements than x. The input's gradient
//     is dY·wᵀ, which the kernels read directly; GoMLX's own rule wraps it
//     in a transpose with the identity permutation, a full copy there.
//   - A straight-through estimator written with graph ops (sign(w) plus
//     w - StopGradient(w)) costs a copy of w and two more passes over it;
//     here the latent gradient is q.Gradient applied to the product's
//     weight gradient, with no extra pass for the identity estimator.
//
// It computes what x·q(w) with GoMLX's autodiff computes, up to the order of
// the additions in the weights' gradient. On other backends, and for inputs
// of other ranks, it is exactly that: MatMul(x, q.Forward(w)) with the
// straight-through estimator as graph ops. The environment variable
// BINNET_DENSE=native forces that formulation on the Go backend too (for
// benchmarks).
func QuantizedDenseProduct(x, w *Node, q WeightMap) *Node {
	y, _ := quantizedDenseProduct(x, w, q)
	return y
}

// quantizedDenseProduct is QuantizedDenseProduct, also returning the
// weights as its gradient reads them (DenseProductThrough).
func quantizedDenseProduct(x, w *Node, q WeightMap) (y, through *Node) {
	if x.Rank() != 2 || w.Rank() != 2 || !onGoBackend(x.Graph()) {
		return MatMul(x, graphWeightMap(w, q)), w
	}
	if x.Shape().Dimensions[1] != w.Shape().Dimensions[0] {
		panic(fmt.Sprintf("ops.DenseProduct: x %s and w %s do not multiply", x.Shape(), w.Shape()))
	}
	var wq *Node // the weights the forward multiplies by, read by x's gradient
	forward := func(tx, tw *Node) *Node {
		wq = tw
		if q.Forward != nil {
			wq = q.Forward(tw)
		}
		return MatMul(tx, wq)
	}
	gradX := func(_, _, v *Node) *Node {
		return DotGeneral(v, []int{1}, nil, wq, []int{1}, nil) // dY·wᵀ: [batch,out]·[in,out] over out
	}
	gradW := func(tx, tw, v *Node) *Node {
		dw := weightGrad(tx, v)
		if q.Gradient != nil {
			dw = q.Gradient(tw, dw)
		}
		return dw
	}
	return withProductGradient(x, w, forward, gradX, gradW, q.Forward != nil)
}

// graphWeightMap applies q with graph ops: q.Forward's values, and q.Gradient
// as the gradient towards w (through an identity with a custom gradient).
func graphWeightMap(w *Node, q WeightMap) *Node {
	if q.Forward == nil {
		return w
	}
	surrogate := w
	if q.Gradient != nil {
		surrogate = IdentityWithCustomGradient(w, func(w, g *Node) *Node { return q.Gradient(w, g) })
	}
	return StraightThrough(q.Forward(w), surrogate)
}

// weightGrad returns the gradient of x·w with respect to w, [in, out], for
// the gradient v of the output: xᵀ·v with one transpose of x, or (vᵀ·x)ᵀ
// when that transposes fewer elements.
func weightGrad(x, v *Node) *Node {
	batch, in, out := x.Shape().Dimensions[0], x.Shape().Dimensions[1], v.Shape().Dimensions[1]
	if batch*in <= batch*out+in*out {
		return DotGeneral(transposeRows(x), []int{1}, nil, v, []int{0}, nil) // [in,batch]·[batch,out]
	}
	return Transpose(DotGeneral(transposeRows(v), []int{1}, nil, x, []int{0}, nil), 0, 1) // ([out,batch]·[batch,in])ᵀ
}

// transposeRows returns the transpose of m, [rows, cols]. A tall and narrow
// matrix (at least 8,192 rows of at most 128 columns: the gradients and
// column matrices of convolutions) is transposed as the product I·mᵀ with the
// identity matrix I, [cols, cols], which the pure-Go backend's matrix kernel
// packs in cache-sized blocks: up to 4x faster there than its Transpose, which
// moves [102,400 x 64], VGG-5's second convolution at batch 100, in 35-42 ms
// (rows 400 KB apart, a multiple of 4 KB, fall into the same cache sets)
// against 9-12 ms, and [32,768 x 32] in 6.8 against 1.6 ms (as fast, 10 ms,
// for the cnn's [78,400 x 64], whose rows do not collide). Finite values are
// copied exactly (x·1 plus zeros); an infinity in a row of m turns that
// column of the result into NaN (0·Inf), a run that is diverging either way.
// Wider or shorter matrices (the MLPs' [batch, features]) use Transpose,
// which is faster there, as do other backends.
func transposeRows(m *Node) *Node {
	rows, cols := m.Shape().Dimensions[0], m.Shape().Dimensions[1]
	if rows < 8192 || cols > 128 || !m.DType().IsFloat() || !goBackend(m.Graph()) {
		return Transpose(m, 0, 1)
	}
	return DotGeneral(identity(m, cols), []int{1}, nil, m, []int{1}, nil) // [cols,cols]·[rows,cols] over cols
}

// identity returns identity matrices [n, n], batch... of them, as a
// constant [batch..., n, n] of x's dtype (for transposes as products).
func identity(x *Node, n int, batch ...int) *Node {
	count := 1
	for _, b := range batch {
		count *= b
	}
	eye := make([]float32, count*n*n)
	for b := range count {
		for i := range n {
			eye[(b*n+i)*n+i] = 1
		}
	}
	dims := append(append([]int(nil), batch...), n, n)
	return ConvertDType(Const(x.Graph(), tensors.FromFlatDataAndDimensions(eye, dims...)), x.DType())
}

// onGoBackend reports whether g's dense products use the formulation
// written for GoMLX's pure-Go backend: on that backend, unless
// BINNET_DENSE=native.
func onGoBackend(g *Graph) bool {
	return goBackend(g) && os.Getenv("BINNET_DENSE") != "native"
}

// goBackend reports whether g runs on GoMLX's pure-Go backend.
func goBackend(g *Graph) bool { return g.Backend().String() == "go" }
