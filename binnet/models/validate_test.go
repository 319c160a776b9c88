package models_test

import (
	"fmt"
	"testing"

	"github.com/binnet/binnet/binnet/models"
)

// TestValidate: every malformed network is refused with an error naming
// the field, before a graph is built; the presets pass.
func TestValidate(t *testing.T) {
	for _, name := range models.Names() {
		p, err := models.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := models.Validate(p.Network); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	var nilMLP *models.MLP
	for _, c := range []struct {
		name string
		net  models.Network
		want string
	}{
		{"nil", nil, "models: no network (nil)"},
		{"typed nil", nilMLP, "models: no network (a nil *models.MLP)"},
		{"mlp hidden 0", models.MLP{Inputs: 4, Hidden: []int{0}, Classes: 3}, "models: mlp-4-0-3: Hidden[0] is 0, want 1..1048576"},
		{"mlp hidden negative", models.MLP{Inputs: 4, Hidden: []int{8, -3}, Classes: 3}, "models: mlp-4-8--3-3: Hidden[1] is -3, want 1..1048576"},
		{"mlp hidden huge", models.MLP{Inputs: 4, Hidden: []int{1 << 40}, Classes: 3}, "models: mlp-4-1099511627776-3: Hidden[0] is 1099511627776, want 1..1048576"},
		{"mlp 0 classes", models.MLP{Inputs: 4, Hidden: []int{8}, Classes: 0}, "models: mlp-4-8-0 needs at least 2 classes, got 0"},
		{"mlp 1 class", models.MLP{Inputs: 4, Classes: 1}, "models: mlp-4-1 needs at least 2 classes, got 1"},
		{"mlp 0 inputs", models.MLP{Hidden: []int{8}, Classes: 3}, "models: mlp-0-8-3: Inputs is 0, want 1..1073741824"},
		{"mlp zero value", models.MLP{}, "models: mlp-0-0: Inputs is 0, want 1..1073741824"},
		{"vgg zero value", models.VGG{}, "models: VGG has no Label (such as vgg5)"},
		{"vgg no input", models.VGG{Label: "v", Blocks: []int{64}, Classes: 10}, "models: v wants images [height, width, channels] of at least 2x2, got []"},
		{"vgg block 0", models.VGG{Label: "v", Input: []int{32, 32, 3}, Blocks: []int{64, 0}, Classes: 10}, "models: v-32x32x3: Blocks[1] is 0, want 1..1048576"},
		{"vgg hidden 0", models.VGG{Label: "v", Input: []int{32, 32, 3}, Blocks: []int{64}, Hidden: []int{0}, Classes: 10}, "models: v-32x32x3: Hidden[0] is 0, want 1..1048576"},
		{"vgg odd size", models.VGG{Label: "v", Input: []int{30, 32, 3}, Blocks: []int{64, 64}, Classes: 10}, "models: v pools 2 times by 2: the image size 30x32 must be a multiple of 4"},
		{"vgg too many blocks", models.VGG{Label: "v", Input: []int{32, 32, 3}, Blocks: make([]int, 21), Classes: 10}, "models: v-32x32x3 has 21 blocks, want at most 20"},
		{"vgg 0 classes", models.VGG{Label: "v", Input: []int{32, 32, 3}, Blocks: []int{64}}, "models: v needs at least 2 classes, got 0"},
		{"vgg huge input", models.VGG{Label: "v", Input: []int{1 << 20, 1 << 20, 3}, Blocks: []int{64}, Classes: 10}, "models: v: input shape [1048576 1048576 3] has more than 1073741824 values per example"},
		{"resnet zero value", models.ResNetCIFAR{}, "models: ResNetCIFAR has no Label (such as resnet20)"},
		{"resnet no blocks", models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, Classes: 10}, "models: r: BlocksPerStage is 0, want 1..174762"},
		{"resnet negative blocks", models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, BlocksPerStage: -5, Classes: 10}, "models: r: BlocksPerStage is -5, want 1..174762"},
		{"resnet huge blocks", models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, BlocksPerStage: 1 << 62, Classes: 10}, "models: r: BlocksPerStage is 4611686018427387904, want 1..174762"},
		{"resnet small input", models.ResNetCIFAR{Label: "r", Input: []int{2, 2, 3}, BlocksPerStage: 3, Classes: 10}, "models: r wants images [height, width, channels] of at least 4x4, got [2 2 3]"},
		{"resnet 0 classes", models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, BlocksPerStage: 3}, "models: r needs at least 2 classes, got 0"},
		{"cnn zero value", models.SmallCNN{}, "models: cnn wants images [height, width, channels] of at least 2x2, got []"},
		{"cnn odd", models.SmallCNN{Input: []int{27, 28, 1}, Classes: 10}, "models: cnn pools by 2: the image size 27x28 must be even"},
		{"cnn huge classes", models.SmallCNN{Input: []int{28, 28, 1}, Classes: 1 << 21}, "models: cnn: 2097152 classes is more than the 1048576 a network supports"},
		{"resnet21 zero value", models.ResNet18{}, "models: resnet21 wants images [height, width, channels] of at least 32x32, got []"},
		{"resnet21 0 channels", models.ResNet18{Input: []int{64, 64, 0}, Classes: 10}, "models: resnet21 wants images [height, width, channels] of at least 32x32, got [64 64 0]"},
		{"resnet21 -1 classes", models.ResNet18{Input: []int{64, 64, 3}, Classes: -1}, "models: resnet21 needs at least 2 classes, got -1"},
	} {
		if err := models.Validate(c.net); err == nil || err.Error() != c.want {
			t.Errorf("%s: Validate = %v, want %q", c.name, err, c.want)
		}
	}
}

// TestAdaptRefuses: every preset refuses, alike, fewer than 2 classes and
// an absurd image size.
func TestAdaptRefuses(t *testing.T) {
	for _, c := range []struct {
		preset string
		label  string
		shape  []int
	}{
		{"vgg5", "vgg5", []int{32, 32, 3}},
		{"vgg9", "vgg9", []int{32, 32, 3}},
		{"resnet20", "resnet20", []int{32, 32, 3}},
		{"resnet21", "resnet21", []int{64, 64, 3}},
		{"cnn", "cnn", []int{28, 28, 1}},
	} {
		p, err := models.Lookup(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		ad := p.Network.(models.Adaptable)
		for _, classes := range []int{0, -1, 1} {
			want := fmt.Sprintf("models: %s needs at least 2 classes, got %d", c.label, classes)
			if net, err := ad.Adapt(c.shape, classes); err == nil || err.Error() != want {
				t.Errorf("%s.Adapt(%v, %d) = %v, %v; want %q", c.preset, c.shape, classes, net, err, want)
			}
		}
		want := "models: " + c.label + ": input shape [1099511627776 1099511627776 3]: dimension 0 is 1099511627776, want 1..1048576"
		if net, err := ad.Adapt([]int{1 << 40, 1 << 40, 3}, 10); err == nil || err.Error() != want {
			t.Errorf("%s.Adapt(1<<40 a side) = %v, %v; want %q", c.preset, net, err, want)
		}
		if net, err := ad.Adapt(c.shape, 2); err != nil || net.NumClasses() != 2 {
			t.Errorf("%s.Adapt(%v, 2) = %v, %v", c.preset, c.shape, net, err)
		}
	}
}

// TestRegister: a preset without a name, without a network or with an
// invalid one is refused, and Lookup does not find it.
func TestRegister(t *testing.T) {
	for _, c := range []struct {
		name string
		p    models.Preset
		want string
	}{
		{"empty", models.Preset{}, "models: cannot register a preset without a name"},
		{"blank name", models.Preset{Name: " ", Network: models.MLP{Inputs: 4, Classes: 3}}, "models: cannot register a preset without a name"},
		{"spaced name", models.Preset{Name: " x", Network: models.MLP{Inputs: 4, Classes: 3}}, `models: cannot register preset " x": its name has spaces around it`},
		{"no network", models.Preset{Name: "bad"}, `models: cannot register preset "bad": models: no network (nil)`},
		{"invalid network", models.Preset{Name: "bad", Network: models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, BlocksPerStage: -5, Classes: 10}},
			`models: cannot register preset "bad": models: r: BlocksPerStage is -5, want 1..174762`},
	} {
		if err := models.Register(c.p); err == nil || err.Error() != c.want {
			t.Errorf("%s: Register = %v, want %q", c.name, err, c.want)
		}
	}
	for _, name := range []string{"", " ", " x", "bad"} {
		if p, err := models.Lookup(name); err == nil {
			t.Errorf("Lookup(%q) = %+v after a refused Register", name, p)
		}
	}
	if err := models.Register(models.Preset{Name: "test-mlp", Network: models.MLP{Inputs: 4, Hidden: []int{8}, Classes: 3}}); err != nil {
		t.Fatal(err)
	}
	if p, err := models.Lookup("test-mlp"); err != nil || p.Network.Name() != "mlp-4-8-3" {
		t.Errorf("Lookup(test-mlp) = %+v, %v", p, err)
	}
}
