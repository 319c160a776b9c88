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
// The package depends only on the standard library: a small inference binary
// (or a WASM module) can import it, with deploy/runtime, without GoMLX.
package bnn

import (
	"errors"
	"fmt"
)

// Version is the format version this package writes and reads.
const Version = 1

// Magic opens every .bnn file.
const Magic = "BNNMODEL"

// Kind is the type of a layer.
type Kind uint8

// Layer kinds. Conv2D is part of the format (its fields are specified) but
// deploy/runtime does not run it yet.
const (
	Dense  Kind = 1
	Conv2D Kind = 2
)

func (k Kind) String() string {
	switch k {
	case Dense:
		return "dense"
	case Conv2D:
		return "conv2d"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Encoding is how a layer's weights are stored.
type Encoding uint8

// Weight encodings.
const (
	Float32   Encoding = 0 // one float32 per weight
	SignBits  Encoding = 1 // one bit per weight: 1 for +1 (w >= 0), 0 for -1
	numEncode          = 2
)

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

func (a Activation) String() string {
	switch a {
	case None:
		return "none"
	case ReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// Padding of a convolution.
const (
	PadValid uint8 = 0
	PadSame  uint8 = 1
)

// Layer is one layer of a deployed network. For output unit o, with z_o the
// sum over its inputs of weight*input (weights ±1 for SignBits layers), the
// layer outputs act(Scale[o]*z_o + Offset[o]).
type Layer struct {
	Name       string // at most 16 bytes, e.g. "dense1"
	Kind       Kind
	Encoding   Encoding
	Activation Activation
	Inputs     int // fan-in of one output unit (dense: input features; conv: kh*kw*in channels)
	Outputs    int // output units (dense) or channels (conv)

	// Convolution geometry (zero for dense layers).
	KernelH, KernelW, Stride int
	Padding                  uint8

	// Bits holds SignBits weights: Outputs rows of WordsPerRow() words; bit
	// i%64 of word i/64 of row o is 1 when the weight from input i to output
	// o is +1. Bits past Inputs are 0.
	Bits []uint64
	// Weights holds Float32 weights: Outputs rows of Inputs values (row o
	// holds the weights of output o).
	Weights []float32

	Scale, Offset []float32 // per output
}

// WordsPerRow returns the 64-bit words of one output's sign bits.
func (l *Layer) WordsPerRow() int { return (l.Inputs + 63) / 64 }

// WeightBytes returns the bytes of the weights section (before padding).
func (l *Layer) WeightBytes() int {
	if l.Encoding == SignBits {
		return 8 * l.WordsPerRow() * l.Outputs
	}
	return 4 * l.Inputs * l.Outputs
}

// Sign returns the weight (+1 or -1) from input i to output o of a SignBits layer.
func (l *Layer) Sign(o, i int) float32 {
	if l.Bits[o*l.WordsPerRow()+i/64]>>(uint(i)%64)&1 == 1 {
		return 1
	}
	return -1
}

// Model is a deployed network: its layers run in sequence, each on the
// previous one's output.
type Model struct {
	Name       string // free text, e.g. "mlp-300-100 (mlp-784-300-100-10) ..."
	InputShape []int  // shape of one example, e.g. [784] or [28, 28, 1]; 1 to 4 axes
	// InputMean and InputStd say how raw inputs in [0,1] were normalized in
	// training: x = (pixel/255 - InputMean) / InputStd.
	InputMean, InputStd float32
	Layers              []Layer
}

// InputSize returns the number of input values of one example.
func (m *Model) InputSize() int {
	n := 1
	for _, d := range m.InputShape {
		n *= d
	}
	return n
}

// NumClasses returns the outputs of the last layer.
func (m *Model) NumClasses() int {
	if len(m.Layers) == 0 {
		return 0
	}
	return m.Layers[len(m.Layers)-1].Outputs
}

// PackSigns packs the signs of w, shaped [outputs][inputs] row-major, into
// sign-bit rows: bit set where w >= 0 (sign(0) = +1, as binnet's quantizers).
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
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("bnn: %s at offset %d: %s", e.Field, e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *FormatError) Unwrap() error { return ErrCorrupt }

// Validate checks that the model is consistent: sizes of every slice, layer
// chaining, field ranges. Encode calls it.
func (m *Model) Validate() error {
	if len(m.InputShape) < 1 || len(m.InputShape) > 4 {
		return fmt.Errorf("bnn: input shape %v: want 1 to 4 axes", m.InputShape)
	}
	for _, d := range m.InputShape {
		if d <= 0 {
			return fmt.Errorf("bnn: input shape %v: dimensions must be positive", m.InputShape)
		}
	}
	if len(m.Layers) == 0 {
		return errors.New("bnn: model has no layers")
	}
	if !(m.InputStd > 0) {
		return fmt.Errorf("bnn: input std %v must be positive", m.InputStd)
	}
	if m.Layers[0].Kind == Dense && m.Layers[0].Inputs != m.InputSize() {
		return fmt.Errorf("bnn: layer 1 (%s) has %d inputs, the input shape %v has %d values", m.Layers[0].Name, m.Layers[0].Inputs, m.InputShape, m.InputSize())
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		where := fmt.Sprintf("bnn: layer %d (%s)", i+1, l.Name)
		if len(l.Name) > nameField {
			return fmt.Errorf("%s: name longer than %d bytes", where, nameField)
		}
		if l.Kind != Dense && l.Kind != Conv2D {
			return fmt.Errorf("%s: unknown kind %d", where, l.Kind)
		}
		if l.Encoding >= numEncode {
			return fmt.Errorf("%s: unknown weight encoding %d", where, l.Encoding)
		}
		if l.Activation > ReLU {
			return fmt.Errorf("%s: unknown activation %d", where, l.Activation)
		}
		if l.Inputs <= 0 || l.Outputs <= 0 || l.Inputs > maxDim || l.Outputs > maxDim {
			return fmt.Errorf("%s: %d inputs, %d outputs: want 1 to %d", where, l.Inputs, l.Outputs, maxDim)
		}
		if l.Kind == Dense && (l.KernelH != 0 || l.KernelW != 0 || l.Stride != 0 || l.Padding != 0) {
			return fmt.Errorf("%s: dense layer with convolution fields", where)
		}
		if l.Kind == Conv2D && (l.KernelH <= 0 || l.KernelW <= 0 || l.Stride <= 0 || l.KernelH > 0xffff || l.KernelW > 0xffff || l.Stride > 0xffff || l.Padding > PadSame) {
			return fmt.Errorf("%s: bad convolution geometry %dx%d stride %d padding %d", where, l.KernelH, l.KernelW, l.Stride, l.Padding)
		}
		if i > 0 && l.Kind == Dense && m.Layers[i-1].Kind == Dense && l.Inputs != m.Layers[i-1].Outputs {
			return fmt.Errorf("%s: %d inputs, but layer %d has %d outputs", where, l.Inputs, i, m.Layers[i-1].Outputs)
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
	}
	return nil
}

// maxDim bounds inputs and outputs of a layer (and input dimensions), so
// that sizes computed from a damaged file cannot overflow.
const maxDim = 1 << 28
