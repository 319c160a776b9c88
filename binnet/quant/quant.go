// Package quant holds binnet's quantizers: binarize ops that map latent float
// weights to {-1,+1} (optionally scaled) in the forward pass and pass a
// gradient back to the latent weights through a straight-through estimator.
//
// Every op works on any GoMLX node. The functions (SignSTE, SignSTECancel,
// ApproxSign, Stochastic, ScaledSign) are the building blocks; the Quantizer
// values wrap them for the binary layers, Larq-style.
//
// All of them use sign(0) = +1, so a binarized weight is never 0.
package quant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/binnet/binnet/binnet/ops"
	. "github.com/gomlx/gomlx/core/graph"
)

// HardSign returns +1 where x >= 0 and -1 elsewhere, with a zero gradient.
// (Three vectorized passes over x; a comparison and a select measured slower
// on the Go backend, whose comparisons are not vectorized.)
func HardSign(x *Node) *Node { return SignPlusOrMinus(x) }

// withGradient returns a node whose value is exactly forward and whose
// gradient with respect to x is the gradient that flows into surrogate
// (ops.StraightThrough).
func withGradient(forward, surrogate *Node) *Node { return ops.StraightThrough(forward, surrogate) }

// SignSTE binarizes x to sign(x) in {-1,+1} with the identity
// straight-through estimator: dL/dx = dL/dy. This is BinaryConnect's
// estimator and the one of the paper's official code (whose torch.sign
// maps an exact 0 to 0, where this gives +1).
func SignSTE(x *Node) *Node {
	return withGradient(HardSign(x), x)
}

// SignSTECancel binarizes x to sign(x) with the straight-through estimator
// cancelled where |x| > 1: dL/dx = dL/dy * 1{|x| <= 1} (Larq's ste_sign).
func SignSTECancel(x *Node) *Node {
	return withGradient(HardSign(x), IdentityWithCustomGradient(x, cancelGradient))
}

// cancelGradient is SignSTECancel's gradient of x given the gradient v of sign(x).
func cancelGradient(x, v *Node) *Node {
	inside := LessOrEqual(Abs(x), ScalarOne(x.Graph(), x.DType()))
	return Where(inside, v, ScalarZero(x.Graph(), v.DType()))
}

// ApproxSign binarizes x to sign(x) with Bi-Real Net's piecewise polynomial
// gradient: dL/dx = dL/dy * (2 - 2|x|) for |x| < 1, and 0 elsewhere.
func ApproxSign(x *Node) *Node {
	return withGradient(HardSign(x), IdentityWithCustomGradient(x, approxGradient))
}

// approxGradient is ApproxSign's gradient of x given the gradient v of sign(x).
func approxGradient(x, v *Node) *Node {
	g := x.Graph()
	slope := OneMinus(Abs(x))                                  // 1 - |x|
	slope = MulScalar(Max(slope, ScalarZero(g, x.DType())), 2) // 2 - 2|x| clipped at 0
	return Mul(v, slope)
}

// HardSigmoid returns clip((x+1)/2, 0, 1), BinaryConnect's probability of +1.
func HardSigmoid(x *Node) *Node {
	return ClipScalar(MulScalar(AddScalar(x, 1), 0.5), 0, 1)
}

// Stochastic binarizes x with BinaryConnect's stochastic rule: +1 with
// probability HardSigmoid(x), else -1. uniform must hold independent samples
// of U[0,1) with the shape of x. The gradient is the identity straight-through
// estimator.
func Stochastic(x, uniform *Node) *Node {
	plus := LessThan(uniform, HardSigmoid(x))
	binary := Where(plus, OnesLike(x), Neg(OnesLike(x)))
	return withGradient(binary, x)
}

// ChannelMeanAbs returns the mean of |x| over every axis but outputAxis, kept
// with size 1 so that it broadcasts against x (BWN's per-channel scale).
func ChannelMeanAbs(x *Node, outputAxis int) *Node {
	rank := x.Rank()
	if outputAxis < 0 {
		outputAxis += rank
	}
	var axes []int
	for a := 0; a < rank; a++ {
		if a != outputAxis {
			axes = append(axes, a)
		}
	}
	if len(axes) == 0 {
		return Abs(x)
	}
	return ReduceAndKeep(Abs(x), ReduceMean, axes...)
}

// ScaledSign binarizes x to alpha*sign(x), where alpha is the per-output-channel
// mean |x| (Binary Weight Networks, Rastegari et al. 2016). The sign uses the
// identity straight-through estimator and alpha keeps its true gradient, so
// dL/dx_j = alpha*g_j + sign(x_j)/n * sum_i g_i*sign(x_i) over x_j's channel.
func ScaledSign(x *Node, outputAxis int) *Node {
	return Mul(ChannelMeanAbs(x, outputAxis), SignSTE(x))
}

// Quantizer turns latent float weights into the weights a binary layer uses in
// its forward pass. Implementations are stateless values.
type Quantizer interface {
	// Name is the quantizer's name, as accepted by Parse.
	Name() string
	// Quantize returns the quantized weights. outputAxis is the axis of the
	// output channels (for per-channel scales). uniform is a tensor of U[0,1)
	// samples shaped like w for stochastic quantizers while training, and nil
	// in evaluation, where stochastic quantizers fall back to sign(w).
	Quantize(w *Node, outputAxis int, uniform *Node) *Node
	// NeedsNoise reports whether Quantize wants uniform noise while training.
	NeedsNoise() bool
	// Scaled reports whether the output is alpha*sign(w) rather than sign(w).
	Scaled() bool
}

// Elementwise is implemented by the quantizers whose forward value is a
// function of each weight alone and whose straight-through estimator is an
// element-wise gradient rule (ste_sign, ste_sign_cancel, approx_sign). Layers
// use it to fold the estimator into their own hand-written gradient instead
// of building it from graph ops.
type Elementwise interface {
	Quantizer
	// Binarize returns the quantized weights, without a gradient.
	Binarize(w *Node) *Node
	// LatentGradient returns the gradient of the latent weights w given the
	// gradient g of Binarize(w); nil means the identity (g itself).
	LatentGradient() func(w, g *Node) *Node
}

type quantizer struct {
	name        string
	fn          func(w *Node, outputAxis int, uniform *Node) *Node
	noise, scal bool
}

// signQuantizer is a quantizer with the value HardSign and an element-wise
// gradient rule (kept comparable: no func fields).
type signQuantizer struct {
	quantizer
}

func (q signQuantizer) Binarize(w *Node) *Node { return HardSign(w) }
func (q signQuantizer) LatentGradient() func(w, g *Node) *Node {
	switch q.name {
	case "ste_sign_cancel":
		return cancelGradient
	case "approx_sign":
		return approxGradient
	}
	return nil
}

// IsSTESign reports whether q is STESign: sign(w) with the identity
// straight-through estimator, the quantizer whose binary weights an
// optimizer may compute outside the graph (layers.Control.WithHostSign).
func IsSTESign(q Quantizer) bool {
	s, ok := q.(signQuantizer)
	return ok && s.name == "ste_sign"
}

func (q quantizer) Name() string     { return q.name }
func (q quantizer) NeedsNoise() bool { return q.noise }
func (q quantizer) Scaled() bool     { return q.scal }
func (q quantizer) Quantize(w *Node, outputAxis int, uniform *Node) *Node {
	return q.fn(w, outputAxis, uniform)
}
func (q quantizer) String() string { return q.name }

var (
	// STESign is sign(w) with the identity straight-through estimator (the paper's code; default).
	STESign Quantizer = signQuantizer{quantizer: quantizer{name: "ste_sign", fn: func(w *Node, _ int, _ *Node) *Node { return SignSTE(w) }}}
	// STESignCancel is sign(w) with the gradient cancelled where |w| > 1 (Larq's ste_sign).
	STESignCancel Quantizer = signQuantizer{quantizer: quantizer{name: "ste_sign_cancel", fn: func(w *Node, _ int, _ *Node) *Node { return SignSTECancel(w) }}}
	// ApproxSignQ is sign(w) with Bi-Real Net's approximate gradient.
	ApproxSignQ Quantizer = signQuantizer{quantizer: quantizer{name: "approx_sign", fn: func(w *Node, _ int, _ *Node) *Node { return ApproxSign(w) }}}
	// StochasticSign is BinaryConnect's stochastic binarization while training and sign(w) in evaluation.
	StochasticSign Quantizer = quantizer{name: "stochastic", noise: true, fn: func(w *Node, _ int, u *Node) *Node {
		if u == nil {
			return SignSTE(w)
		}
		return Stochastic(w, u)
	}}
	// MeanScaledSign is BWN's alpha*sign(w) with alpha the per-output-channel mean |w|.
	MeanScaledSign Quantizer = quantizer{name: "scaled_sign", scal: true, fn: func(w *Node, axis int, _ *Node) *Node { return ScaledSign(w, axis) }}
)

// All lists the available quantizers.
func All() []Quantizer {
	return []Quantizer{STESign, STESignCancel, ApproxSignQ, StochasticSign, MeanScaledSign}
}

// Names lists the names of the available quantizers.
func Names() []string {
	var names []string
	for _, q := range All() {
		names = append(names, q.Name())
	}
	return names
}

// Parse returns the quantizer with the given name.
func Parse(name string) (Quantizer, error) {
	for _, q := range All() {
		if q.Name() == name {
			return q, nil
		}
	}
	names := Names()
	slices.Sort(names)
	return nil, fmt.Errorf("quant: unknown quantizer %q (known: %s)", name, strings.Join(names, ", "))
}
