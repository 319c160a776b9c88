package models

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/binnet/binnet/binnet/schedule"
)

// Limits of Validate. They only guard against absurd values (a corrupted
// file, a typo, an overflow), far beyond any network binnet can train.
const (
	// MaxSize is the largest size of one dimension of an input, and the
	// most units, channels or classes of one layer.
	MaxSize = 1 << 20
	// MaxInputElements is the largest number of values of one example (the
	// product of its input shape).
	MaxInputElements = 1 << 30
)

// Validator is a Network that can check its own fields. Validate calls it.
type Validator interface {
	// Validate returns an error naming the first field that cannot build
	// a network, or nil.
	Validate() error
}

// Validate checks a network before a graph is built from it, so that a
// malformed one (a layer of 0 units, fewer than 2 classes, the zero value
// of a struct) is refused with an error naming the field rather than failing
// deep inside graph building. It refuses a nil network (a typed nil pointer
// included), calls the network's own Validate when it is a Validator (as
// every network of this package is), and checks what every network must
// have: an input shape of sizes 1..MaxSize and at most MaxInputElements
// values, 2..MaxSize classes and 1..schedule.MaxLayers binarizable layers.
func Validate(net Network) error {
	if net == nil {
		return errors.New("models: no network (nil)")
	}
	if IsNil(net) {
		return fmt.Errorf("models: no network (a nil %T)", net)
	}
	if v, ok := net.(Validator); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	name := net.Name()
	if err := checkInput(name, net.InputShape()); err != nil {
		return err
	}
	if err := checkClasses(name, net.NumClasses()); err != nil {
		return err
	}
	if n := net.NumBinarizable(); n < 1 || n > schedule.MaxLayers {
		return fmt.Errorf("models: %s has %d binarizable layers, want 1..%d", name, n, schedule.MaxLayers)
	}
	return nil
}

// IsNil reports whether net is nil, or a nil pointer in the interface
// (whose methods would dereference it).
func IsNil(net Network) bool {
	if net == nil {
		return true
	}
	v := reflect.ValueOf(net)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// checkInput checks an input shape: at least one dimension, each of size
// 1..MaxSize, at most MaxInputElements values.
func checkInput(name string, shape []int) error {
	if len(shape) == 0 {
		return fmt.Errorf("models: %s has no input shape", name)
	}
	elements := 1
	for i, d := range shape {
		if d < 1 || d > MaxSize {
			return fmt.Errorf("models: %s: input shape %v: dimension %d is %d, want 1..%d", name, shape, i, d, MaxSize)
		}
		elements *= d // at most MaxInputElements*MaxSize: no overflow
		if elements > MaxInputElements {
			return fmt.Errorf("models: %s: input shape %v has more than %d values per example", name, shape, MaxInputElements)
		}
	}
	return nil
}

// checkClasses checks a number of classes: 2..MaxSize.
func checkClasses(name string, classes int) error {
	if classes < 2 {
		return fmt.Errorf("models: %s needs at least 2 classes, got %d", name, classes)
	}
	if classes > MaxSize {
		return fmt.Errorf("models: %s: %d classes is more than the %d a network supports", name, classes, MaxSize)
	}
	return nil
}

// checkUnits checks the sizes of layers (units or channels), field naming
// them in messages ("Hidden"): each 1..MaxSize.
func checkUnits(name, field string, sizes []int) error {
	for i, u := range sizes {
		if u < 1 || u > MaxSize {
			return fmt.Errorf("models: %s: %s[%d] is %d, want 1..%d", name, field, i, u, MaxSize)
		}
	}
	return nil
}

// checkImageInput checks the input shape of an image network: [height,
// width, channels] of at least minSize pixels a side (checkImage), within
// checkInput's bounds.
func checkImageInput(name string, shape []int, minSize int) error {
	if err := checkImage(name, shape, minSize); err != nil {
		return err
	}
	return checkInput(name, shape)
}

// Validate checks the MLP's fields: Inputs 1..MaxInputElements, every
// Hidden size 1..MaxSize, Classes 2..MaxSize, at most schedule.MaxLayers
// layers.
func (m MLP) Validate() error {
	name := m.Name()
	if m.Inputs < 1 || m.Inputs > MaxInputElements {
		return fmt.Errorf("models: %s: Inputs is %d, want 1..%d", name, m.Inputs, MaxInputElements)
	}
	if err := checkUnits(name, "Hidden", m.Hidden); err != nil {
		return err
	}
	if len(m.Hidden) >= schedule.MaxLayers {
		return fmt.Errorf("models: %s has %d hidden layers, want at most %d", name, len(m.Hidden), schedule.MaxLayers-1)
	}
	return checkClasses(name, m.Classes)
}

// maxVGGBlocks bounds VGG.Blocks: each block halves the image, so more than
// this many would need an image larger than MaxSize.
const maxVGGBlocks = 20

// Validate checks the VGG's fields: a Label, at most 20 Blocks and every
// block's channels and Hidden size 1..MaxSize, an image Input whose height
// and width are multiples of 2^len(Blocks) (each block pools by 2), Classes
// 2..MaxSize.
func (v VGG) Validate() error {
	name := v.Name()
	if v.Label == "" {
		return errors.New("models: VGG has no Label (such as vgg5)")
	}
	if len(v.Blocks) > maxVGGBlocks {
		return fmt.Errorf("models: %s has %d blocks, want at most %d", name, len(v.Blocks), maxVGGBlocks)
	}
	if err := checkUnits(name, "Blocks", v.Blocks); err != nil {
		return err
	}
	if err := checkUnits(name, "Hidden", v.Hidden); err != nil {
		return err
	}
	minSize := 1 << len(v.Blocks)
	if err := checkImageInput(v.Label, v.Input, minSize); err != nil {
		return err
	}
	if v.Input[0]%minSize != 0 || v.Input[1]%minSize != 0 {
		return fmt.Errorf("models: %s pools %d times by 2: the image size %dx%d must be a multiple of %d", v.Label, len(v.Blocks), v.Input[0], v.Input[1], minSize)
	}
	return checkClasses(v.Label, v.Classes)
}

// Validate checks the SmallCNN's fields: an image Input of even height and
// width (it pools by 2), Classes 2..MaxSize.
func (c SmallCNN) Validate() error {
	if err := checkImageInput("cnn", c.Input, 2); err != nil {
		return err
	}
	if c.Input[0]%2 != 0 || c.Input[1]%2 != 0 {
		return fmt.Errorf("models: cnn pools by 2: the image size %dx%d must be even", c.Input[0], c.Input[1])
	}
	return checkClasses("cnn", c.Classes)
}

// maxBlocksPerStage keeps ResNetCIFAR's 2+6*BlocksPerStage layers within
// schedule.MaxLayers.
const maxBlocksPerStage = (schedule.MaxLayers - 2) / 6

// Validate checks the ResNetCIFAR's fields: a Label, BlocksPerStage
// 1..(schedule.MaxLayers-2)/6, an image Input of at least 4x4, Classes
// 2..MaxSize.
func (r ResNetCIFAR) Validate() error {
	if r.Label == "" {
		return errors.New("models: ResNetCIFAR has no Label (such as resnet20)")
	}
	if r.BlocksPerStage < 1 || r.BlocksPerStage > maxBlocksPerStage {
		return fmt.Errorf("models: %s: BlocksPerStage is %d, want 1..%d", r.Label, r.BlocksPerStage, maxBlocksPerStage)
	}
	if err := checkImageInput(r.Label, r.Input, 4); err != nil {
		return err
	}
	return checkClasses(r.Label, r.Classes)
}

// Validate checks the ResNet18's fields: an image Input of at least 32x32,
// Classes 2..MaxSize.
func (r ResNet18) Validate() error {
	if err := checkImageInput("resnet21", r.Input, 32); err != nil {
		return err
	}
	return checkClasses("resnet21", r.Classes)
}
