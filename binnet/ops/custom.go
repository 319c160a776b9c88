// Package ops holds the graph operations binnet builds its layers from where
// GoMLX's own are missing or slow on the pure-Go backend: a convolution as
// im2col plus one matrix product (or, for 3x3 size-keeping layers, Winograd's
// F(4x4, 3x3)) and a dense product (both with a
// hand-written weight gradient that keeps every operand in a layout the
// backend's matrix kernels read with the fewest transposes; the dense one
// also folds a quantizer's straight-through estimator into it), max pooling,
// batch norm (of a whole batch or of a batch held as parts, see SplitBatch),
// a ReLU whose gradient reads only its input, and a general way to give any
// operation a custom gradient.
//
// All image tensors are channels last: [batch, height, width, channels].
package ops

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// WithGradient returns forward(inputs) whose gradient with respect to
// inputs[i] is vjp(inputs, v)[i], where v is the gradient arriving at the
// output. The gradients of forward's own operations are never computed, so
// forward may use operations whose own gradient is slow or wrong (it must
// exist in GoMLX, which builds it, unused).
//
// vjp runs at most once per gradient computation and may return nil for an
// input that needs no gradient.
//
// It works with GoMLX's IdentityWithCustomGradient, which customizes only an
// identity: every input passes through one identity whose gradient is read
// from vjp, and forward and vjp both read these identities. GoMLX
// differentiates forward too, but that gradient only reaches the identities,
// whose custom gradient ignores it, so the backend never computes it (dead
// code). Because nothing else reads the inputs, an input that is a fresh
// intermediate is moved into its identity rather than copied (the pure-Go
// backend copies an identity's input that is still in use). A term of value
// zero (0 times one element of each input) ties the output to the inputs for
// a forward without a gradient path (a sign, a comparison), so that the
// reverse pass always visits them after the output's identity has captured v.
func WithGradient(inputs []*Node, forward func(inputs []*Node) *Node, vjp func(inputs []*Node, v *Node) []*Node) *Node {
	return withGradient(inputs, forward, vjp, true)
}

// withGradient is WithGradient, with the zero term only when tie is set:
// binnet's own uses whose forward has a gradient path from every input to
// the output (batch norm, a gathered maximum) leave it out, as it costs a pass
// over the output on the pure-Go backend.
func withGradient(inputs []*Node, forward func(inputs []*Node) *Node, vjp func(inputs []*Node, v *Node) []*Node, tie bool) *Node {
	return withGradients(inputs,
		func(in []*Node) []*Node {
			y := forward(in)
			var zero *Node
			for _, x := range in {
				if tie && x.DType().IsFloat() {
					term := MulScalar(Reshape(Slice(x, firstElement(x.Rank())...)), 0)
					if zero == nil {
						zero = term
					} else {
						zero = Add(zero, term)
					}
				}
			}
			if zero != nil {
				y = Add(y, ConvertDType(zero, y.DType()))
			}
			return []*Node{y}
		},
		func(in, vs []*Node) []*Node { return vjp(in, vs[0]) })[0]
}

// withProductGradient returns forward(tx, tw), where tx and tw are x and w
// behind identities whose gradients are gradX(tx, tw, v) and gradW(tx, tw,
// v), v being the gradient arriving at the output. It is for products whose
// gradients GoMLX builds in a layout the pure-Go backend handles badly: the
// weights' gradient needs transposes of its operands and result there, and
// even the input's gradient dY·wᵀ, whose layout the kernels read directly,
// comes out of GoMLX's rule behind a transpose with the identity permutation,
// which the backend executes as a full copy. GoMLX also builds its own
// gradients of forward, which only reach tx and tw, whose custom gradients
// ignore them, so the backend never computes them (dead code). The identity
// on x moves x when nothing else reads it (a fresh im2col matrix, an
// activation read only by the next layer) and copies it otherwise, which
// costs no more than the transpose it replaces. gradX is only called when
// something upstream of x needs a gradient. An x that is a graph parameter
// (a batch fed to the first layer) is read without an identity, which would
// copy it (the execution holds it): nothing upstream of it needs a
// gradient, and a gradient asked of it directly is GoMLX's own (correct,
// in the slower layout). Set tie when forward has no
// gradient path from tw to the output (a sign): a term of value zero (0
// times one weight) then adds one. It also returns tw.
func withProductGradient(x, w *Node, forward func(tx, tw *Node) *Node, gradX, gradW func(tx, tw, v *Node) *Node, tie bool) (y, through *Node) {
	var v, tx, tw *Node
	// tied returns operand behind an identity whose gradient grad builds
	// once, from the gradient v arriving at the output.
	tied := func(operand *Node, what string, grad func(tx, tw, v *Node) *Node) *Node {
		var d *Node
		return IdentityWithCustomGradient(operand, func(_, _ *Node) *Node {
			if v == nil {
				panic("ops: product gradient requested before the output's")
			}
			if d == nil {
				d = grad(tx, tw, v)
				if !d.Shape().Equal(operand.Shape()) {
					panic(fmt.Sprintf("ops: %s gradient shaped %s for %s %s", what, d.Shape(), what, operand.Shape()))
				}
			}
			return d
		})
	}
	tx, tw = x, tied(w, "weight", gradW)
	if x.Type() != NodeTypeParameter {
		tx = tied(x, "input", gradX)
	}
	y = forward(tx, tw)
	if tie {
		y = Add(y, ConvertDType(MulScalar(Reshape(Slice(tw, firstElement(w.Rank())...)), 0), y.DType()))
	}
	return IdentityWithCustomGradient(y, func(_, vy *Node) *Node {
		v = vy
		return vy
	}), tw
}

// StraightThrough returns a node whose value is exactly forward and whose
// gradient is the gradient that flows into surrogate: forward +
// (surrogate - StopGradient(surrogate)) adds an exact 0 in the forward pass
// (a finite float minus itself), so binarized values stay exactly ±1, while
// the backward pass sees only surrogate. It is the graph-op form of a
// straight-through estimator (binnet's products fold the estimator into
// their own gradient instead, see QuantizedDenseProduct).
func StraightThrough(forward, surrogate *Node) *Node {
	return Add(StopGradient(forward), Sub(surrogate, StopGradient(surrogate)))
}

func firstElement(rank int) []SliceAxisSpec {
	spec := make([]SliceAxisSpec, rank)
	for i := range spec {
		spec[i] = AxisElem(0)
	}
	return spec
}

// withGradients is withGradient for a forward with several outputs: the
// gradients of the inputs are vjp(inputs, vs), where vs[j] is the gradient
// arriving at output j (zeros for an output the loss does not reach). vjp
// runs once, when the first input's gradient is asked for, after every
// output's (the inputs' identities come first in the graph, and GoMLX visits
// the nodes in reverse).
func withGradients(inputs []*Node, forward func(inputs []*Node) []*Node, vjp func(inputs, vs []*Node) []*Node) []*Node {
	if len(inputs) == 0 {
		panic("ops.withGradients: no inputs")
	}
	var vs, grads, ys []*Node
	tied := make([]*Node, len(inputs))
	gradOf := func(i int, x *Node) *Node {
		if grads == nil {
			arrived := false
			for j := range vs {
				if vs[j] == nil {
					vs[j] = ZerosLike(ys[j])
				} else {
					arrived = true
				}
			}
			if !arrived {
				panic("ops.WithGradient: input gradient requested before the output's")
			}
			grads = vjp(tied, vs)
			if len(grads) != len(inputs) {
				panic(fmt.Sprintf("ops.withGradients: vjp returned %d gradients for %d inputs", len(grads), len(inputs)))
			}
		}
		if grads[i] == nil {
			return ZerosLike(x)
		}
		if !grads[i].Shape().Equal(x.Shape()) {
			panic(fmt.Sprintf("ops.withGradients: gradient #%d has shape %s, its input %s", i, grads[i].Shape(), x.Shape()))
		}
		return grads[i]
	}
	for i, x := range inputs {
		tied[i] = IdentityWithCustomGradient(x, func(x, _ *Node) *Node { return gradOf(i, x) })
	}
	ys = forward(tied)
	vs = make([]*Node, len(ys))
	out := make([]*Node, len(ys))
	for j, y := range ys {
		out[j] = IdentityWithCustomGradient(y, func(_, v *Node) *Node {
			if grads != nil {
				panic("ops.withGradients: an output's gradient arrived after the inputs'")
			}
			vs[j] = v
			return v
		})
	}
	return out
}
