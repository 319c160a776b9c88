// Package models builds the networks binnet trains and holds the paper's
// presets with the hyper-parameters of its official code.
package models

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/ops"
	. "github.com/gomlx/gomlx/core/graph"
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
		x = ops.ReLU(x)
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
	ValidationSize int     // examples held out of the training set for validation
	// LRMilestones are the epochs after which the learning rate is
	// multiplied by LRGamma (0-based: epoch m is the first at the lower
	// rate, as PyTorch's MultiStepLR stepped after each epoch and the
	// official ImageNet script count them); none for a constant rate.
	LRMilestones []int
	LRGamma      float64 // factor per milestone, e.g. 0.1 (the rate divided by 10); 0 without milestones
	// SensitivityEpochs is the length of each layer's run in the official
	// code's sensitivity pre-training (scripts/*/*/sensitivity/layer.sh);
	// 0: EpochsPerLayer. SensitivityLRMilestones are that run's learning-
	// rate milestones; nil: LRMilestones.
	SensitivityEpochs       int
	SensitivityLRMilestones []int
	// Dataset is the data set the paper trains the preset on: "mnist",
	// "cifar10" or "imagenet".
	Dataset string
}

// Sensitivity returns the epochs of each layer's run of a sensitivity
// pre-training and their learning-rate milestones, as the official code's
// sensitivity scripts have them for the preset (see SensitivityEpochs).
func (h Hyper) Sensitivity() (epochs int, milestones []int) {
	epochs, milestones = h.SensitivityEpochs, h.SensitivityLRMilestones
	if epochs == 0 {
		epochs = h.EpochsPerLayer
	}
	if milestones == nil {
		milestones = h.LRMilestones
	}
	return epochs, milestones
}

// Preset is a named network with the hyper-parameters of the paper's code.
type Preset struct {
	Name        string  // the name Lookup finds it by, e.g. "vgg5"
	Description string  // one line for the list of presets (binnet models)
	Network     Network // the network, for the input shape and classes of the preset's data set
	Hyper       Hyper   // the training hyper-parameters
	// OfficialLayers are the module indices (positions in PyTorch's
	// Module.modules() list) of the binarizable layers of the official
	// code's model of this network, ascending, so that OfficialLayers[i] is
	// layer i+1: the entries of its layer files models/NAME_layers_*.json
	// (github.com/rakutentech/iterative_training), each a permutation of
	// them. Nil for a network the official code does not have (cnn).
	OfficialLayers []int
}

// Module indices of the binarizable layers in the official code's models,
// as every one of its layer files lists them (mlp3_layers_*.json for both
// MLPs, which share the module structure; vgg5_, vgg9_, resnet20_ and
// resnet21_layers_*.json).
var (
	officialMLP3     = []int{2, 5, 9}
	officialVGG5     = []int{2, 5, 10, 13, 16}
	officialVGG9     = []int{2, 5, 9, 12, 16, 19, 24, 27, 30}
	officialResNet20 = []int{1, 5, 7, 11, 13, 17, 19, 24, 26, 30, 32, 36, 38, 43, 45, 49, 51, 55, 57, 60}
	officialResNet21 = []int{1, 7, 10, 13, 16, 20, 23, 26, 29, 32, 36, 39, 42, 45, 48, 52, 55, 58, 61, 64, 67}
)

// mnistHyper follows the official scripts for MNIST (scripts/mnist/*/run):
// Adam with lr 0.1, batch 100 (test batch 1000), 150 epochs per layer, 450
// epochs, the last 5,000 training images held out for validation; each
// layer's sensitivity run is 150 epochs (scripts/mnist/*/sensitivity).
var mnistHyper = Hyper{Optimizer: "adam", LearningRate: 0.1, BatchSize: 100, EvalBatchSize: 1000,
	EpochsPerLayer: 150, Epochs: 450, ValidationSize: 5000, SensitivityEpochs: 150, Dataset: "mnist"}

// The CIFAR-10 scripts (scripts/cifar10/*) and the commands of the official
// README: batch 100 (ResNet-20: 128), test batch 1000, 5,000 training
// images held out by a fixed random index file, augmentation on. VGG trains
// with Adam (train.py) at lr 0.1, 150 epochs per layer (VGG-5: 750 epochs,
// VGG-9: 1,350). ResNet-20 trains with SGD at lr 0.1, momentum 0.9, weight
// decay 1e-4, 1,200 epochs, 50 per layer, the rate divided by 10 at epochs
// 1,000 and 1,100 (run_ep1200.sh). Their sensitivity scripts train each
// layer 200 epochs (VGG-5), 450 (VGG-9) and 300 (ResNet-20, the rate divided
// by 10 at epochs 200 and 250: val_ep300.sh).
//
// The CIFAR-10 code (main.py, train.py) calls its MultiStepLR's step before
// each epoch's training, so its milestone m lowers the rate from the m-th
// epoch (1-based) on, one epoch before PyTorch's usual step after each
// epoch, which LRMilestones counts: ResNet-20's milestones 1000,1100 and
// 200,250 are 999,1099 and 199,249 here (the first epochs at 0.01 and 0.001
// are epochs 1,000 and 1,100, as in that code).
var (
	vgg5Hyper = Hyper{Optimizer: "adam", LearningRate: 0.1, BatchSize: 100, EvalBatchSize: 1000,
		EpochsPerLayer: 150, Epochs: 750, ValidationSize: 5000, SensitivityEpochs: 200, Dataset: "cifar10"}
	vgg9Hyper = Hyper{Optimizer: "adam", LearningRate: 0.1, BatchSize: 100, EvalBatchSize: 1000,
		EpochsPerLayer: 150, Epochs: 1350, ValidationSize: 5000, SensitivityEpochs: 450, Dataset: "cifar10"}
	resnet20Hyper = Hyper{Optimizer: "sgd", LearningRate: 0.1, Momentum: 0.9, WeightDecay: 1e-4, BatchSize: 128,
		EvalBatchSize: 1000, EpochsPerLayer: 50, Epochs: 1200, ValidationSize: 5000,
		LRMilestones: []int{999, 1099}, LRGamma: 0.1,
		SensitivityEpochs: 300, SensitivityLRMilestones: []int{199, 249}, Dataset: "cifar10"}
	// resnet21Hyper follows main_imagenet_binary.py and the official
	// README's ImageNet commands: SGD lr 0.01, momentum 0.9, weight decay
	// 1e-4, batch 256, 67 epochs, 2 per layer, the rate divided by 10 at
	// epochs 42 and 57 (scripts/imagenet/layer.sh full ./imagenet 67
	// "[42,57]" 2 forward 0.01); its sensitivity runs are 20 epochs with the
	// milestone 20 (layer.sh sensitivity ./imagenet 20 "[20]" 20 K 0.01).
	resnet21Hyper = Hyper{Optimizer: "sgd", LearningRate: 0.01, Momentum: 0.9, WeightDecay: 1e-4, BatchSize: 256,
		EvalBatchSize: 250, EpochsPerLayer: 2, Epochs: 67, ValidationSize: 0,
		LRMilestones: []int{42, 57}, LRGamma: 0.1, SensitivityEpochs: 20, SensitivityLRMilestones: []int{20}, Dataset: "imagenet"}
	cnnHyper = Hyper{Optimizer: "adam", LearningRate: 0.01, BatchSize: 100, EvalBatchSize: 1000,
		EpochsPerLayer: 5, Epochs: 20, ValidationSize: 5000, Dataset: "mnist"}
)

var presets = map[string]Preset{
	"mlp-300-100": {Name: "mlp-300-100", Description: "MLP 784-300-100-10 (paper, MNIST)",
		Network: MLP{Inputs: 784, Hidden: []int{300, 100}, Classes: 10}, Hyper: mnistHyper, OfficialLayers: officialMLP3},
	"mlp-784-784": {Name: "mlp-784-784", Description: "MLP 784-784-784-10 (paper, MNIST)",
		Network: MLP{Inputs: 784, Hidden: []int{784, 784}, Classes: 10}, Hyper: mnistHyper, OfficialLayers: officialMLP3},
	"cnn": {Name: "cnn", Description: "small CNN conv32-conv64-maxpool-dense10 on 28x28x1 (benchmark network)",
		Network: SmallCNN{Input: []int{28, 28, 1}, Classes: 10}, Hyper: cnnHyper},
	"vgg5": {Name: "vgg5", Description: "VGG-5: conv64 x2, maxpool, FC 256-256-10 (paper, CIFAR-10)",
		Network: VGG{Label: "vgg5", Input: []int{32, 32, 3}, Blocks: []int{64}, Hidden: []int{256, 256}, Classes: 10}, Hyper: vgg5Hyper, OfficialLayers: officialVGG5},
	"vgg9": {Name: "vgg9", Description: "VGG-9: conv 64/128/256 x2 with maxpools, FC 256-256-10 (paper, CIFAR-10)",
		Network: VGG{Label: "vgg9", Input: []int{32, 32, 3}, Blocks: []int{64, 128, 256}, Hidden: []int{256, 256}, Classes: 10}, Hyper: vgg9Hyper, OfficialLayers: officialVGG9},
	"resnet20": {Name: "resnet20", Description: "ResNet-20, option A shortcuts, 20 binarizable layers (paper, CIFAR-10)",
		Network: ResNetCIFAR{Label: "resnet20", Input: []int{32, 32, 3}, BlocksPerStage: 3, Classes: 10}, Hyper: resnet20Hyper, OfficialLayers: officialResNet20},
	"resnet21": {Name: "resnet21", Description: "ResNet-18 with its 21 binarizable layers (paper, ImageNet 224x224)",
		Network: ResNet18{Input: []int{224, 224, 3}, Classes: 1000}, Hyper: resnet21Hyper, OfficialLayers: officialResNet21},
}

// Register adds a preset, replacing any of the same name. It refuses a
// preset without a name (or whose name has spaces around it, which Lookup
// would not find) and one whose Network is nil or fails Validate.
func Register(p Preset) error {
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("models: cannot register a preset without a name")
	}
	if strings.TrimSpace(p.Name) != p.Name {
		return fmt.Errorf("models: cannot register preset %q: its name has spaces around it", p.Name)
	}
	if err := Validate(p.Network); err != nil {
		return fmt.Errorf("models: cannot register preset %q: %w", p.Name, err)
	}
	presets[p.Name] = p
	return nil
}

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
