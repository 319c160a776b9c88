package training

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// wantErr fails t unless err's text is want.
func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || err.Error() != want {
		t.Errorf("%s: error %v, want %q", what, err, want)
	}
}

// TestEvaluateBatchSizes: a batch size below 1 is an error, before any
// graph runs (an empty batch crashed the backend in its own goroutine); one
// far above the set's size (1<<33, MaxInt) is one batch of the whole set,
// not an allocation of that size.
func TestEvaluateBatchSizes(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	modes := []binnet.Mode{binnet.Float, binnet.Float, binnet.Float}
	for _, n := range []int{0, -1, math.MinInt} {
		_, _, err := e.Evaluate(data.Val, modes, n)
		wantErr(t, "Evaluate", err, "training: evaluation batch size "+fmt.Sprint(n)+" must be positive")
	}
	l1, a1, err := e.Evaluate(data.Val, modes, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1 << 33, math.MaxInt} {
		l, a, err := e.Evaluate(data.Val, modes, n)
		if err != nil || l != l1 || a != a1 {
			t.Errorf("batch %d: %v %v %v, want %v %v (one batch of 500)", n, l, a, err, l1, a1)
		}
	}
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.EvalBatchSize = 1 << 33
	if res, err := Run(context.Background(), cfg, data); err != nil || res.Status != StatusCompleted {
		t.Errorf("Run with EvalBatchSize 1<<33: %v", err)
	}
	cfg.EvalBatchSize = -1
	_, err = Run(context.Background(), cfg, data)
	wantErr(t, "Run with EvalBatchSize -1", err, "training: evaluation batch size -1 must be positive")
}

// TestTrainStepInputs: TrainStep and its variants refuse a batch of fewer
// than 2 examples, a learning rate that is not a positive number and an
// unknown layer mode, naming each, instead of training on them.
func TestTrainStepInputs(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	shape := data.Train.ExampleShape()
	modes := []binnet.Mode{binnet.Float, binnet.Binary, binnet.Float}
	x, y := batchOf(data.Train, []int{0, 1, 2, 3})
	for _, n := range []int{0, 1} {
		err := e.TrainStep(x[:n*784], y[:n], shape, modes, 0.01)
		wantErr(t, "TrainStep", err, "training: a training batch of "+fmt.Sprint(n)+" examples: batch norm needs at least 2 examples per batch")
	}
	err := e.TrainSteps(x, y[:2], shape, 2, modes, 0.01)
	wantErr(t, "TrainSteps of batches of 1", err, "training: a training batch of 1 examples: batch norm needs at least 2 examples per batch")
	xt, yt := tensors.FromFlatDataAndDimensions(x[:784], 1, 784), tensors.FromFlatDataAndDimensions(y[:1], 1)
	err = e.TrainStepTensors(xt, yt, modes, 0.01)
	wantErr(t, "TrainStepTensors of 1", err, "training: a training batch of 1 examples: batch norm needs at least 2 examples per batch")
	xt, yt = tensors.FromFlatDataAndDimensions(x, 4, 1, 784), tensors.FromFlatDataAndDimensions(y, 4, 1)
	err = e.TrainStepsTensors(xt, yt, modes, 0.01)
	wantErr(t, "TrainStepsTensors of batches of 1", err, "training: a training batch of 1 examples: batch norm needs at least 2 examples per batch")
	for _, lr := range []float64{math.NaN(), -1, math.Inf(1)} {
		err := e.TrainStep(x, y, shape, modes, lr)
		wantErr(t, "TrainStep", err, "training: a step's learning rate must be a number at least 0, got "+fmt.Sprint(lr))
	}
	for _, bad := range [][]binnet.Mode{{7, 0, 0}, {0, 0, 9}} {
		err := e.TrainStep(x, y, shape, bad, 0.01)
		layer, m := 1, bad[0]
		if bad[0] == 0 {
			layer, m = 3, bad[2]
		}
		wantErr(t, "TrainStep with modes "+m.String(), err, "training: layer "+fmt.Sprint(layer)+" has mode "+m.String()+": want float, binary or frozen")
		_, _, err = e.Evaluate(data.Val, bad, 100)
		wantErr(t, "Evaluate with modes "+m.String(), err, "training: layer "+fmt.Sprint(layer)+" has mode "+m.String()+": want float, binary or frozen")
	}
	if _, _, n := e.Accumulated(); n != 0 {
		t.Errorf("%d examples trained on after refused steps", n)
	}
	if err := e.TrainStep(x, y, shape, modes, 0.01); err != nil {
		t.Errorf("a good step after the refused ones: %v", err)
	}
}

// TestNewEngineNils: a nil backend, store or network (a nil *MLP too) is
// an error of NewEngine, not a failure or panic at the first step.
func TestNewEngineNils(t *testing.T) {
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	opt := Optimizer{LearningRate: 0.01}
	_, err = NewEngine(nil, model.NewStore(), smallMLP, quant.STESign, opt)
	wantErr(t, "nil backend", err, "training: NewEngine: no backend (nil)")
	_, err = NewEngine(b, nil, smallMLP, quant.STESign, opt)
	wantErr(t, "nil store", err, "training: NewEngine: no variable store (nil)")
	_, err = NewEngine(b, model.NewStore(), nil, quant.STESign, opt)
	wantErr(t, "nil network", err, "training: NewEngine: no network (nil)")
	_, err = NewEngine(b, model.NewStore(), (*models.MLP)(nil), quant.STESign, opt)
	wantErr(t, "nil *MLP", err, "training: NewEngine: no network (nil)")
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.Network = (*models.MLP)(nil)
	_, err = Run(context.Background(), cfg, smallData(t))
	wantErr(t, "Run with a nil *MLP", err, "training: no network")
}

// TestLabelsOutsideClasses: a label that is not one of the network's
// classes (negative, or NumClasses and up) is an error naming the example
// and the label: at Run's start for in-memory examples (Labeler), in the
// batch for TrainStep, TrainSteps and DeviceBatch, and in the set for
// Evaluate, where it trained silently as a zero target (loss 0).
func TestLabelsOutsideClasses(t *testing.T) {
	data := smallData(t)
	net := "mlp-784-64-32-10"
	for _, c := range []struct {
		split string
		label uint8
		at    int
	}{{"training", 200, 17}, {"validation", 10, 0}, {"test", 255, 999}} {
		d := data
		splits := map[string]*Source{"training": &d.Train, "validation": &d.Val, "test": &d.Test}
		cp := *(*splits[c.split]).(*Examples)
		cp.Y = slices.Clone(cp.Y)
		cp.Y[c.at] = c.label
		*splits[c.split] = &cp
		cfg := smallConfig(t, schedule.Forward(3), 1, 3)
		cfg.OutDir = t.TempDir()
		_, err := Run(context.Background(), cfg, d)
		want := fmt.Sprintf("training: the %s set %s: example %d has label %d, but network %s has 10 classes (labels 0..9)", c.split, cp.Name, c.at, c.label, net)
		wantErr(t, "Run", err, want)
	}

	// A source that is not a Labeler: the bad label is met in its batch.
	d := data
	train := *d.Train.(*Examples)
	train.Y = slices.Clone(train.Y)
	train.Y[5] = 10
	d.Train = struct{ Source }{&train}
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.BatchSize = 4
	_, err := Run(context.Background(), cfg, d)
	if err == nil || !strings.HasPrefix(err.Error(), "training: epoch 1, batch ") ||
		!strings.Contains(err.Error(), "of the batch has label 10, but network "+net+" has 10 classes (labels 0..9); no output folder") {
		t.Errorf("Run on a source without labels: %v, want the batch's error", err)
	}

	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	shape := data.Train.ExampleShape()
	modes := []binnet.Mode{binnet.Float, binnet.Float, binnet.Float}
	x, y := batchOf(data.Train, []int{0, 1, 2, 3})
	for _, l := range []int32{10, 99, -1} {
		bad := slices.Clone(y)
		bad[2] = l
		want := fmt.Sprintf("training: example 2 of the batch has label %d, but network %s has 10 classes (labels 0..9)", l, net)
		wantErr(t, "TrainStep", e.TrainStep(x, bad, shape, modes, 0.01), want)
		wantErr(t, "TrainSteps", e.TrainSteps(x, bad, shape, 2, modes, 0.01), want)
		_, _, err := e.DeviceBatch(x, bad, shape, 2)
		wantErr(t, "DeviceBatch", err, want)
	}
	if _, _, n := e.Accumulated(); n != 0 {
		t.Errorf("%d examples trained on after refused steps", n)
	}
	val := *data.Val.(*Examples)
	val.Y = slices.Clone(val.Y)
	val.Y[123] = 10
	_, _, err = e.Evaluate(&val, modes, 100)
	wantErr(t, "Evaluate", err, fmt.Sprintf("training: evaluation set %s: example 123 has label 10, but network %s has 10 classes (labels 0..9)", val.Name, net))
}

// TestWriteResultsErrors: nil results and a folder path are errors saying
// so, where nil wrote "null" and a folder failed with "rename ... file
// exists".
func TestWriteResultsErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultsFile)
	wantErr(t, "nil", WriteResults(path, nil), "training: writing "+path+": no results (nil)")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nil results wrote %s: %v", path, err)
	}
	wantErr(t, "a folder", WriteResults(dir, &Results{Status: StatusRunning}), "writing "+dir+": is a directory, not a file")
}
