package models

import (
	"slices"
	"testing"
)

// TestSensitivityHyper checks each preset's sensitivity pre-training against
// the official code's sensitivity scripts: 150 epochs per layer for the MLPs
// (scripts/mnist/*/sensitivity), 200 for VGG-5, 450 for VGG-9, 300 for
// ResNet-20 with val_ep300.sh's milestones 200,250, 199,249 in binnet's count
// (TestPresetRatesMatchOfficialCode checks every epoch's rate);
// 20 for ResNet-21 with the milestone 20 (the official README's commands);
// presets without such a script fall back to their epochs per layer and
// milestones.
func TestSensitivityHyper(t *testing.T) {
	for _, c := range []struct {
		preset     string
		epochs     int
		milestones []int
	}{
		{"mlp-300-100", 150, nil}, {"mlp-784-784", 150, nil}, {"vgg5", 200, nil}, {"vgg9", 450, nil},
		{"resnet20", 300, []int{199, 249}}, {"resnet21", 20, []int{20}}, {"cnn", 5, nil},
	} {
		p, err := Lookup(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		e, m := p.Hyper.Sensitivity()
		if e != c.epochs || !slices.Equal(m, c.milestones) {
			t.Errorf("%s: sensitivity %d epochs, milestones %v; want %d, %v", c.preset, e, m, c.epochs, c.milestones)
		}
	}
}
