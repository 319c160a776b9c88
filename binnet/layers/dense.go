package layers

import (
	"math"

	"github.com/binnet/binnet/binnet/ops"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// DenseBuilder configures a quantized fully connected layer; create it with Dense.
type DenseBuilder struct {
	scope       *model.Scope
	ctl         *Control
	x           *Node
	units       int
	bias        bool
	clip        bool
	binarizable bool
	quantizer   quant.Quantizer
}

// Dense builds a fully connected layer x·W + b with units outputs, over the
// last axis of x. By default the layer is binarizable (its binary state comes
// from ctl), has a float bias, and initializes like PyTorch's nn.Linear:
// weights and bias uniform in ±1/sqrt(fan_in).
func Dense(scope *model.Scope, ctl *Control, x *Node, units int) *DenseBuilder {
	return &DenseBuilder{scope: scope, ctl: ctl, x: x, units: units, bias: true, binarizable: true}
}

// Bias sets whether the layer adds a (float) bias. Default true.
func (b *DenseBuilder) Bias(useBias bool) *DenseBuilder { b.bias = useBias; return b }

// ClipLatent sets whether the optimizer clips the latent weights to [-1,1]
// after each update (BinaryConnect's clipping). Default false, as in the
// paper's code.
func (b *DenseBuilder) ClipLatent(clip bool) *DenseBuilder { b.clip = clip; return b }

// Quantizer overrides the Control's quantizer for this layer.
func (b *DenseBuilder) Quantizer(q quant.Quantizer) *DenseBuilder { b.quantizer = q; return b }

// FloatOnly makes the layer a plain float layer that schedules never binarize
// and that does not count among the binarizable layers.
func (b *DenseBuilder) FloatOnly() *DenseBuilder { b.binarizable = false; return b }

// Done builds the layer and returns its output.
func (b *DenseBuilder) Done() *Node {
	x := b.x
	g := x.Graph()
	fanIn := x.Shape().Dimensions[x.Rank()-1]
	bound := 1 / math.Sqrt(float64(fanIn))
	init := initializer.RandomUniformFn(b.scope, -bound, bound)
	wVar := b.scope.WithInitializer(init).VariableWithShape("weights", shapes.Make(x.DType(), fanIn, b.units))
	w := wVar.ValueGraph(g)
	var y *Node
	if b.binarizable {
		q := b.quantizer
		if q == nil {
			q = b.ctl.Quantizer()
		}
		idx := b.ctl.register(Info{Kind: KindDense, Scope: b.scope.Scope(), Weights: wVar, Quantizer: q,
			ClipLatent: b.clip, FanIn: fanIn, Outputs: b.units, OutputSize: 1, KernelShape: []int{fanIn, b.units}})
		y = b.ctl.denseProduct(b.scope, idx, x, w, q)
	} else if b.ctl.Training() {
		y = ops.DenseProduct(x, w)
	} else {
		y = MatMul(x, w)
	}
	if b.bias {
		bVar := b.scope.WithInitializer(init).VariableWithShape("bias", shapes.Make(x.DType(), b.units))
		y = Add(y, ExpandLeftToRank(bVar.ValueGraph(g), y.Rank()))
	}
	return y
}
