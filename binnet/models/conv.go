package models

import (
	"fmt"
	"strings"

	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/ops"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Adaptable is a Network that can be rebuilt for another input size or
// number of classes (e.g. ResNet-21 on a 64x64, 10-class image folder).
type Adaptable interface {
	Network
	// Adapt returns the same architecture for examples shaped inputShape
	// and the given number of classes, or an error naming what does not fit
	// (the adapted network must pass Validate: 2 classes or more, sizes
	// within MaxSize).
	Adapt(inputShape []int, classes int) (Network, error)
}

// checkImage validates an image input shape [h, w, c] against a minimum size.
func checkImage(name string, shape []int, minSize int) error {
	if len(shape) != 3 || shape[0] < minSize || shape[1] < minSize || shape[2] < 1 {
		return fmt.Errorf("models: %s wants images [height, width, channels] of at least %dx%d, got %v", name, minSize, minSize, shape)
	}
	return nil
}

// VGG is the VGG-style network of the paper's CIFAR-10 experiments (after
// Frankle and Carbin, 2019): blocks of two 3x3 convolutions (each followed by
// batch norm and ReLU) and a 2x2 max pooling, then fully connected layers
// with batch norm, the classifier's included. Every convolution and dense
// layer is binarizable: VGG-5 has 2+3 and VGG-9 6+3.
type VGG struct {
	Label   string // e.g. "vgg5"
	Input   []int  // [height, width, channels], [32, 32, 3] for CIFAR-10
	Blocks  []int  // channels of each block: [64] for VGG-5, [64, 128, 256] for VGG-9
	Hidden  []int  // hidden dense layers: [256, 256]
	Classes int    // output classes, 10 for CIFAR-10
}

// Name returns the label and the input shape, e.g. "vgg5-32x32x3".
func (v VGG) Name() string { return fmt.Sprintf("%s-%s", v.Label, shapeName(v.Input)) }

// InputShape returns Input.
func (v VGG) InputShape() []int { return append([]int(nil), v.Input...) }

// NumClasses returns Classes.
func (v VGG) NumClasses() int { return v.Classes }

// NumBinarizable is two per block plus the dense layers.
func (v VGG) NumBinarizable() int { return 2*len(v.Blocks) + len(v.Hidden) + 1 }

// Logits builds the network. The ReLU that ends a block is applied after
// its max pooling rather than before: ReLU is monotone, so ReLU(max) =
// max(ReLU) exactly, and the gradients are equal too (the pooling sends
// the gradient to the maximal entries, where ReLU's derivative is the same
// as at the maximum; where the maximum is not positive both give zero).
// The ReLU then runs on a quarter of the elements, and on the pure-Go
// backend the pooling's reshape no longer copies the activations that
// ReLU's gradient also reads. TestPoolThenReLU checks the equality.
func (v VGG) Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node {
	n := 0
	xs := ops.SplitBatch(x)
	for _, ch := range v.Blocks {
		for i := range 2 {
			n++
			xs = layers.Conv2DParts(scope.In("conv%d", n), ctl, xs, ch).DoneParts()
			xs = layers.BatchNormParts(scope.In("bn%d", n), ctl, xs).DoneParts()
			for j := range xs {
				if i == 1 {
					xs[j] = ops.MaxPool2D(xs[j], 2, 2, 0)
				}
				xs[j] = ops.ReLU(xs[j]) // after the pooling, see Logits' doc
			}
		}
	}
	x = ops.JoinBatch(xs)
	x = Reshape(x, x.Shape().Dimensions[0], -1)
	for _, units := range v.Hidden {
		n++
		x = layers.Dense(scope.In("dense%d", n), ctl, x, units).Done()
		x = ops.ReLU(layers.BatchNorm(scope.In("bn%d", n), ctl, x).Done())
	}
	n++
	x = layers.Dense(scope.In("dense%d", n), ctl, x, v.Classes).Done()
	return layers.BatchNorm(scope.In("bn%d", n), ctl, x).Done()
}

// Adapt returns the network for another input shape or number of classes.
func (v VGG) Adapt(inputShape []int, classes int) (Network, error) {
	minSize := 1 << len(v.Blocks)
	if err := checkImage(v.Label, inputShape, minSize); err != nil {
		return nil, err
	}
	if inputShape[0]%minSize != 0 || inputShape[1]%minSize != 0 {
		return nil, fmt.Errorf("models: %s pools %d times by 2: the image size %dx%d must be a multiple of %d", v.Label, len(v.Blocks), inputShape[0], inputShape[1], minSize)
	}
	v.Input, v.Classes = append([]int(nil), inputShape...), classes
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// SmallCNN is a small convolutional network for 28x28 grey images, the
// benchmark network conv32-conv64-maxpool-dense10: two 3x3 convolutions
// with batch norm and ReLU, a 2x2 max pooling and a dense classifier with
// batch norm. Three binarizable layers.
type SmallCNN struct {
	Input   []int // [28, 28, 1]
	Classes int   // output classes, 10 for MNIST
}

// Name returns "cnn-" and the input shape.
func (c SmallCNN) Name() string { return "cnn-" + shapeName(c.Input) }

// InputShape returns Input.
func (c SmallCNN) InputShape() []int { return append([]int(nil), c.Input...) }

// NumClasses returns Classes.
func (c SmallCNN) NumClasses() int { return c.Classes }

// NumBinarizable returns 3.
func (c SmallCNN) NumBinarizable() int { return 3 }

// Logits builds the network, with the ReLU after the pooling as in
// VGG.Logits (the same values and gradients).
func (c SmallCNN) Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node {
	xs := ops.SplitBatch(x)
	for i, ch := range []int{32, 64} {
		xs = layers.Conv2DParts(scope.In("conv%d", i+1), ctl, xs, ch).DoneParts()
		xs = layers.BatchNormParts(scope.In("bn%d", i+1), ctl, xs).DoneParts()
		for j := range xs {
			if i == 1 {
				xs[j] = ops.MaxPool2D(xs[j], 2, 2, 0)
			}
			xs[j] = ops.ReLU(xs[j]) // after the pooling, see VGG.Logits
		}
	}
	x = ops.JoinBatch(xs)
	x = Reshape(x, x.Shape().Dimensions[0], -1)
	x = layers.Dense(scope.In("dense3"), ctl, x, c.Classes).Done()
	return layers.BatchNorm(scope.In("bn3"), ctl, x).Done()
}

// Adapt returns the network for another input shape or number of classes.
func (c SmallCNN) Adapt(inputShape []int, classes int) (Network, error) {
	if err := checkImage("cnn", inputShape, 2); err != nil {
		return nil, err
	}
	if inputShape[0]%2 != 0 || inputShape[1]%2 != 0 {
		return nil, fmt.Errorf("models: cnn pools by 2: the image size %dx%d must be even", inputShape[0], inputShape[1])
	}
	c.Input, c.Classes = append([]int(nil), inputShape...), classes
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ResNetCIFAR is the CIFAR-10 ResNet of He et al. (2016) as in the paper's
// code: a 3x3 stem convolution with 16 channels, three stages of basic
// blocks with 16, 32 and 64 channels (the first block of stages 2 and 3
// halves the size), "option A" shortcuts (subsampling and zero channels, no
// weights), global average pooling and a dense classifier with a float bias
// and no batch norm after it. Convolutions have no bias. ResNet-20 has 3
// blocks per stage: 1 + 18 + 1 = 20 binarizable layers.
type ResNetCIFAR struct {
	Label          string // "resnet20"
	Input          []int  // [32, 32, 3]
	BlocksPerStage int    // 3 for ResNet-20
	Classes        int    // output classes, 10 for CIFAR-10
}

// Name returns the label and the input shape.
func (r ResNetCIFAR) Name() string { return fmt.Sprintf("%s-%s", r.Label, shapeName(r.Input)) }

// InputShape returns Input.
func (r ResNetCIFAR) InputShape() []int { return append([]int(nil), r.Input...) }

// NumClasses returns Classes.
func (r ResNetCIFAR) NumClasses() int { return r.Classes }

// NumBinarizable is the stem, two per block and the classifier.
func (r ResNetCIFAR) NumBinarizable() int { return 2 + 6*r.BlocksPerStage }

// Logits builds the network; layers are numbered in the order of the
// paper's code (stem, then each block's two convolutions, then the classifier).
func (r ResNetCIFAR) Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node {
	xs := layers.Conv2DParts(scope.In("conv1"), ctl, ops.SplitBatch(x), 16).Bias(false).DoneParts()
	xs = eachPart(layers.BatchNormParts(scope.In("bn1"), ctl, xs).DoneParts(), ops.ReLU)
	for _, b := range r.ResidualBlocks() {
		s := scope.In("%s", b.Scope())
		out := layers.Conv2DParts(s.In("conv1"), ctl, xs, b.Planes).Stride(b.Stride).Bias(false).DoneParts()
		out = eachPart(layers.BatchNormParts(s.In("bn1"), ctl, out).DoneParts(), ops.ReLU)
		out = layers.Conv2DParts(s.In("conv2"), ctl, out, b.Planes).Bias(false).DoneParts()
		out = layers.BatchNormParts(s.In("bn2"), ctl, out).DoneParts()
		for i, x := range xs {
			shortcut := x
			if !b.Identity() {
				shortcut = optionAShortcut(x, b.Stride, b.Planes-b.In)
			}
			xs[i] = ops.ReLU(Add(out[i], shortcut))
		}
	}
	x = ops.JoinBatch(eachPart(xs, func(x *Node) *Node { return ReduceMean(x, 1, 2) }))
	return layers.Dense(scope.In("linear"), ctl, x, r.Classes).Done()
}

// eachPart applies f to every part of a batch (see ops.SplitBatch), in place.
func eachPart(xs []*Node, f func(*Node) *Node) []*Node {
	for i, x := range xs {
		xs[i] = f(x)
	}
	return xs
}

// ResidualBlock is one basic block of a ResNet: two 3x3 convolutions from
// In to Planes channels, the first with Stride, and a shortcut.
type ResidualBlock struct {
	Stage, Block int // 1-based stage, 0-based block in the stage
	In, Planes   int // input and output channels
	Stride       int // 2 for the first block of every stage after the first
}

// Scope is the block's variable scope, "layer<stage>_block<block>".
func (b ResidualBlock) Scope() string { return fmt.Sprintf("layer%d_block%d", b.Stage, b.Block) }

// Identity reports whether the block's input reaches its sum unchanged
// (same size and channels); otherwise the shortcut projects it.
func (b ResidualBlock) Identity() bool { return b.Stride == 1 && b.In == b.Planes }

// residualBlocks lays out stages of blocks basic blocks each, with the
// given output channels, after a stem of stem channels: each stage after
// the first starts with stride 2.
func residualBlocks(stem int, planes []int, blocks int) []ResidualBlock {
	var out []ResidualBlock
	in := stem
	for stage, p := range planes {
		for blk := 0; blk < blocks; blk++ {
			stride := 1
			if stage > 0 && blk == 0 {
				stride = 2
			}
			out = append(out, ResidualBlock{Stage: stage + 1, Block: blk, In: in, Planes: p, Stride: stride})
			in = p
		}
	}
	return out
}

// ResidualBlocks returns the network's basic blocks in build order: three
// stages of 16, 32 and 64 channels after a 16-channel stem.
func (r ResNetCIFAR) ResidualBlocks() []ResidualBlock {
	return residualBlocks(16, []int{16, 32, 64}, r.BlocksPerStage)
}

// ResidualBlocks returns the network's basic blocks in build order: four
// stages of two blocks, 64 to 512 channels, after a 64-channel stem.
func (r ResNet18) ResidualBlocks() []ResidualBlock {
	return residualBlocks(64, []int{64, 128, 256, 512}, 2)
}

// optionAShortcut subsamples x by stride and pads extra channels with zeros,
// half on each side (the paper's F.pad(x[:, :, ::2, ::2], (..., planes//4, planes//4))).
func optionAShortcut(x *Node, stride, extra int) *Node {
	if stride > 1 {
		x = Slice(x, AxisRange(), AxisRange().Stride(stride), AxisRange().Stride(stride), AxisRange())
	}
	if extra > 0 {
		x = Pad(x, ScalarZero(x.Graph(), x.DType()), PadAxis{}, PadAxis{}, PadAxis{}, PadAxis{Start: extra / 2, End: extra - extra/2})
	}
	return x
}

// Adapt returns the network for another input shape or number of classes.
func (r ResNetCIFAR) Adapt(inputShape []int, classes int) (Network, error) {
	if err := checkImage(r.Label, inputShape, 4); err != nil {
		return nil, err
	}
	r.Input, r.Classes = append([]int(nil), inputShape...), classes
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// ResNet18 is the ImageNet ResNet-18 of the paper's ImageNet experiments
// ("ResNet-21"): a 7x7 stride-2 stem with max pooling, four stages of two
// basic blocks (64, 128, 256, 512 channels; stages 2-4 start with stride 2
// and a 1x1 stride-2 downsampling convolution with batch norm on the
// shortcut), global average pooling and a dense classifier with a bias.
// Convolutions have no bias and torchvision's initialization. Its 21
// binarizable layers are numbered as in the paper's code: the stem, then in
// each block conv1, conv2 and (first block of stages 2-4) the downsampling
// convolution, then the classifier.
type ResNet18 struct {
	Input   []int // [224, 224, 3]
	Classes int   // 1000
}

// Name returns "resnet21-" and the input shape.
func (r ResNet18) Name() string { return "resnet21-" + shapeName(r.Input) }

// InputShape returns Input.
func (r ResNet18) InputShape() []int { return append([]int(nil), r.Input...) }

// NumClasses returns Classes.
func (r ResNet18) NumClasses() int { return r.Classes }

// NumBinarizable returns 21.
func (r ResNet18) NumBinarizable() int { return 21 }

// Logits builds the network.
func (r ResNet18) Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node {
	xs := layers.Conv2DParts(scope.In("conv1"), ctl, ops.SplitBatch(x), 64).KernelSize(7).Stride(2).Bias(false).KaimingNormalFanOut().DoneParts()
	xs = eachPart(layers.BatchNormParts(scope.In("bn1"), ctl, xs).DoneParts(), func(x *Node) *Node { return ops.MaxPool2D(ops.ReLU(x), 3, 2, 1) })
	for _, b := range r.ResidualBlocks() {
		s := scope.In("%s", b.Scope())
		out := layers.Conv2DParts(s.In("conv1"), ctl, xs, b.Planes).Stride(b.Stride).Bias(false).KaimingNormalFanOut().DoneParts()
		out = eachPart(layers.BatchNormParts(s.In("bn1"), ctl, out).DoneParts(), ops.ReLU)
		out = layers.Conv2DParts(s.In("conv2"), ctl, out, b.Planes).Bias(false).KaimingNormalFanOut().DoneParts()
		out = layers.BatchNormParts(s.In("bn2"), ctl, out).DoneParts()
		shortcut := xs
		if !b.Identity() {
			shortcut = layers.Conv2DParts(s.In("downsample"), ctl, xs, b.Planes).KernelSize(1).Stride(b.Stride).NoPadding().
				Bias(false).KaimingNormalFanOut().DoneParts()
			shortcut = layers.BatchNormParts(s.In("downsample_bn"), ctl, shortcut).DoneParts()
		}
		for i := range xs {
			xs[i] = ops.ReLU(Add(out[i], shortcut[i]))
		}
	}
	x = ops.JoinBatch(eachPart(xs, func(x *Node) *Node { return ReduceMean(x, 1, 2) }))
	return layers.Dense(scope.In("fc"), ctl, x, r.Classes).Done()
}

// Adapt returns the network for another input shape or number of classes.
func (r ResNet18) Adapt(inputShape []int, classes int) (Network, error) {
	if err := checkImage("resnet21", inputShape, 32); err != nil {
		return nil, err
	}
	r.Input, r.Classes = append([]int(nil), inputShape...), classes
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func shapeName(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}
