package layers

import (
	"math"

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
	x           *Node
	channels    int
	kernel      int
	stride      int
	same        bool
	bias        bool
	clip        bool
	binarizable bool
	quantizer   quant.Quantizer
}

// Conv2D builds a 2D convolution of x, shaped [batch, height, width,
// channels] (channels last), with the given number of output channels. The
// defaults are a 3x3 kernel, stride 1, "same" padding, a float bias, and
// PyTorch's nn.Conv2d initialization (uniform in ±1/sqrt(fan_in)). The kernel
// is shaped [kh, kw, in, out]; its output axis is the last.
func Conv2D(scope *model.Scope, ctl *Control, x *Node, channels int) *Conv2DBuilder {
	return &Conv2DBuilder{scope: scope, ctl: ctl, x: x, channels: channels, kernel: 3, stride: 1, same: true,
		bias: true, binarizable: true}
}

// KernelSize sets the (square) kernel size.
func (b *Conv2DBuilder) KernelSize(k int) *Conv2DBuilder { b.kernel = k; return b }

// Stride sets the stride of both spatial axes.
func (b *Conv2DBuilder) Stride(s int) *Conv2DBuilder { b.stride = s; return b }

// PadSame pads so that, at stride 1, the output has the input's size (default).
func (b *Conv2DBuilder) PadSame() *Conv2DBuilder { b.same = true; return b }

// NoPadding makes a "valid" convolution.
func (b *Conv2DBuilder) NoPadding() *Conv2DBuilder { b.same = false; return b }

// Bias sets whether the layer adds a (float) bias per output channel.
func (b *Conv2DBuilder) Bias(useBias bool) *Conv2DBuilder { b.bias = useBias; return b }

// ClipLatent sets whether latent weights are clipped to [-1,1] after each update.
func (b *Conv2DBuilder) ClipLatent(clip bool) *Conv2DBuilder { b.clip = clip; return b }

// Quantizer overrides the Control's quantizer for this layer.
func (b *Conv2DBuilder) Quantizer(q quant.Quantizer) *Conv2DBuilder { b.quantizer = q; return b }

// FloatOnly makes the layer a plain float layer that schedules never binarize.
func (b *Conv2DBuilder) FloatOnly() *Conv2DBuilder { b.binarizable = false; return b }

// Done builds the convolution and returns its output.
func (b *Conv2DBuilder) Done() *Node {
	x := b.x
	g := x.Graph()
	inC := x.Shape().Dimensions[3]
	fanIn := b.kernel * b.kernel * inC
	bound := 1 / math.Sqrt(float64(fanIn))
	init := initializer.RandomUniformFn(b.scope, -bound, bound)
	kshape := []int{b.kernel, b.kernel, inC, b.channels}
	wVar := b.scope.WithInitializer(init).VariableWithShape("weights", shapes.Make(x.DType(), kshape...))
	w := wVar.ValueGraph(g)
	conv := func(w *Node) *Node {
		c := Convolve(x, w).Strides(b.stride)
		if b.same {
			c = c.PadSame()
		} else {
			c = c.NoPadding()
		}
		return c.Done()
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
	y := conv(w)
	if info != nil {
		info.OutputSize = y.Shape().Dimensions[1] * y.Shape().Dimensions[2]
	}
	if b.bias {
		bVar := b.scope.WithInitializer(init).VariableWithShape("bias", shapes.Make(x.DType(), b.channels))
		y = Add(y, ExpandLeftToRank(bVar.ValueGraph(g), y.Rank()))
	}
	return y
}
