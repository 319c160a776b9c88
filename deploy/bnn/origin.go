package bnn

import (
	"fmt"
	"regexp"
	"strconv"
)

// Origin is what binnet export records about the run a model comes from,
// written as the model's Name (Model.Name is free text; Origin.String and
// ParseOrigin give it a fixed form):
//
//	mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, test accuracy 0.9478
//	mlp-300-100 (mlp-784-300-100-10) dataset mnist, not tested (run unfinished: 1 of 3 epochs)
//	mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, not tested
//
// The first is a completed run with its test accuracy, the second a run
// exported before its last epoch (interrupted or diverged: it has no test
// accuracy), the third a completed run that skipped its test (a sensitivity
// pre-training).
type Origin struct {
	Preset  string // the preset's name, e.g. "mlp-300-100" or "resnet21"
	Network string // the network's name, e.g. "mlp-784-300-100-10" or "resnet21-64x64x3" (adapted)
	// Dataset is the data set the run trained on, as results.json records
	// it: "mnist", "fashion-mnist", "sample", "cifar10" or "imagenet" (any
	// image folder).
	Dataset string
	Epochs  int // the epochs trained (the checkpoint's)
	// TotalEpochs is the run's schedule's number of epochs, 0 when not
	// known; a run is unfinished when 0 < Epochs < TotalEpochs.
	TotalEpochs int
	// Tested says that the run recorded a test accuracy, TestAccuracy
	// (0 to 1).
	Tested       bool
	TestAccuracy float64
}

// Unfinished reports whether the run stopped before the last epoch of its
// schedule.
func (o Origin) Unfinished() bool { return o.TotalEpochs > 0 && o.Epochs < o.TotalEpochs }

// String writes o in the form ParseOrigin reads: the test accuracy when
// the run recorded one, else "not tested" and, for an unfinished run, how
// many of its epochs it ran.
func (o Origin) String() string {
	s := fmt.Sprintf("%s (%s) dataset %s, ", o.Preset, o.Network, o.Dataset)
	switch {
	case o.Tested:
		return s + fmt.Sprintf("%d epochs, test accuracy %.4f", o.Epochs, o.TestAccuracy)
	case o.Unfinished():
		return s + fmt.Sprintf("not tested (run unfinished: %d of %d epochs)", o.Epochs, o.TotalEpochs)
	}
	return s + fmt.Sprintf("%d epochs, not tested", o.Epochs)
}

// originPattern matches the three forms of Origin.String; files written
// before the last two existed say "test accuracy 0.0000" for an untested run.
var originPattern = regexp.MustCompile(`^(\S+) \((\S+)\) dataset (\S+), (?:(\d+) epochs, test accuracy ([0-9.]+)|not tested \(run unfinished: (\d+) of (\d+) epochs\)|(\d+) epochs, not tested)$`)

// ParseOrigin reads a model name written by Origin.String (binnet export);
// ok is false for any other name (a model a program named itself), whose
// origin is then unknown.
func ParseOrigin(name string) (o Origin, ok bool) {
	m := originPattern.FindStringSubmatch(name)
	if m == nil {
		return Origin{}, false
	}
	o = Origin{Preset: m[1], Network: m[2], Dataset: m[3]}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			ok = false
		}
		return n
	}
	ok = true
	switch {
	case m[4] != "":
		o.Epochs, o.TotalEpochs, o.Tested = atoi(m[4]), atoi(m[4]), true
		acc, err := strconv.ParseFloat(m[5], 64)
		if err != nil || acc > 1 {
			return Origin{}, false
		}
		o.TestAccuracy = acc
	case m[6] != "":
		o.Epochs, o.TotalEpochs = atoi(m[6]), atoi(m[7])
	default:
		o.Epochs, o.TotalEpochs = atoi(m[8]), atoi(m[8])
	}
	if !ok {
		return Origin{}, false
	}
	return o, true
}
