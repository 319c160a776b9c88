package ops

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// BatchNormTraining normalizes x with the statistics of its batch, over every
// axis but featureAxis, and applies the per-feature scale gamma and offset
// beta (each shaped [features]; nil: 1 and 0):
//
//	y = (x - mean) / sqrt(variance + epsilon) * gamma + beta
//
// It returns y and the batch's mean and (biased) variance, shaped [features],
// for the running statistics (they carry no gradient; wrap them in
// StopGradient before use). The gradient is written by hand, in the fewest
// passes over x that the element-wise graph ops allow: with c = x - mean,
// s = 1/sqrt(variance + epsilon) and n the values per feature,
//
//	dβ = Σ dy,  dγ = s·Σ dy·c,  dx = γs·dy − γs³·(Σ dy·c)/n·c − γs·(Σ dy)/n
//
// that is one product and two sums, then four passes (GoMLX's derivative of
// the same expression takes about twelve on the pure-Go backend, four of them
// broadcasts of per-feature vectors to x's full shape). The forward pass
// takes four passes plus the two sums.
func BatchNormTraining(x, gamma, beta *Node, featureAxis int, epsilon float64) (y, mean, variance *Node) {
	ys, mean, variance := batchNormTraining("BatchNormTraining", []*Node{x}, gamma, beta, featureAxis, epsilon)
	return ys[0], mean, variance
}

// BatchNormTrainingParts is BatchNormTraining of the parts xs of one batch
// (split along any axis but featureAxis, typically the first: see
// SplitBatch), without joining them: the statistics are those of all the
// parts together, and every element-wise pass runs per part, so that the
// passes of different parts are independent operations, which the pure-Go
// backend's executors run at the same time (its element-wise operations
// use one thread each). It returns one output per part, and the batch's
// mean and variance.
func BatchNormTrainingParts(xs []*Node, gamma, beta *Node, featureAxis int, epsilon float64) (ys []*Node, mean, variance *Node) {
	return batchNormTraining("BatchNormTrainingParts", xs, gamma, beta, featureAxis, epsilon)
}

// batchNormTraining is BatchNormTrainingParts, naming op in its panics
// (BatchNormTraining is its case of one part).
func batchNormTraining(op string, xs []*Node, gamma, beta *Node, featureAxis int, epsilon float64) (ys []*Node, mean, variance *Node) {
	if len(xs) == 0 {
		panic(fmt.Sprintf("ops.%s: no parts", op))
	}
	var axes []int
	var wide func(*Node) *Node
	var features int
	n := 0.0
	for _, x := range xs {
		axes, wide, features = featureGeometry(op, x, featureAxis, gamma, beta)
		n += float64(x.Shape().Size() / features)
	}
	g := xs[0].Graph()
	if gamma == nil {
		gamma = Ones(g, shapes.Make(xs[0].DType(), features))
	}
	if beta == nil {
		beta = Zeros(g, shapes.Make(xs[0].DType(), features))
	}
	p := len(xs)
	cs := make([]*Node, p) // read again by the gradient
	var s *Node
	sumOver := func(f func(i int) *Node) *Node {
		sum := ReduceSum(f(0), axes...)
		for i := 1; i < p; i++ {
			sum = Add(sum, ReduceSum(f(i), axes...))
		}
		return sum
	}
	ys = withGradients(append(append([]*Node(nil), xs...), gamma, beta),
		func(in []*Node) []*Node {
			xs, gamma, beta := in[:p], in[p], in[p+1]
			mean = MulScalar(sumOver(func(i int) *Node { return xs[i] }), 1/n)
			for i, x := range xs {
				cs[i] = Sub(x, wide(mean))
			}
			variance = MulScalar(sumOver(func(i int) *Node { return Mul(cs[i], cs[i]) }), 1/n)
			s = Reciprocal(Sqrt(AddScalar(variance, epsilon)))
			scale, offset := wide(Mul(gamma, s)), wide(beta)
			out := make([]*Node, p)
			for i, c := range cs {
				out[i] = Add(Mul(c, scale), offset)
			}
			return out
		},
		func(in, dys []*Node) []*Node {
			gamma := in[p]
			sumDy := sumOver(func(i int) *Node { return dys[i] })
			sumDyC := sumOver(func(i int) *Node { return Mul(dys[i], cs[i]) })
			gs := Mul(gamma, s)
			b := Neg(MulScalar(Mul(Mul(gs, Mul(s, s)), sumDyC), 1/n))
			off := Neg(MulScalar(Mul(gs, sumDy), 1/n))
			grads := make([]*Node, p+2)
			for i := range p {
				grads[i] = Add(Add(Mul(dys[i], wide(gs)), Mul(cs[i], wide(b))), wide(off))
			}
			grads[p], grads[p+1] = Mul(s, sumDyC), sumDy
			return grads
		})
	return ys, mean, variance
}

// BatchNormInference normalizes x with given per-feature statistics (the
// running averages of BatchNormTraining's mean and unbiased variance) and
// applies gamma and beta (nil: none), all shaped [features]:
// (x - mean) / sqrt(variance + epsilon) * gamma + beta. Its gradient is
// GoMLX's.
func BatchNormInference(x, mean, variance, gamma, beta *Node, featureAxis int, epsilon float64) *Node {
	_, wide, _ := featureGeometry("BatchNormInference", x, featureAxis, mean, variance, gamma, beta)
	y := Mul(Sub(x, wide(mean)), wide(Reciprocal(Sqrt(AddScalar(variance, epsilon)))))
	if gamma != nil {
		y = Mul(y, wide(gamma))
	}
	if beta != nil {
		y = Add(y, wide(beta))
	}
	return y
}

// featureGeometry checks that featureAxis (negative: from the end) is an
// axis of x and that every non-nil per-feature vector is [features]; it
// returns the other axes (those a batch statistic reduces), a function that
// reshapes a [features] vector to broadcast against x, and features.
func featureGeometry(op string, x *Node, featureAxis int, perFeature ...*Node) (axes []int, wide func(*Node) *Node, features int) {
	rank := x.Rank()
	if featureAxis < 0 {
		featureAxis += rank
	}
	if featureAxis < 0 || featureAxis >= rank {
		panic(fmt.Sprintf("ops.%s: feature axis %d for x %s", op, featureAxis, x.Shape()))
	}
	features = x.Shape().Dimensions[featureAxis]
	for _, p := range perFeature {
		if p != nil && (p.Rank() != 1 || p.Shape().Dimensions[0] != features) {
			panic(fmt.Sprintf("ops.%s: want per-feature vectors [%d] for x %s, got %s", op, features, x.Shape(), p.Shape()))
		}
	}
	bdims := make([]int, rank)
	for a := range rank {
		bdims[a] = 1
		if a != featureAxis {
			axes = append(axes, a)
		}
	}
	bdims[featureAxis] = features
	return axes, func(v *Node) *Node { return Reshape(v, bdims...) }, features
}
