package layers

import (
	"github.com/binnet/binnet/binnet/ops"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// BatchNormBuilder configures a batch normalization; create it with BatchNorm.
type BatchNormBuilder struct {
	scope    *model.Scope
	ctl      *Control
	xs       []*Node // the batch, in one or several parts
	axis     int
	momentum float64
	epsilon  float64
	affine   bool
}

// BatchNorm normalizes x per feature (the last axis by default) with the batch
// statistics while training, and with running averages in evaluation.
//
// Unlike GoMLX's norm.BatchNorm on the pure-Go backend, the gradient flows
// through the batch mean and variance, as in PyTorch. The defaults are
// PyTorch's: momentum 0.1, epsilon 1e-5, learned scale and offset. The running
// variance is the unbiased batch variance, as in PyTorch. In training the
// normalization is ops.BatchNormTraining, whose gradient is written by hand
// in fewer passes over x than GoMLX's derivative of the expression; in
// evaluation it is ops.BatchNormInference with the running averages.
func BatchNorm(scope *model.Scope, ctl *Control, x *Node) *BatchNormBuilder {
	return BatchNormParts(scope, ctl, []*Node{x})
}

// BatchNormParts is BatchNorm of a batch held as parts (see Conv2DParts):
// the statistics are those of the whole batch, the normalization is applied
// to each part (ops.BatchNormTrainingParts), and DoneParts returns one output
// per part.
func BatchNormParts(scope *model.Scope, ctl *Control, xs []*Node) *BatchNormBuilder {
	return &BatchNormBuilder{scope: scope, ctl: ctl, xs: xs, axis: -1, momentum: 0.1, epsilon: 1e-5, affine: true}
}

// FeatureAxis sets the axis of the features (default -1, the last one).
func (b *BatchNormBuilder) FeatureAxis(axis int) *BatchNormBuilder { b.axis = axis; return b }

// Momentum sets the weight of the current batch in the running averages.
func (b *BatchNormBuilder) Momentum(m float64) *BatchNormBuilder { b.momentum = m; return b }

// Epsilon sets the constant added to the variance.
func (b *BatchNormBuilder) Epsilon(eps float64) *BatchNormBuilder { b.epsilon = eps; return b }

// Affine sets whether a learned scale (gamma) and offset (beta) follow.
func (b *BatchNormBuilder) Affine(affine bool) *BatchNormBuilder { b.affine = affine; return b }

// Done builds the normalization and returns its output, shaped like x (the
// parts' outputs concatenated along the first axis for BatchNormParts).
func (b *BatchNormBuilder) Done() *Node {
	return ops.JoinBatch(b.DoneParts())
}

// DoneParts builds the normalization and returns one output per part.
func (b *BatchNormBuilder) DoneParts() []*Node {
	if len(b.xs) == 0 {
		panic("layers.BatchNormParts: no parts")
	}
	x := b.xs[0]
	g := x.Graph()
	rank := x.Rank()
	axis := b.axis
	if axis < 0 {
		axis += rank
	}
	features := x.Shape().Dimensions[axis]
	dtype := x.DType()
	fshape := shapes.Make(dtype, features)
	count := 0 // values per feature in the batch
	for _, x := range b.xs {
		count += x.Shape().Size() / features
	}

	runMean := b.scope.WithInitializer(initializer.Zero).VariableWithShape("running_mean", fshape).SetTrainable(false)
	runVar := b.scope.WithInitializer(initializer.One).VariableWithShape("running_var", fshape).SetTrainable(false)

	var gamma, beta *Node
	if b.affine {
		gamma = b.scope.WithInitializer(initializer.One).VariableWithShape("gamma", fshape).ValueGraph(g)
		beta = b.scope.WithInitializer(initializer.Zero).VariableWithShape("beta", fshape).ValueGraph(g)
	}
	if b.ctl.Training() {
		ys, mean, variance := ops.BatchNormTrainingParts(b.xs, gamma, beta, axis, b.epsilon)
		if count > 1 {
			m := b.momentum
			unbiased := MulScalar(StopGradient(variance), float64(count)/float64(count-1))
			runMean.SetValueGraph(Add(MulScalar(runMean.ValueGraph(g), 1-m), MulScalar(StopGradient(mean), m)))
			runVar.SetValueGraph(Add(MulScalar(runVar.ValueGraph(g), 1-m), MulScalar(unbiased, m)))
		}
		return ys
	}
	ys := make([]*Node, len(b.xs))
	for i, x := range b.xs {
		ys[i] = ops.BatchNormInference(x, runMean.ValueGraph(g), runVar.ValueGraph(g), gamma, beta, axis, b.epsilon)
	}
	return ys
}
