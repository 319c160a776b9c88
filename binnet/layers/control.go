// Package layers holds binnet's quantized layers: Dense and Conv2D with latent
// float weights that a Quantizer binarizes in the forward pass, and a batch
// norm whose gradient flows through the batch statistics.
//
// Layers follow GoMLX's fluent style:
//
//	y := layers.Dense(scope.In("dense1"), ctl, x, 300).Done()
//	y = layers.BatchNorm(scope.In("bn1"), ctl, y).Done()
//
// A Control, shared by all layers of one graph, says whether the graph trains
// (batch statistics) or evaluates (running averages), and which binarizable
// layers are binary: either statically (WithModes, one graph per binarization
// state, the training engine's default) or through a gate tensor fed at run
// time (WithGates), so that one compiled graph serves every stage of an
// iterative schedule.
package layers

import (
	"fmt"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/ops"
	"github.com/binnet/binnet/binnet/quant"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Kind names the type of a binarizable layer.
type Kind string

// Kinds of binarizable layers.
const (
	KindDense  Kind = "dense"
	KindConv2D Kind = "conv2d"
)

// Info describes one binarizable layer registered in a Control, in the order
// the network built them (layer 1 of the paper is index 0).
type Info struct {
	Index       int             // 0-based position among the binarizable layers
	Kind        Kind            // dense or conv2d
	Scope       string          // scope of the layer's variables
	Weights     *model.Variable // latent float weights
	Quantizer   quant.Quantizer // quantizer used when the layer is binary
	ClipLatent  bool            // clip latent weights to [-1,1] after each update
	FanIn       int             // inputs per output unit
	Outputs     int             // output units or channels
	OutputSize  int             // output positions per example (1 for dense, H*W for conv)
	KernelShape []int           // shape of the weights
}

// Params returns the number of weights of the layer (biases excluded).
func (in Info) Params() int { return in.FanIn * in.Outputs }

// MACs returns the multiply-accumulates of the layer per example.
func (in Info) MACs() int64 { return int64(in.FanIn) * int64(in.Outputs) * int64(in.OutputSize) }

// Control is shared by the layers of one graph: it carries the training flag,
// the binarization state of every binarizable layer, and collects the layers'
// Info as they are built.
type Control struct {
	training  bool
	gates     *Node
	modes     []binnet.Mode
	quantizer quant.Quantizer
	layers    []Info
	binarized func(latent *model.Variable) *model.Variable
}

// NewControl returns a Control for a training (batch statistics, noise for
// stochastic quantizers, running averages updated) or evaluation graph. Its
// quantizer is quant.STESign and all layers are float until WithModes or
// WithGates says otherwise.
func NewControl(training bool) *Control {
	return &Control{training: training, quantizer: quant.STESign}
}

// WithGates makes the binarization state a run-time input: gates is a float
// vector with one entry per binarizable layer, 1 for binary and 0 for float.
func (c *Control) WithGates(gates *Node) *Control {
	c.gates = gates
	return c
}

// WithModes fixes the binarization state of each layer at graph-building time.
func (c *Control) WithModes(modes ...binnet.Mode) *Control {
	c.modes = append([]binnet.Mode(nil), modes...)
	return c
}

// WithQuantizer sets the default quantizer of the binary layers.
func (c *Control) WithQuantizer(q quant.Quantizer) *Control {
	c.quantizer = q
	return c
}

// WithHostSign makes the binary dense layers of a training graph with fixed
// modes (WithModes) whose quantizer is quant.STESign multiply by the variable
// binarized(latent) returns for their latent weights, which the caller keeps
// equal to sign(latent) in {-1,+1} (sign(0) = +1), instead of computing the
// sign in the graph. Their latent weights then do not enter the graph: the
// gradient it computes with respect to the binarized variable's value is
// the latent weights' gradient (the identity straight-through estimator).
// The binarized variable passes through the step unchanged (its new value
// is its value behind the product's gradient identity, see
// ops.DenseProductThrough), so GoMLX donates its buffer to the step and the
// pure-Go backend moves it rather than copying it.
//
// It is for an optimizer that updates the latent weights outside the graph
// and writes their signs in the same pass (the training engine's fused
// Adam update on the pure-Go backend): the three passes of the sign in the
// graph and the copy of the latent weights took ~6 % of mlp-300-100's step
// at batch 100 (1.39-1.41 against 1.32-1.33 ms, interleaved runs).
// Convolutions and the other quantizers take the sign in the graph.
func (c *Control) WithHostSign(binarized func(latent *model.Variable) *model.Variable) *Control {
	c.binarized = binarized
	return c
}

// Training reports whether the graph is a training graph.
func (c *Control) Training() bool { return c.training }

// Quantizer returns the default quantizer.
func (c *Control) Quantizer() quant.Quantizer { return c.quantizer }

// Layers returns the binarizable layers built so far, in order.
func (c *Control) Layers() []Info { return c.layers }

// NumLayers returns the number of binarizable layers built so far.
func (c *Control) NumLayers() int { return len(c.layers) }

func (c *Control) register(info Info) int {
	info.Index = len(c.layers)
	c.layers = append(c.layers, info)
	return info.Index
}

// effectiveWeights returns the weights layer index uses in the forward pass.
func (c *Control) effectiveWeights(scope *model.Scope, index int, w *Node, outputAxis int, q quant.Quantizer) *Node {
	var noise *Node
	if c.training && q.NeedsNoise() {
		noise = scope.RandomUniform(w.Graph(), w.Shape())
	}
	switch {
	case c.gates != nil:
		if c.gates.Shape().Size() <= index {
			panic(fmt.Sprintf("layers: binarizable layer #%d has no gate: gates shape %s", index+1, c.gates.Shape()))
		}
		gate := Reshape(Slice(c.gates, AxisElem(index)))
		isBinary := GreaterThan(gate, ScalarZero(w.Graph(), gate.DType())) // run-time switch
		return Where(isBinary, q.Quantize(w, outputAxis, noise), w)
	case index < len(c.modes) && c.modes[index].IsBinary():
		return q.Quantize(w, outputAxis, noise)
	default:
		return w
	}
}

// denseProduct returns x·w' for binarizable layer index, where w' is w or its
// quantization. In a training graph with fixed modes and an element-wise
// quantizer, the quantizer's straight-through estimator is folded into the
// product's own gradient (ops.QuantizedDenseProduct), or, with WithHostSign,
// the product reads the binary weights the caller keeps; otherwise the
// weights go through effectiveWeights.
func (c *Control) denseProduct(scope *model.Scope, index int, x, w *Node, q quant.Quantizer) *Node {
	if !c.training {
		return MatMul(x, c.effectiveWeights(scope, index, w, 1, q))
	}
	if binary, known := c.staticBinary(index); known {
		if !binary {
			return ops.DenseProduct(x, w)
		}
		if c.binarized != nil && quant.IsSTESign(q) && x.Rank() == 2 {
			v := c.binarized(c.layers[index].Weights)
			y, through := ops.DenseProductThrough(x, v.ValueGraph(x.Graph()))
			v.SetValueGraph(through)
			return y
		}
		if eq, ok := q.(quant.Elementwise); ok {
			return ops.QuantizedDenseProduct(x, w, ops.WeightMap{Forward: eq.Binarize, Gradient: eq.LatentGradient()})
		}
	}
	return ops.DenseProduct(x, c.effectiveWeights(scope, index, w, 1, q))
}

// staticBinary reports, for a graph whose modes are fixed (WithModes), whether
// layer index is binary; known is false in a gated graph.
func (c *Control) staticBinary(index int) (binary, known bool) {
	if c.gates != nil {
		return false, false
	}
	return index < len(c.modes) && c.modes[index].IsBinary(), true
}

// LiveVariables makes every variable that graph g reads a graph parameter fed
// with the variable's current value at each execution.
//
// Call it at the start of an evaluation graph function. Without it, GoMLX (on
// backends that prefer constants, such as the pure-Go one) embeds the values
// that variables have when a non-training graph is first compiled as
// constants, and later executions of that graph keep seeing those stale values
// after training moved them. binnet's layers take their training flag from
// Control, not from the Store, so marking the graph this way changes nothing
// else for them.
func LiveVariables(scope *model.Scope, g *Graph) {
	scope.Store().SetTraining(g, true)
}
