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

// Conv2DBuilder configures a quantized 2D convolution; create it with Conv2D.
type Conv2DBuilder struct {
	scope       *model.Scope
	ctl         *Control
	xs          []*Node // the batch, in one or several parts
	channels    int
	kernel      int
	stride      int
	pad         int // -1: "same", (kernel-1)/2
	bias        bool
	clip        bool
	binarizable bool
	fanOutInit  bool
	quantizer   quant.Quantizer
}

// Conv2D builds a 2D convolution of x, shaped [batch, height, width,
// channels] (channels last), with the given number of output channels. The
// defaults are a 3x3 kernel, stride 1, "same" padding ((kernel-1)/2 zeros
// on each side, PyTorch's padding=k//2), a float bias, and
// PyTorch's nn.Conv2d initialization (uniform in ±1/sqrt(fan_in)). The kernel
// is shaped [kh, kw, in, out]; its output axis is the last.
func Conv2D(scope *model.Scope, ctl *Control, x *Node, channels int) *Conv2DBuilder {
	return Conv2DParts(scope, ctl, []*Node{x}, channels)
}

// Conv2DParts is Conv2D of a batch held as parts (images split along the
// first axis): one layer, one set of weights, convolved with each part, and
// DoneParts returns one output per part. On the pure-Go backend, whose
// element-wise operations run on one thread each, parts carried from layer
// to layer (BatchNormParts, then pooling and ReLU per part) are independent
// chains of operations that its executors run at the same time.
func Conv2DParts(scope *model.Scope, ctl *Control, xs []*Node, channels int) *Conv2DBuilder {
	return &Conv2DBuilder{scope: scope, ctl: ctl, xs: xs, channels: channels, kernel: 3, stride: 1, pad: -1,
		bias: true, binarizable: true}
}

// KernelSize sets the (square) kernel size.
func (b *Conv2DBuilder) KernelSize(k int) *Conv2DBuilder { b.kernel = k; return b }

// Stride sets the stride of both spatial axes.
func (b *Conv2DBuilder) Stride(s int) *Conv2DBuilder { b.stride = s; return b }

// PadSame pads (kernel-1)/2 zeros on each side, so that at stride 1 the
// output has the input's size (default).
func (b *Conv2DBuilder) PadSame() *Conv2DBuilder { b.pad = -1; return b }

// NoPadding makes a "valid" convolution.
func (b *Conv2DBuilder) NoPadding() *Conv2DBuilder { b.pad = 0; return b }

// Padding pads p zeros on each side of both spatial axes.
func (b *Conv2DBuilder) Padding(p int) *Conv2DBuilder { b.pad = p; return b }

// Bias sets whether the layer adds a (float) bias per output channel.
func (b *Conv2DBuilder) Bias(useBias bool) *Conv2DBuilder { b.bias = useBias; return b }

// ClipLatent sets whether latent weights are clipped to [-1,1] after each update.
func (b *Conv2DBuilder) ClipLatent(clip bool) *Conv2DBuilder { b.clip = clip; return b }

// KaimingNormalFanOut initializes the kernel as torchvision's ResNets do:
// normal with standard deviation sqrt(2/(kernel*kernel*channels)).
func (b *Conv2DBuilder) KaimingNormalFanOut() *Conv2DBuilder { b.fanOutInit = true; return b }

// Quantizer overrides the Control's quantizer for this layer.
func (b *Conv2DBuilder) Quantizer(q quant.Quantizer) *Conv2DBuilder { b.quantizer = q; return b }

// FloatOnly makes the layer a plain float layer that schedules never binarize.
func (b *Conv2DBuilder) FloatOnly() *Conv2DBuilder { b.binarizable = false; return b }

// Done builds the convolution and returns its output (the parts' outputs
// concatenated along the first axis for Conv2DParts).
func (b *Conv2DBuilder) Done() *Node {
	return ops.JoinBatch(b.DoneParts())
}

// DoneParts builds the convolution and returns one output per part.
func (b *Conv2DBuilder) DoneParts() []*Node {
	if len(b.xs) == 0 {
		panic("layers.Conv2DParts: no parts")
	}
	x := b.xs[0]
	g := x.Graph()
	inC := x.Shape().Dimensions[3]
	fanIn := b.kernel * b.kernel * inC
	bound := 1 / math.Sqrt(float64(fanIn))
	init := initializer.RandomUniformFn(b.scope, -bound, bound)
	kshape := []int{b.kernel, b.kernel, inC, b.channels}
	wInit := init
	if b.fanOutInit {
		wInit = initializer.RandomNormalFn(b.scope, math.Sqrt(2/float64(b.kernel*b.kernel*b.channels)))
	}
	wVar := b.scope.WithInitializer(wInit).VariableWithShape("weights", shapes.Make(x.DType(), kshape...))
	w := wVar.ValueGraph(g)
	pad := b.pad
	if pad < 0 {
		pad = (b.kernel - 1) / 2
	}
	var info *Info
	if b.binarizable {
		q := b.quantizer
		if q == nil {
			q = b.ctl.Quantizer()
		}
		idx := b.ctl.register(Info{Kind: KindConv2D, Scope: b.scope.Scope(), Weights: wVar, Quantizer: q,
			ClipLatent: b.clip, FanIn: fanIn, Outputs: b.channels, KernelShape: kshape})
		info = &b.ctl.layers[idx]
		w = b.ctl.effectiveWeights(b.scope, idx, w, 3, q)
	}
	var bias *Node
	if b.bias {
		bVar := b.scope.WithInitializer(init).VariableWithShape("bias", shapes.Make(x.DType(), b.channels))
		bias = bVar.ValueGraph(g)
	}
	conv := ops.Conv2DBias
	if !b.ctl.Training() {
		conv = ops.Conv2DForward
	}
	ys := make([]*Node, len(b.xs))
	for i, x := range b.xs {
		ys[i] = conv(x, w, bias, b.stride, pad)
	}
	if info != nil {
		info.OutputSize = ys[0].Shape().Dimensions[1] * ys[0].Shape().Dimensions[2]
	}
	return ys
}
