// Package bnn reads and writes binnet's deployment format (.bnn files): a
// trained binary-weight network reduced to what inference needs.
//
// Binarized layers keep one bit per weight (the sign), packed per output unit
// into 64-bit words over the inputs; batch norm, the layer's bias and any
// per-channel quantizer scale are folded into one float32 scale and offset per
// output; float layers keep float32 weights. The byte layout is specified in
// docs/deploy.md and in the comments of encode.go. Every file ends with the
// SHA-256 of its content, and the header, each layer descriptor and each
// layer's data carry a CRC-32C, so that a damaged file is rejected with the
// offset and the field that is wrong.
//
// Layers run in order; each reads the previous layer's output unless it
// names an earlier activation (Layer.From), and add layers sum two
// activations (Layer.Residual), which is what residual networks need.
//
// The package depends only on the standard library (and binnet's
// internal/atomicfile, itself standard library only; TestStandardLibraryOnly):
// a small inference binary (or a WASM module) can import it, with
// deploy/runtime, without GoMLX.
package bnn

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Version is the format version this package writes. Decode reads it and
// every older version (see MinVersion). Version 3 added the add and
// globalavgpool kinds and, in every layer descriptor, the activations the
// layer reads; version 2 files (sequential: dense, conv2d, maxpool2d and
// flatten) load as they are.
const Version = 3

// MinVersion is the oldest format version Decode reads: version 1 files
// (dense and conv2d layers, one input mean and std) load as they are.
const MinVersion = 1

// Magic opens every .bnn file.
const Magic = "BNNMODEL"

// Kind is the type of a layer.
type Kind uint8

// Layer kinds. Dense and Conv2D have weights (sign bits or float32) and a
// folded scale and offset per output; the others have no data. Version 1
// files hold Dense and Conv2D layers only, version 2 files also MaxPool2D
// and Flatten, version 3 files every kind.
const (
	Dense         Kind = 1 // fully connected over the flattened input
	Conv2D        Kind = 2 // 2D convolution, channels last
	MaxPool2D     Kind = 3 // maximum over KernelH x KernelW windows moving by Stride
	Flatten       Kind = 4 // [H, W, C] (or any shape) to a vector, row-major (channels last)
	Add           Kind = 5 // act(x + r'): x the layer's input, r' its Residual subsampled by Stride and moved by ChannelOffset channels
	GlobalAvgPool Kind = 6 // [H, W, C] to [C]: the mean of each channel over the positions
	numKinds           = 7
)

// String returns the kind's name: "dense", "conv2d", "maxpool2d",
// "flatten", "add" or "globalavgpool", or "Kind(n)" for an unknown kind.
func (k Kind) String() string {
	switch k {
	case Dense:
		return "dense"
	case Conv2D:
		return "conv2d"
	case MaxPool2D:
		return "maxpool2d"
	case Flatten:
		return "flatten"
	case Add:
		return "add"
	case GlobalAvgPool:
		return "globalavgpool"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// HasWeights reports whether layers of kind k carry weights, a scale and an
// offset (Dense and Conv2D).
func (k Kind) HasWeights() bool { return k == Dense || k == Conv2D }

// Encoding is how a layer's weights are stored.
type Encoding uint8

// Weight encodings.
const (
	Float32   Encoding = 0 // one float32 per weight
	SignBits  Encoding = 1 // one bit per weight: 1 for +1 (w >= 0), 0 for -1
	numEncode          = 2
)

// String returns "float32" or "sign-bits", or "Encoding(n)" for an
// unknown encoding.
func (e Encoding) String() string {
	switch e {
	case Float32:
		return "float32"
	case SignBits:
		return "sign-bits"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Activation follows a layer's folded scale and offset.
type Activation uint8

// Activations.
const (
	None Activation = 0
	ReLU Activation = 1
)

// String returns "none" or "relu", or "Activation(n)" for an unknown
// activation.
func (a Activation) String() string {
	switch a {
	case None:
		return "none"
	case ReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// Padding of a convolution or a pooling: PadValid adds none, PadSame adds
// (KernelH-1)/2 rows at the top and at the bottom and (KernelW-1)/2 columns
// on the left and on the right (GoMLX's and PyTorch's padding=k//2 for odd
// kernels). Convolutions pad with zeros; padded positions never win a max
// pooling.
const (
	PadValid uint8 = 0
	PadSame  uint8 = 1
)

// References to activations, the values of Layer.From and Layer.Residual.
// Other values k >= 1 name the output of layer k (counted from 1, as
// Model.Shapes()[k]), which must come before the layer that reads it.
const (
	Previous   = 0  // the previous layer's output (the model's input for the first layer)
	ModelInput = -1 // the model's input
)

// ActivationOf returns the number of the activation that ref (Previous,
// ModelInput or a layer number) names for layer i (counted from 0): 0 for
// the model's input, k for the output of layer k (Model.Shapes()[k]).
func ActivationOf(i, ref int) int {
	switch {
	case ref == Previous:
		return i
	case ref == ModelInput:
		return 0
	}
	return ref
}

// Layer is one layer of a deployed network. For a Dense or Conv2D layer,
// output unit o (a unit, or a channel at one output position), with z_o the
// sum over its inputs of weight*input (weights ±1 for SignBits layers), is
// act(Scale[o]*z_o + Offset[o]). MaxPool2D, Flatten, Add and GlobalAvgPool
// layers have no weights, no scale and offset, and Inputs = Outputs = 0; of
// them only Add has an activation.
//
// A layer reads the activation From names (by default the previous layer's
// output). An Add layer of an image [H, W, C] computes
//
//	out[y, x, c] = act(in[y, x, c] + r[y*Stride, x*Stride, c-ChannelOffset])
//
// with r the activation Residual names, [Hr, Wr, Cr] with (Hr-1)/Stride+1 =
// H, (Wr-1)/Stride+1 = W and ChannelOffset+Cr <= C, and r's term 0 for the
// channels c outside ChannelOffset..ChannelOffset+Cr-1: the identity
// shortcut of a residual block (Stride 1, ChannelOffset 0, same shapes), or
// the "option A" shortcut of the CIFAR ResNets (every second row and column,
// channels zero-padded on both sides). Inputs that are not images must have
// the same shape, with Stride 1 and ChannelOffset 0.
type Layer struct {
	Name       string     // at most 16 bytes, e.g. "dense1"
	Kind       Kind       // the layer's type: Dense, Conv2D, MaxPool2D, Flatten, Add or GlobalAvgPool
	Encoding   Encoding   // SignBits (weights in Bits) or Float32 (in Weights); Float32 for kinds without weights
	Activation Activation // Dense, Conv2D and Add only
	Inputs     int        // fan-in of one output unit (dense: input features; conv: kh*kw*in channels); 0 without weights
	Outputs    int        // output units (dense) or channels (conv); 0 without weights

	// From is the activation the layer reads: Previous (the default),
	// ModelInput, or the number k >= 1 of an earlier layer. Residual is the
	// second operand of an Add layer (same values; 0 for the other kinds).
	// Decode returns Previous, not the layer number, for the previous layer,
	// and ModelInput, not Previous, for the model's input read by a layer
	// other than the first.
	From, Residual int

	// Window geometry of Conv2D and MaxPool2D layers (zero for the others);
	// an Add layer has a Stride, its residual's subsampling (>= 1), and a
	// ChannelOffset (zero for every other kind). A window must fit its
	// input with the padding, the padding on each side be at most the
	// input's height (rows) and width (columns), and a window cover at most
	// 2^24 input positions: a 3x3 window with PadSame fits a 1x1 input, a
	// 5x5 one does not (see OutputShape).
	KernelH, KernelW, Stride int   // window height and width, and its step on both axes; each 1 to 65535 where used
	Padding                  uint8 // PadValid or PadSame (Conv2D and MaxPool2D); 0 (PadValid) for the others
	ChannelOffset            int   // Add only: the channel of the input that the residual's channel 0 is added to (0 to 65535)

	// Bits holds SignBits weights: Outputs rows of WordsPerRow() words; bit
	// i%64 of word i/64 of row o is 1 when the weight from input i to output
	// o is +1. Bits past Inputs are 0. A Conv2D row is the fan-in of one
	// output channel in GoMLX's kernel order: input i = (dy*KernelW+dx)*C + c
	// for the window's row dy, column dx and input channel c.
	Bits []uint64
	// Weights holds Float32 weights: Outputs rows of Inputs values (row o
	// holds the weights of output o, in the order of Bits).
	Weights []float32

	Scale, Offset []float32 // per output
}

// WordsPerRow returns the 64-bit words of one output's sign bits.
func (l *Layer) WordsPerRow() int { return (l.Inputs + 63) / 64 }

// Pads returns the rows added at the top and at the bottom, and the columns
// added on the left and on the right, of a Conv2D or MaxPool2D input.
func (l *Layer) Pads() (rows, cols int) {
	if l.Padding == PadSame {
		return (l.KernelH - 1) / 2, (l.KernelW - 1) / 2
	}
	return 0, 0
}

// WeightBytes returns the bytes of the weights section (before padding).
func (l *Layer) WeightBytes() int {
	if !l.Kind.HasWeights() {
		return 0
	}
	if l.Encoding == SignBits {
		return 8 * l.WordsPerRow() * l.Outputs
	}
	return 4 * l.Inputs * l.Outputs
}

// Sign returns the weight (+1 or -1) from input i to output o of a SignBits
// layer. Like a slice index, it panics when o or i is out of range.
func (l *Layer) Sign(o, i int) float32 {
	if o < 0 || o >= l.Outputs || i < 0 || i >= l.Inputs {
		panic(fmt.Sprintf("bnn: Sign(%d, %d) outside a layer of %d outputs and %d inputs", o, i, l.Outputs, l.Inputs))
	}
	if l.Bits[o*l.WordsPerRow()+i/64]>>(uint(i)%64)&1 == 1 {
		return 1
	}
	return -1
}

// Model is a deployed network: its layers run in order, each on the
// previous one's output or on the earlier activations it names. Activations
// are stored row-major: an image [H, W, C] channels last, as GoMLX's NHWC
// tensors of one example.
type Model struct {
	Name       string // free text, e.g. "mlp-300-100 (mlp-784-300-100-10) ..."
	InputShape []int  // shape of one example, e.g. [784] or [28, 28, 1]; 1 to 4 axes
	// InputMean and InputStd say how raw pixels were normalized in training:
	// x = (pixel/255 - InputMean[c]) / InputStd[c], with one value for every
	// input (length 1) or one per channel, the last axis of InputShape
	// (e.g. CIFAR-10's three), c being the input's channel.
	InputMean, InputStd []float32
	Layers              []Layer // in the order they run; layer i (from 0) is numbered i+1 in From, Residual and errors
}

// Normalization returns the mean and std of input channel c (of the last
// axis of the input shape).
func (m *Model) Normalization(c int) (mean, std float32) {
	if len(m.InputMean) == 1 {
		return m.InputMean[0], m.InputStd[0]
	}
	return m.InputMean[c], m.InputStd[c]
}

// InputSize returns the number of input values of one example.
func (m *Model) InputSize() int {
	n := 1
	for _, d := range m.InputShape {
		n *= d
	}
	return n
}

// NumClasses returns the outputs of the network: the size of the last
// layer's output (0 if the model is not valid).
func (m *Model) NumClasses() int {
	shapes, err := m.Shapes()
	if err != nil {
		return 0
	}
	return size(shapes[len(shapes)-1])
}

// size returns the number of values of shape, or maxActivation+1 if it has
// more than maxActivation (no overflow for dimensions up to maxDim).
func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
		if n > maxActivation {
			return maxActivation + 1
		}
	}
	return n
}

// maxActivation bounds the values of any activation (input included), so
// that sizes computed from a damaged file cannot overflow and a runtime
// never allocates more than 1 GiB per activation buffer.
const maxActivation = 1 << 28

// MaxExampleValues bounds the activation values one example needs: the
// input's and every layer's output's, summed (1 GiB of float32). Shapes,
// and so Validate, Decode and runtime.New, refuse a model that needs more.
const MaxExampleValues = 1 << 28

// MaxExampleOps bounds the multiply-accumulates (or additions, or
// comparisons) one example costs through every layer: 2^38, about 150
// times ResNet-18's at 224x224. Shapes, and so Validate, Decode and
// runtime.New, refuse a model that needs more, which would run for minutes
// per example or longer (a big window over a big input within the memory
// bound).
const MaxExampleOps = 1 << 38

// layerOps returns the operations of layer l for one example whose output
// has shape out: weights times output positions for dense and conv2d,
// window positions times outputs for max pooling, one per output value for
// the rest. Every factor is bounded before (sizes by maxActivation, fan-in
// by the weights a file holds, windows by maxWindow), so the products stay
// far from overflowing an int64.
func layerOps(l *Layer, out []int) int64 {
	switch l.Kind {
	case Dense:
		return int64(l.Inputs) * int64(l.Outputs)
	case Conv2D:
		return int64(size(out)) * int64(l.Inputs)
	case MaxPool2D:
		return int64(size(out)) * int64(l.KernelH) * int64(l.KernelW)
	}
	return int64(size(out))
}

// maxWindow bounds the input positions one window of a conv2d or maxpool2d
// layer covers (a global pooling of a 4096x4096 image).
const maxWindow = 1 << 24

// OutputShape returns the shape of the layer's output for an input of shape
// in, or an error saying why the layer cannot take it.
func (l *Layer) OutputShape(in []int) ([]int, error) {
	switch l.Kind {
	case Dense:
		if n := size(in); n != l.Inputs {
			return nil, fmt.Errorf("%d inputs, but its input %v has %d values", l.Inputs, in, n)
		}
		return []int{l.Outputs}, nil
	case Flatten:
		return []int{size(in)}, nil
	case Conv2D, MaxPool2D:
		if len(in) != 3 {
			return nil, fmt.Errorf("wants an image [height, width, channels], its input is %v", in)
		}
		h, w, c := in[0], in[1], in[2]
		if l.Kind == Conv2D && l.Inputs != l.KernelH*l.KernelW*c {
			return nil, fmt.Errorf("%d inputs, but a %dx%d window over %d channels (its input %v) has %d", l.Inputs, l.KernelH, l.KernelW, c, in, l.KernelH*l.KernelW*c)
		}
		if l.KernelH <= 0 || l.KernelW <= 0 || l.Stride <= 0 {
			return nil, fmt.Errorf("window %dx%d with stride %d: want a window and a stride of at least 1", l.KernelH, l.KernelW, l.Stride)
		}
		ph, pw := l.Pads()
		if h+2*ph < l.KernelH || w+2*pw < l.KernelW || ph > h || pw > w {
			return nil, fmt.Errorf("window %dx%d larger than its %dx%d input (padded %dx%d): want a window no larger than the padded input, and at most the input's height and width of padding on each side",
				l.KernelH, l.KernelW, h, w, h+2*ph, w+2*pw)
		}
		if taps := min(l.KernelH, h) * min(l.KernelW, w); taps > maxWindow {
			return nil, fmt.Errorf("window %dx%d covers %d positions of its %dx%d input, more than %d", l.KernelH, l.KernelW, taps, h, w, maxWindow)
		}
		out := []int{(h+2*ph-l.KernelH)/l.Stride + 1, (w+2*pw-l.KernelW)/l.Stride + 1, c}
		if l.Kind == Conv2D {
			out[2] = l.Outputs
		}
		return out, nil
	case GlobalAvgPool:
		if len(in) != 3 {
			return nil, fmt.Errorf("wants an image [height, width, channels], its input is %v", in)
		}
		return []int{in[2]}, nil
	case Add:
		// The residual's shape is checked by ResidualFits (Model.Shapes).
		return append([]int(nil), in...), nil
	}
	return nil, fmt.Errorf("unknown kind %d", l.Kind)
}

// ResidualFits checks the shape of an Add layer's residual against its
// input's: see Layer.
func (l *Layer) ResidualFits(in, res []int) error {
	if l.Stride <= 0 || l.ChannelOffset < 0 {
		return fmt.Errorf("adds a residual with stride %d and channel offset %d: want a stride >= 1 and an offset >= 0", l.Stride, l.ChannelOffset)
	}
	if len(in) != 3 || len(res) != 3 {
		if l.Stride != 1 || l.ChannelOffset != 0 || !slices.Equal(in, res) {
			return fmt.Errorf("adds a residual %v to %v: inputs that are not images [height, width, channels] need the same shape, stride 1 and channel offset 0", res, in)
		}
		return nil
	}
	if (res[0]-1)/l.Stride+1 != in[0] || (res[1]-1)/l.Stride+1 != in[1] || l.ChannelOffset+res[2] > in[2] {
		return fmt.Errorf("adds a residual %v subsampled by %d at channel offset %d to %v: it has %dx%d positions and channels %d..%d, want %dx%d and at most %d",
			res, l.Stride, l.ChannelOffset, in, (res[0]-1)/l.Stride+1, (res[1]-1)/l.Stride+1, l.ChannelOffset, l.ChannelOffset+res[2]-1, in[0], in[1], in[2]-1)
	}
	return nil
}

// Reads returns the activations layer i (counted from 0) reads, by number
// (0 the model's input, k the output of layer k): its input, and for an Add
// layer its residual.
func (m *Model) Reads(i int) []int {
	l := &m.Layers[i]
	if l.Kind == Add {
		return []int{ActivationOf(i, l.From), ActivationOf(i, l.Residual)}
	}
	return []int{ActivationOf(i, l.From)}
}

// Shapes returns the shape of the input (Shapes()[0]) and of each layer's
// output (Shapes()[i+1] for layer i), or an error naming the first layer
// that does not fit. The last shape must be a vector (the logits).
func (m *Model) Shapes() ([][]int, error) {
	shapes := [][]int{m.InputShape}
	if size(m.InputShape) > maxActivation {
		return nil, fmt.Errorf("bnn: input shape %v: more than %d values", m.InputShape, maxActivation)
	}
	total := size(m.InputShape) // activation values of one example so far
	var ops int64               // operations of one example so far
	for i := range m.Layers {
		l := &m.Layers[i]
		reads := m.Reads(i)
		for _, a := range reads {
			if a < 0 || a > i {
				return nil, fmt.Errorf("bnn: layer %d (%s, %s): reads activation %d: want 0 (the model's input) to %d (the previous layer's output)", i+1, l.Name, l.Kind, a, i)
			}
		}
		out, err := l.OutputShape(shapes[reads[0]])
		if err == nil && l.Kind == Add {
			err = l.ResidualFits(shapes[reads[0]], shapes[reads[1]])
		}
		if err != nil {
			return nil, fmt.Errorf("bnn: layer %d (%s, %s): %w", i+1, l.Name, l.Kind, err)
		}
		if size(out) > maxActivation {
			return nil, fmt.Errorf("bnn: layer %d (%s, %s): output %v has more than %d values", i+1, l.Name, l.Kind, out, maxActivation)
		}
		if total += size(out); total > MaxExampleValues {
			return nil, fmt.Errorf("bnn: layer %d (%s, %s): output %v brings the activations of one example to %d values, more than %d (%d MiB of float32)",
				i+1, l.Name, l.Kind, out, total, MaxExampleValues, MaxExampleValues*4>>20)
		}
		if ops += layerOps(l, out); ops > MaxExampleOps {
			return nil, fmt.Errorf("bnn: layer %d (%s, %s): brings the operations of one example to %d, more than %d", i+1, l.Name, l.Kind, ops, int64(MaxExampleOps))
		}
		shapes = append(shapes, out)
	}
	if last := shapes[len(shapes)-1]; len(last) != 1 {
		return nil, fmt.Errorf("bnn: the last layer outputs %v: want a vector of logits (end with dense, flatten or globalavgpool)", last)
	}
	return shapes, nil
}

// PackSigns packs the signs of w, shaped [outputs][inputs] row-major, into
// sign-bit rows: bit set where w >= 0 (sign(0) = +1, as binnet's quantizers).
// It panics when w holds fewer than inputs*outputs values (a caller's bug,
// as a slice index out of range is).
func PackSigns(w []float32, inputs, outputs int) []uint64 {
	words := (inputs + 63) / 64
	bits := make([]uint64, words*outputs)
	for o := 0; o < outputs; o++ {
		row := bits[o*words : (o+1)*words]
		for i, v := range w[o*inputs : (o+1)*inputs] {
			if v >= 0 {
				row[i/64] |= 1 << (uint(i) % 64)
			}
		}
	}
	return bits
}

// ErrCorrupt is wrapped by every error about a damaged or malformed file.
var ErrCorrupt = errors.New("bnn: corrupt model file")

// FormatError says what is wrong in a .bnn file and where.
type FormatError struct {
	Offset int64  // byte offset of the field (or section) at fault
	Field  string // e.g. "header.version", "layer 2 (dense2).outputs", "layer 1 (dense1).weights"
	Msg    string // what is wrong, e.g. "version 9; this reader reads versions 1 to 3"
}

// Error returns "bnn: <Field> at offset <Offset>: <Msg>".
func (e *FormatError) Error() string {
	return fmt.Sprintf("bnn: %s at offset %d: %s", e.Field, e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *FormatError) Unwrap() error { return ErrCorrupt }

// Validate checks that the model is consistent: sizes of every slice, field
// ranges, finite weights, scales, offsets and normalization, the shapes of
// the layers chained from the input shape (windows against their inputs,
// the activation memory of one example). Encode calls it.
func (m *Model) Validate() error {
	if m == nil {
		return errors.New("bnn: no model (nil)")
	}
	if len(m.InputShape) < 1 || len(m.InputShape) > 4 {
		return fmt.Errorf("bnn: input shape %v: want 1 to 4 axes", m.InputShape)
	}
	for _, d := range m.InputShape {
		if d <= 0 || d > maxDim {
			return fmt.Errorf("bnn: input shape %v: dimensions must be 1 to %d", m.InputShape, maxDim)
		}
	}
	if len(m.Layers) == 0 {
		return errors.New("bnn: model has no layers")
	}
	channels := m.InputShape[len(m.InputShape)-1]
	if len(m.InputMean) != len(m.InputStd) || (len(m.InputMean) != 1 && len(m.InputMean) != channels) {
		return fmt.Errorf("bnn: %d input means and %d stds: want 1 each, or one per channel (%d) of the input shape %v",
			len(m.InputMean), len(m.InputStd), channels, m.InputShape)
	}
	for c := range m.InputMean {
		mean, std := float64(m.InputMean[c]), float64(m.InputStd[c])
		if !(std > 0) || math.IsInf(std, 0) || math.IsNaN(mean) || math.IsInf(mean, 0) {
			return fmt.Errorf("bnn: input mean %v and std %v (channel %d): want finite values and a positive std", mean, std, c)
		}
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		where := fmt.Sprintf("bnn: layer %d (%s)", i+1, l.Name)
		if len(l.Name) > nameField {
			return fmt.Errorf("%s: name longer than %d bytes", where, nameField)
		}
		if l.Kind == 0 || l.Kind >= numKinds {
			return fmt.Errorf("%s: unknown kind %d", where, l.Kind)
		}
		if l.Encoding >= numEncode {
			return fmt.Errorf("%s: unknown weight encoding %d", where, l.Encoding)
		}
		if l.Activation > ReLU {
			return fmt.Errorf("%s: unknown activation %d", where, l.Activation)
		}
		if l.From < ModelInput || l.From > i {
			return fmt.Errorf("%s: from %d: want %d (the model's input), %d (the previous layer) or an earlier layer 1..%d", where, l.From, ModelInput, Previous, i)
		}
		if l.Kind == Add && (l.Residual < ModelInput || l.Residual > i) {
			return fmt.Errorf("%s: residual %d: want %d (the model's input), %d (the previous layer) or an earlier layer 1..%d", where, l.Residual, ModelInput, Previous, i)
		}
		if l.Kind != Add && l.Residual != 0 {
			return fmt.Errorf("%s: a %s layer has no residual (%d)", where, l.Kind, l.Residual)
		}
		window := l.Kind == Conv2D || l.Kind == MaxPool2D
		switch {
		case window:
			if l.KernelH <= 0 || l.KernelW <= 0 || l.Stride <= 0 || l.KernelH > 0xffff || l.KernelW > 0xffff || l.Stride > 0xffff || l.Padding > PadSame || l.ChannelOffset != 0 {
				return fmt.Errorf("%s: bad %s geometry %dx%d stride %d padding %d channel offset %d", where, l.Kind, l.KernelH, l.KernelW, l.Stride, l.Padding, l.ChannelOffset)
			}
		case l.Kind == Add:
			if l.KernelH != 0 || l.KernelW != 0 || l.Padding != 0 || l.Stride <= 0 || l.Stride > 0xffff || l.ChannelOffset < 0 || l.ChannelOffset > 0xffff {
				return fmt.Errorf("%s: bad add geometry: kernel %dx%d padding %d (want 0), stride %d (want 1 to 65535), channel offset %d (want 0 to 65535)",
					where, l.KernelH, l.KernelW, l.Padding, l.Stride, l.ChannelOffset)
			}
		case l.KernelH != 0 || l.KernelW != 0 || l.Stride != 0 || l.Padding != 0 || l.ChannelOffset != 0:
			return fmt.Errorf("%s: %s layer with window fields", where, l.Kind)
		}
		if !l.Kind.HasWeights() {
			if l.Encoding != Float32 || (l.Activation != None && l.Kind != Add) || l.Inputs != 0 || l.Outputs != 0 ||
				l.Bits != nil || l.Weights != nil || l.Scale != nil || l.Offset != nil {
				return fmt.Errorf("%s: a %s layer has no weights, scale, offset, inputs or outputs (and no activation but add)", where, l.Kind)
			}
			continue
		}
		if l.Inputs <= 0 || l.Outputs <= 0 || l.Inputs > maxDim || l.Outputs > maxDim {
			return fmt.Errorf("%s: %d inputs, %d outputs: want 1 to %d", where, l.Inputs, l.Outputs, maxDim)
		}
		switch l.Encoding {
		case SignBits:
			if len(l.Bits) != l.WordsPerRow()*l.Outputs || l.Weights != nil {
				return fmt.Errorf("%s: %d sign words, want %d (and no float weights)", where, len(l.Bits), l.WordsPerRow()*l.Outputs)
			}
			if pad := l.Inputs % 64; pad != 0 {
				w := l.WordsPerRow()
				for o := 0; o < l.Outputs; o++ {
					if l.Bits[o*w+w-1]>>uint(pad) != 0 {
						return fmt.Errorf("%s: row %d has bits set past input %d", where, o, l.Inputs)
					}
				}
			}
		case Float32:
			if len(l.Weights) != l.Inputs*l.Outputs || l.Bits != nil {
				return fmt.Errorf("%s: %d float weights, want %d (and no sign bits)", where, len(l.Weights), l.Inputs*l.Outputs)
			}
		}
		if len(l.Scale) != l.Outputs || len(l.Offset) != l.Outputs {
			return fmt.Errorf("%s: %d scales and %d offsets, want %d each", where, len(l.Scale), len(l.Offset), l.Outputs)
		}
		for _, p := range []struct {
			name string
			v    []float32
		}{{"weights", l.Weights}, {"scale", l.Scale}, {"offset", l.Offset}} {
			for j, v := range p.v {
				if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
					return fmt.Errorf("%s: %s[%d] is %v: want finite values (a diverged or damaged checkpoint)", where, p.name, j, f)
				}
			}
		}
	}
	_, err := m.Shapes()
	return err
}

// maxDim bounds inputs and outputs of a layer (and input dimensions), so
// that sizes computed from a damaged file cannot overflow.
const maxDim = 1 << 28
