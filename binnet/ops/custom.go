// Package ops holds the graph operations binnet builds its layers from where
// GoMLX's own are missing or slow on the pure-Go backend: a convolution as
// im2col plus one matrix product (with a hand-written gradient that keeps
// every operand in the layout the backend's matrix kernels read without a
// transpose), max pooling, and a general way to give any operation a custom
// gradient.
//
// All image tensors are channels last: [batch, height, width, channels].
package ops

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// WithGradient returns forward(inputs) whose gradient with respect to
// inputs[i] is vjp(inputs, v)[i], where v is the gradient arriving at the
// output. GoMLX's reverse pass never differentiates forward itself, so forward
// may use operations whose own gradient is missing, wrong or slow.
//
// vjp runs at most once per gradient computation and may return nil for an
// input that needs no gradient.
//
// It works with GoMLX's IdentityWithCustomGradient, which customizes only an
// identity: every input passes through an identity whose gradient is read
// from vjp, forward sees the inputs behind a StopGradient, and a term of value
// zero (0 times one element of each input) ties the output to the inputs so
// that the reverse pass visits them after the output's own identity has
// captured v.
func WithGradient(inputs []*Node, forward func(inputs []*Node) *Node, vjp func(inputs []*Node, v *Node) []*Node) *Node {
	if len(inputs) == 0 {
		panic("ops.WithGradient: no inputs")
	}
	var v *Node
	var grads []*Node
	gradOf := func(i int, x *Node) *Node {
		if v == nil {
			panic("ops.WithGradient: input gradient requested before the output's")
		}
		if grads == nil {
			grads = vjp(inputs, v)
			if len(grads) != len(inputs) {
				panic(fmt.Sprintf("ops.WithGradient: vjp returned %d gradients for %d inputs", len(grads), len(inputs)))
			}
		}
		if grads[i] == nil {
			return ZerosLike(x)
		}
		if !grads[i].Shape().Equal(x.Shape()) {
			panic(fmt.Sprintf("ops.WithGradient: gradient #%d has shape %s, its input %s", i, grads[i].Shape(), x.Shape()))
		}
		return grads[i]
	}
	tied := make([]*Node, len(inputs))
	stopped := make([]*Node, len(inputs))
	var zero *Node
	for i, x := range inputs {
		tied[i] = IdentityWithCustomGradient(x, func(x, _ *Node) *Node { return gradOf(i, x) })
		stopped[i] = StopGradient(tied[i])
		if x.DType().IsFloat() {
			first := Reshape(Slice(tied[i], firstElement(x.Rank())...))
			term := MulScalar(first, 0)
			if zero == nil {
				zero = term
			} else {
				zero = Add(zero, term)
			}
		}
	}
	y := forward(stopped)
	if zero != nil {
		y = Add(y, ConvertDType(zero, y.DType()))
	}
	return IdentityWithCustomGradient(y, func(_, vy *Node) *Node {
		v = vy
		return vy
	})
}

func firstElement(rank int) []SliceAxisSpec {
	spec := make([]SliceAxisSpec, rank)
	for i := range spec {
		spec[i] = AxisElem(0)
	}
	return spec
}
