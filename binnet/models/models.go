// Package models builds the networks binnet trains and holds the paper's
// presets with the hyper-parameters of its official code.
package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/binnet/binnet/binnet/layers"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// Network is a classifier whose binarizable layers a schedule can address.
type Network interface {
	// Name identifies the architecture, e.g. "mlp-784-300-100-10".
	Name() string
	// InputShape is the shape of one example, e.g. [784] or [28, 28, 1].
	InputShape() []int
	// NumClasses is the number of output logits.
	NumClasses() int
	// NumBinarizable is the number of binarizable layers, counted in the
	// order Logits builds them (the paper's layer 1 is the first).
	NumBinarizable() int
	// Logits builds the network on x, shaped [batch, InputShape()...], and
	// returns logits shaped [batch, NumClasses()].
	Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node
}

// MLP is a multi-layer perceptron as in the paper's code: each layer is a
// binarizable Dense followed by batch norm, with ReLU after the hidden ones and
// batch norm after the classifier too.
type MLP struct {
	Inputs  int   // input features, 784 for MNIST
	Hidden  []int // hidden layer sizes
	Classes int   // output classes
}

// Name returns "mlp-" followed by all layer sizes.
func (m MLP) Name() string {
	parts := []string{fmt.Sprint(m.Inputs)}
	for _, h := range m.Hidden {
		parts = append(parts, fmt.Sprint(h))
	}
	parts = append(parts, fmt.Sprint(m.Classes))
	return "mlp-" + strings.Join(parts, "-")
}

// InputShape returns [Inputs].
func (m MLP) InputShape() []int { return []int{m.Inputs} }

// NumClasses returns Classes.
func (m MLP) NumClasses() int { return m.Classes }

// NumBinarizable returns len(Hidden)+1: every layer, the classifier included.
func (m MLP) NumBinarizable() int { return len(m.Hidden) + 1 }

// Logits builds the MLP. Inputs of any rank are flattened per example.
func (m MLP) Logits(scope *model.Scope, ctl *layers.Control, x *Node) *Node {
	if x.Rank() != 2 {
		x = Reshape(x, x.Shape().Dimensions[0], -1)
	}
	for i, units := range m.Hidden {
		x = layers.Dense(scope.In("dense%d", i+1), ctl, x, units).Done()
		x = layers.BatchNorm(scope.In("bn%d", i+1), ctl, x).Done()
		x = activation.Relu(x)
	}
	n := len(m.Hidden) + 1
	x = layers.Dense(scope.In("dense%d", n), ctl, x, m.Classes).Done()
	return layers.BatchNorm(scope.In("bn%d", n), ctl, x).Done()
}

// Hyper holds the training hyper-parameters of a preset.
type Hyper struct {
	Optimizer      string  // "adam" or "sgd"
	LearningRate   float64 // initial learning rate
	Momentum       float64 // SGD momentum
	WeightDecay    float64 // SGD weight decay
	BatchSize      int     // training batch
	EvalBatchSize  int     // evaluation batch
	EpochsPerLayer int     // the paper's epochs per layer
	Epochs         int     // the paper's total epochs
	ValidationSize int     // examples held out of the end of the training set
}

// Preset is a named network with the hyper-parameters of the paper's code.
type Preset struct {
	Name        string
	Description string
	Network     Network
	Hyper       Hyper
}

// mnistHyper follows the official scripts for MNIST (scripts/mnist/*/run):
// Adam with lr 0.1, batch 100 (test batch 1000), 150 epochs per layer, 450
// epochs, the last 5,000 training images held out for validation.
var mnistHyper = Hyper{Optimizer: "adam", LearningRate: 0.1, BatchSize: 100, EvalBatchSize: 1000,
	EpochsPerLayer: 150, Epochs: 450, ValidationSize: 5000}

var presets = map[string]Preset{
	"mlp-300-100": {Name: "mlp-300-100", Description: "MLP 784-300-100-10 (paper, MNIST)",
		Network: MLP{Inputs: 784, Hidden: []int{300, 100}, Classes: 10}, Hyper: mnistHyper},
	"mlp-784-784": {Name: "mlp-784-784", Description: "MLP 784-784-784-10 (paper, MNIST)",
		Network: MLP{Inputs: 784, Hidden: []int{784, 784}, Classes: 10}, Hyper: mnistHyper},
}

// Register adds a preset, replacing any of the same name.
func Register(p Preset) { presets[p.Name] = p }

// Lookup returns the preset with the given name.
func Lookup(name string) (Preset, error) {
	p, ok := presets[name]
	if !ok {
		return Preset{}, fmt.Errorf("models: unknown model %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return p, nil
}

// Names returns the preset names, sorted.
func Names() []string {
	var names []string
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
