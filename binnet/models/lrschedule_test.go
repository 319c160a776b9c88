package models_test

import (
	"math"
	"testing"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
)

// officialRate is the learning rate of epoch (1-based) in the official
// code: the CIFAR-10 main.py steps its MultiStepLR before each epoch's
// training (stepBefore), so after e steps the rate is lowered by every
// milestone m <= e; the ImageNet script sets gamma^bisect(milestones,
// epoch-1), lowered by every milestone m <= epoch-1 (0-based).
func officialRate(base, gamma float64, milestones []int, epoch int, stepBefore bool) float64 {
	count := epoch - 1
	if stepBefore {
		count = epoch
	}
	lr := base
	for _, m := range milestones {
		if m <= count {
			lr *= gamma
		}
	}
	return lr
}

// TestPresetRatesMatchOfficialCode checks the learning rate of every epoch
// of the ResNet presets' training and sensitivity runs against the official
// code's schedules, written in its own terms: ResNet-20's milestones
// 1000,1100 (run_ep1200.sh) and 200,250 (val_ep300.sh) through main.py's
// step-before-epoch MultiStepLR, so that epochs 1,000 and 1,100 (1-based)
// are the first at 0.01 and 0.001; ResNet-21's [42,57] and [20] through
// main_imagenet_binary.py's adjust_learning_rate.
func TestPresetRatesMatchOfficialCode(t *testing.T) {
	for _, c := range []struct {
		preset      string
		sensitivity bool
		official    []int
		stepBefore  bool
	}{
		{"resnet20", false, []int{1000, 1100}, true},
		{"resnet20", true, []int{200, 250}, true},
		{"resnet21", false, []int{42, 57}, false},
		{"resnet21", true, []int{20}, false},
	} {
		p, err := models.Lookup(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		h := p.Hyper
		epochs, milestones := h.Epochs, h.LRMilestones
		if c.sensitivity {
			epochs, milestones = h.Sensitivity()
		}
		cfg := training.Config{Optimizer: training.Optimizer{LearningRate: h.LearningRate}, LRMilestones: milestones, LRGamma: h.LRGamma}
		lowered := 0
		for e := 1; e <= epochs; e++ {
			got, want := cfg.LearningRate(e-1), officialRate(h.LearningRate, h.LRGamma, c.official, e, c.stepBefore)
			if math.Abs(got-want) > 1e-15 {
				t.Fatalf("%s (sensitivity %v): epoch %d (1-based) at rate %g, the official code's %g", c.preset, c.sensitivity, e, got, want)
			}
			if got < h.LearningRate {
				lowered++
			}
		}
		t.Logf("%s (sensitivity %v): %d epochs, %d at a lowered rate", c.preset, c.sensitivity, epochs, lowered)
	}
	// The hand-computed anchors of ResNet-20's 1,200 epochs.
	p, _ := models.Lookup("resnet20")
	cfg := training.Config{Optimizer: training.Optimizer{LearningRate: 0.1}, LRMilestones: p.Hyper.LRMilestones, LRGamma: 0.1}
	for _, c := range []struct {
		epoch int // 1-based
		rate  float64
	}{{999, 0.1}, {1000, 0.01}, {1099, 0.01}, {1100, 0.001}, {1200, 0.001}} {
		if got := cfg.LearningRate(c.epoch - 1); math.Abs(got-c.rate) > 1e-15 {
			t.Errorf("resnet20: epoch %d at %g, want %g", c.epoch, got, c.rate)
		}
	}
}
