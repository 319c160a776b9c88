package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/datasets"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// smallData returns 2,000 training, 500 validation and 1,000 test images of
// the embedded MNIST sample.
func smallData(t testing.TB) Data {
	t.Helper()
	train, test, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return Data{Train: mnistExamples(t, train.Slice(0, 2000)), Val: mnistExamples(t, train.Slice(9500, 10000)),
		Test: mnistExamples(t, test.Slice(0, 1000))}
}

// mnistExamples normalizes MNIST images as the paper does, flattened to 784 features.
func mnistExamples(t testing.TB, s *datasets.Set) *Examples {
	t.Helper()
	e, err := FromSet(s, datasets.MNISTMean, datasets.MNISTStd, 784)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var smallMLP = models.MLP{Inputs: 784, Hidden: []int{64, 32}, Classes: 10}

func smallConfig(t testing.TB, order []int, epl, epochs int) Config {
	t.Helper()
	s, err := schedule.Iterative(order, epl, epochs)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Model: "test-mlp", Dataset: "sample", Network: smallMLP, Schedule: s, Order: "forward",
		Optimizer: Optimizer{Name: "adam", LearningRate: 0.01}, Seed: 7}
}

// TestResumeIsExact interrupts a run after epoch 2, resumes it, and compares
// every recorded number with an uninterrupted run of the same seed.
func TestResumeIsExact(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 4)
	cfg.Quantizer = quant.StochasticSign // exercises the saved random state too

	full := cfg
	full.OutDir = t.TempDir()
	want, err := Run(context.Background(), full, data)
	if err != nil {
		t.Fatal(err)
	}

	part := cfg
	part.OutDir = t.TempDir()
	err = runInterrupted(t, part, data, 2)
	if want := "interrupted after epoch 2, checkpointed in " + filepath.Join(part.OutDir, CheckpointFile); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("interruption message %q does not start with %q", err, want)
	}
	partial, err := ReadResults(filepath.Join(part.OutDir, ResultsFile))
	if err != nil || len(partial.History) != 2 || partial.Status != StatusFailed || !strings.HasPrefix(partial.Error, "interrupted after epoch 2") || !partial.Interrupted() {
		t.Fatalf("results after interruption: %+v, %v", partial, err)
	}
	got, err := Run(context.Background(), part, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ResumedAt) != 1 || got.ResumedAt[0] != 3 {
		t.Errorf("resumed at %v, want [3]", got.ResumedAt)
	}
	if len(got.History) != len(want.History) {
		t.Fatalf("history has %d epochs, want %d", len(got.History), len(want.History))
	}
	for i := range want.History {
		w, g := want.History[i], got.History[i]
		if w.TrainLoss != g.TrainLoss || w.ValAccuracy != g.ValAccuracy || w.ValLoss != g.ValLoss || w.Stage != g.Stage {
			t.Errorf("epoch %d: resumed %+v, uninterrupted %+v", i+1, g, w)
		}
	}
	if got.TestAccuracy != want.TestAccuracy || got.TestLoss != want.TestLoss {
		t.Errorf("test accuracy/loss resumed %v/%v, uninterrupted %v/%v", got.TestAccuracy, got.TestLoss, want.TestAccuracy, want.TestLoss)
	}
	// Running again after completion changes nothing and trains nothing.
	again, err := Run(context.Background(), part, data)
	if err != nil || again.TestAccuracy != want.TestAccuracy || len(again.History) != 4 {
		t.Errorf("re-run of a completed run: %v, %v", again, err)
	}
}

// runInterrupted runs cfg and interrupts it (as Ctrl-C does) once epoch
// has finished; it fails the test unless the run stops with
// context.Canceled, and returns that error.
func runInterrupted(t *testing.T, cfg Config, data Data, epoch int) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.OnEpoch = func(r EpochRecord) {
		if r.Epoch == epoch {
			cancel()
		}
	}
	_, err := Run(ctx, cfg, data)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), "context canceled") {
		t.Errorf("interrupted run's message repeats the cancellation: %v", err)
	}
	return err
}

// TestInterruptedNamesOtherCauses: the interruption's message leaves out
// context.Canceled, which it says itself, and names any other cause.
func TestInterruptedNamesOtherCauses(t *testing.T) {
	err := interrupted(3, "/x/checkpoint.bin", context.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasSuffix(err.Error(), "resumes from it: context deadline exceeded") {
		t.Errorf("deadline: %v", err)
	}
	err = interrupted(0, "/x/checkpoint.bin", fmt.Errorf("signal: %w", context.Canceled))
	if !errors.Is(err, context.Canceled) || err.Error() != "interrupted before the first epoch finished; no checkpoint was written" {
		t.Errorf("cancel: %v", err)
	}
}

func TestDivergenceKeepsLastGoodCheckpoint(t *testing.T) {
	data := smallData(t)
	// Private copy of the features, poisoned after the first epoch.
	orig := data.Train.(*Examples)
	x := append([]float32(nil), orig.X...)
	data.Train = &Examples{Name: "poisoned", X: x, Y: orig.Y, Shape: orig.Shape, stride: orig.stride}
	cfg := smallConfig(t, schedule.Reverse(3), 1, 3)
	cfg.OutDir = t.TempDir()
	cfg.OnEpoch = func(r EpochRecord) {
		if r.Epoch == 1 {
			for i := range x {
				x[i] = float32(math.Inf(1))
			}
		}
	}
	res, err := Run(context.Background(), cfg, data)
	var div *DivergenceError
	if !errors.As(err, &div) {
		t.Fatalf("Run returned %v, want a DivergenceError", err)
	}
	if div.Epoch != 2 || div.Stage != 2 || len(div.BinaryLayers) != 2 || div.BinaryLayers[0] != 2 || div.BinaryLayers[1] != 3 {
		t.Errorf("divergence reported at %+v, want epoch 2, stage 2, binary layers [2 3]", div)
	}
	if !strings.Contains(err.Error(), "epoch 2") || !strings.Contains(err.Error(), "stage 2") {
		t.Errorf("message %q does not name the epoch and stage", err)
	}
	if ckpt := filepath.Join(cfg.OutDir, CheckpointFile); div.Checkpoint != ckpt || div.CheckpointEpoch != 1 ||
		!strings.Contains(err.Error(), ckpt+" still holds epoch 1") {
		t.Errorf("divergence names checkpoint %q of epoch %d (%q), want %s of epoch 1", div.Checkpoint, div.CheckpointEpoch, err, ckpt)
	}
	onDisk, rerr := ReadResults(filepath.Join(cfg.OutDir, ResultsFile))
	if rerr != nil || onDisk.Status != StatusFailed || !strings.Contains(onDisk.Error, "diverged") || len(onDisk.History) != 1 || onDisk.Interrupted() {
		t.Errorf("results.json after divergence: %+v, %v", onDisk, rerr)
	}
	if res.Status != StatusFailed {
		t.Errorf("returned status %q", res.Status)
	}
	meta, _, err := readCheckpoint(filepath.Join(cfg.OutDir, CheckpointFile))
	if err != nil || meta.Epochs != 1 {
		t.Errorf("checkpoint after divergence: %+v, %v; want the good one of epoch 1", meta, err)
	}
}

func TestCorruptCheckpointIsRefusedAndKept(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	if _, err := Run(context.Background(), cfg, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.OutDir, CheckpointFile)
	good, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), good...); b[len(b)/2] ^= 0x40; return b }(),
		"truncated":    good[:len(good)-100],
		"bad magic":    append([]byte("NOTBINNET"), good[9:]...),
		"empty":        {},
	}
	for name, blob := range cases {
		if err := os.WriteFile(path, blob, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), cfg, data)
		if !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Run returned %v, want an ErrCorruptCheckpoint naming %s", name, err, path)
		}
		if after, _ := os.ReadFile(path); string(after) != string(blob) {
			t.Errorf("%s: the damaged checkpoint was overwritten", name)
		}
	}
}

func TestDifferentRunInSameFolderIsRefused(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	if _, err := Run(context.Background(), cfg, data); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Seed = 8
	_, err := Run(context.Background(), other, data)
	if err == nil || !strings.Contains(err.Error(), "seed: checkpoint has 7, this run has 8") {
		t.Errorf("Run with another seed in the same folder returned %v", err)
	}
}

// TestRunOnOtherDataIsRefused: a finished run is not re-tested on another
// test set, an interrupted one does not resume on other training data, and
// a run does not overwrite the results.json of a different run whose
// checkpoint is gone; the files are left as they were.
func TestRunOnOtherDataIsRefused(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	first, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	resultsPath := filepath.Join(cfg.OutDir, ResultsFile)
	before, _ := os.ReadFile(resultsPath)
	train, test, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data Data
		want string
	}{
		{"fewer test images", Data{Train: data.Train, Val: data.Val, Test: mnistExamples(t, test.Slice(0, 500))}, "test_data: checkpoint has \"1000 x [784], crc32c"},
		{"other test images", Data{Train: data.Train, Val: data.Val, Test: mnistExamples(t, test.Slice(1000, 2000))}, "test_data: checkpoint has"},
		{"other training images", Data{Train: mnistExamples(t, train.Slice(2000, 4000)), Val: data.Val, Test: data.Test}, "train_data: checkpoint has"},
	} {
		_, err := Run(context.Background(), cfg, c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "different run") {
			t.Errorf("%s: Run returned %v, want an error with %q", c.name, err, c.want)
		}
	}
	if after, _ := os.ReadFile(resultsPath); string(after) != string(before) {
		t.Error("a refused run rewrote results.json")
	}
	// The same data again: accepted, the same test accuracy.
	again, err := Run(context.Background(), cfg, data)
	if err != nil || again.TestAccuracy != first.TestAccuracy {
		t.Fatalf("rerun on the same data: %v, test accuracy %v want %v", err, again.TestAccuracy, first.TestAccuracy)
	}
	// Without the checkpoint, a different run must not replace the results.
	if err := os.Remove(filepath.Join(cfg.OutDir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	before, _ = os.ReadFile(resultsPath)
	other := cfg
	other.Seed = 8
	if _, err := Run(context.Background(), other, data); err == nil || !strings.Contains(err.Error(), "seed: results.json has 7, this run has 8") ||
		!strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("another seed over results without a checkpoint: %v", err)
	}
	if after, _ := os.ReadFile(resultsPath); string(after) != string(before) {
		t.Error("a refused run rewrote results.json")
	}
}

// TestCompletedRun: the completed run of the same configuration and data
// is returned as it was recorded, one of another configuration is an error,
// and a folder without a completed run gives nil.
func TestCompletedRun(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	if prev, err := CompletedRun(cfg, data); prev != nil || err != nil {
		t.Fatalf("empty folder: %v, %v", prev, err)
	}
	res, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := CompletedRun(cfg, data)
	if err != nil || prev == nil || prev.TestAccuracy != res.TestAccuracy || len(prev.History) != 3 {
		t.Fatalf("completed run: %+v, %v", prev, err)
	}
	other := cfg
	other.Optimizer.LearningRate = 0.02
	if _, err := CompletedRun(other, data); err == nil || !strings.Contains(err.Error(), "optimizer.learning_rate: results.json has 0.01, this run has 0.02") {
		t.Errorf("another learning rate: %v", err)
	}
	// Without the data (the zero Data), the settings alone are compared.
	if prev, err := CompletedRun(cfg, Data{}); err != nil || prev == nil || prev.TestAccuracy != res.TestAccuracy {
		t.Errorf("the same settings without the data: %+v, %v", prev, err)
	}
	if _, err := CompletedRun(other, Data{}); err == nil || !strings.Contains(err.Error(), "optimizer.learning_rate: results.json has 0.01, this run has 0.02") {
		t.Errorf("another learning rate without the data: %v", err)
	}
}

// TestOldFingerprintsResume: a checkpoint written before the data and test
// set were fingerprinted still resumes (the fields it lacks are not
// compared), while the fields it has still are.
func TestOldFingerprintsResume(t *testing.T) {
	old := []byte(`{"model":"m","seed":7,"train_examples":2000}`)
	now := []byte(`{"model":"m","seed":7,"train_examples":2000,"test_examples":1000,"train_data":"a","val_data":"b","test_data":"c"}`)
	if d := fingerprintDiff(old, now, "checkpoint"); d != "" {
		t.Errorf("old fingerprint: %s", d)
	}
	if d := fingerprintDiff([]byte(`{"model":"m","seed":7}`), now, "checkpoint"); !strings.Contains(d, "train_examples: checkpoint has nothing") {
		t.Errorf("a field present before the change but missing: %q", d)
	}
	// A difference inside an object is named by its path, not by the
	// whole object cut short.
	long := strings.Repeat("1,", 80) + "1"
	sa := []byte(`{"schedule":{"order":[` + long + `],"stages":[` + long + `]}}`)
	sb := []byte(`{"schedule":{"order":[` + long + `],"stages":[` + long + `],"freeze":true}}`)
	if d := fingerprintDiff(sa, sb, "results.json"); d != "schedule.freeze: results.json has nothing, this run has true" {
		t.Errorf("nested difference: %q", d)
	}
	if d := fingerprintDiff(now, []byte(`{"model":"m","seed":7,"train_examples":2000,"test_examples":1000,"train_data":"x","val_data":"b","test_data":"c"}`), "checkpoint"); !strings.Contains(d, "train_data: checkpoint has") {
		t.Errorf("other training data: %q", d)
	}
}

func newTestEngine(t *testing.T, net models.Network, opt Optimizer) *Engine {
	t.Helper()
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(3)
	e, err := NewEngine(b, store, net, quant.STESign, opt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func weights(t *testing.T, e *Engine, layer int) []float32 {
	return tensors.MustCopyFlatData[float32](e.Layers()[layer].Weights.MustValue())
}

// TestEvaluationSeesTraining guards against stale variables in a reused
// evaluation graph: evaluation must change once training changes the weights.
func TestEvaluationSeesTraining(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	modes := []binnet.Mode{binnet.Float, binnet.Float, binnet.Float}
	x, y := batchOf(data.Train, []int{0, 1, 2, 3, 4, 5, 6, 7})
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.01); err != nil {
		t.Fatal(err)
	}
	l1, _, _ := e.Evaluate(data.Val, modes, 250)
	for i := 0; i < 5; i++ {
		if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.01); err != nil {
			t.Fatal(err)
		}
	}
	l2, _, _ := e.Evaluate(data.Val, modes, 250)
	if l1 == l2 {
		t.Errorf("validation loss %v unchanged after 5 training steps", l1)
	}
}

// TestBatchTensorsReused: the engine copies each batch into tensors it keeps
// per batch shape; evaluating one set, then another of the same shape, then
// the first again must give the first numbers again, and a batch whose
// features do not match its labels and example shape is refused.
func TestBatchTensorsReused(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	modes := []binnet.Mode{binnet.Binary, binnet.Float, binnet.Float}
	x, y := batchOf(data.Train, []int{0, 1, 2, 3, 4, 5, 6, 7})
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.01); err != nil {
		t.Fatal(err)
	}
	l1, a1, err := e.Evaluate(data.Val, modes, 50)
	if err != nil {
		t.Fatal(err)
	}
	l2, _, err := e.Evaluate(data.Test, modes, 50)
	if err != nil {
		t.Fatal(err)
	}
	l3, a3, err := e.Evaluate(data.Val, modes, 50)
	if err != nil {
		t.Fatal(err)
	}
	if l1 != l3 || a1 != a3 {
		t.Errorf("validation set evaluated twice: loss %v then %v, accuracy %v then %v", l1, l3, a1, a3)
	}
	if l1 == l2 {
		t.Errorf("validation and test sets give the same loss %v", l1)
	}
	err = e.TrainStep(x[:len(x)-1], y, data.Train.ExampleShape(), modes, 0.01)
	if err == nil || !strings.Contains(err.Error(), "needs 6272 features, got 6271") {
		t.Errorf("a batch one feature short: got error %v", err)
	}
}

// TestFrozenAndClipped checks the per-layer modes of the optimizer: a frozen
// layer's latent weights do not move; a training one does; clipping keeps
// latent weights in [-1,1].
func TestFrozenAndClipped(t *testing.T) {
	data := smallData(t)
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.5})
	e.ClipAll = true
	modes := []binnet.Mode{binnet.Frozen, binnet.Binary, binnet.Float}
	x, y := batchOf(data.Train, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.5); err != nil {
		t.Fatal(err)
	}
	w0, w1 := weights(t, e, 0), weights(t, e, 1)
	for i := 0; i < 3; i++ {
		if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	a0, a1 := weights(t, e, 0), weights(t, e, 1)
	moved := 0
	for i := range w0 {
		if a0[i] != w0[i] {
			t.Fatalf("frozen layer 1 weight %d moved from %v to %v", i, w0[i], a0[i])
		}
	}
	for i := range w1 {
		if a1[i] != w1[i] {
			moved++
		}
		if a1[i] > 1 || a1[i] < -1 {
			t.Fatalf("clipped latent weight %v outside [-1,1]", a1[i])
		}
	}
	if moved == 0 {
		t.Error("binary (training) layer 2 did not move")
	}
}

func TestConfigErrors(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	bad := cfg
	bad.Network = models.MLP{Inputs: 784, Hidden: []int{8}, Classes: 10}
	if _, err := Run(context.Background(), bad, data); err == nil || !strings.Contains(err.Error(), "schedule has 3 layers") {
		t.Errorf("mismatched schedule: %v", err)
	}
	bad = cfg
	bad.Network = models.MLP{Inputs: 100, Hidden: []int{8, 8}, Classes: 10}
	if _, err := Run(context.Background(), bad, data); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong input shape: %v", err)
	}
	bad = cfg
	bad.Optimizer.LearningRate = -1
	if _, err := Run(context.Background(), bad, data); err == nil || !strings.Contains(err.Error(), "learning rate") {
		t.Errorf("negative learning rate: %v", err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = dir
	_, err = Run(context.Background(), cfg, smallData(t))
	if err == nil || !strings.Contains(err.Error(), "in use by process") {
		t.Errorf("Run into a locked folder returned %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, CheckpointFile)); serr == nil {
		t.Error("the refused run wrote a checkpoint")
	}
	lock.unlock()
	if _, err := Run(context.Background(), cfg, smallData(t)); err != nil {
		t.Errorf("after the lock was released: %v", err)
	}
}

// TestResetLatentEachEpoch checks the official-evaluation variant: after each
// epoch the latent weights of binary layers are exactly ±1, float layers keep
// float weights.
func TestResetLatentEachEpoch(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.Schedule, _ = schedule.Fixed(3, []int{0}, 2) // only layer 1 binary
	cfg.ResetLatentEachEpoch = true
	cfg.OutDir = t.TempDir()
	if _, err := Run(context.Background(), cfg, data); err != nil {
		t.Fatal(err)
	}
	ck, err := ReadCheckpoint(filepath.Join(cfg.OutDir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	w1 := tensors.MustCopyFlatData[float32](ck.Values["/model/dense1/weights"])
	for _, v := range w1 {
		if v != 1 && v != -1 {
			t.Fatalf("binary layer 1 latent weight %v after the epoch, want ±1", v)
		}
	}
	w2 := tensors.MustCopyFlatData[float32](ck.Values["/model/dense2/weights"])
	nonBinary := 0
	for _, v := range w2 {
		if v != 1 && v != -1 {
			nonBinary++
		}
	}
	if nonBinary == 0 {
		t.Error("float layer 2 latent weights were binarized too")
	}
}

func TestStaleTemporaryFilesAreRemoved(t *testing.T) {
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	stale := filepath.Join(cfg.OutDir, "."+CheckpointFile+".tmp-123")
	if err := os.WriteFile(stale, []byte("half a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, smallData(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary checkpoint still there: %v", err)
	}
}

// stepBatch returns the step-th batch of 16 consecutive training examples
// of data (examples 16*step to 16*step+15), the batches the multi-step tests
// feed their engines.
func stepBatch(data Data, step int) ([]float32, []int32) {
	idx := make([]int, 16)
	for i := range idx {
		idx[i] = step*16 + i
	}
	return batchOf(data.Train, idx)
}

// batchOf reads the examples at idx from src, without augmentation.
func batchOf(src Source, idx []int) ([]float32, []int32) {
	x, y := make([]float32, len(idx)*exampleSize(src)), make([]int32, len(idx))
	if err := src.Batch(idx, nil, x, y); err != nil {
		panic(err)
	}
	return x, y
}

// threeStages goes float -> one binary -> binary + frozen for smallMLP.
var threeStages = [][]binnet.Mode{
	{binnet.Float, binnet.Float, binnet.Float},
	{binnet.Binary, binnet.Float, binnet.Float},
	{binnet.Frozen, binnet.Binary, binnet.Float},
	{binnet.Frozen, binnet.Binary, binnet.Binary},
}

// trainThroughStages trains smallMLP three steps of 16 examples in each of
// threeStages with an engine that configure sets up, and returns the engine
// and the validation accuracy after each stage.
func trainThroughStages(t *testing.T, opt Optimizer, configure func(*Engine)) (*Engine, []float64) {
	t.Helper()
	data := smallData(t)
	e := newTestEngine(t, smallMLP, opt)
	configure(e)
	var accs []float64
	for s, modes := range threeStages {
		for step := 0; step < 3; step++ {
			x, y := stepBatch(data, s*3+step)
			if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, opt.LearningRate); err != nil {
				t.Fatal(err)
			}
		}
		_, acc, err := e.Evaluate(data.Val, modes, 50)
		if err != nil {
			t.Fatal(err)
		}
		accs = append(accs, acc)
	}
	return e, accs
}

// TestStageGraphsEqualGatedGraph: the graphs compiled per binarization state
// must compute exactly (bit for bit) what the single gated graph computes,
// through a schedule that goes float -> one binary -> binary + frozen, for
// every variable (weights, batch norm, optimizer state) and for evaluation.
func TestStageGraphsEqualGatedGraph(t *testing.T) {
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	staged, accStaged := trainThroughStages(t, opt, func(e *Engine) {})
	gated, accGated := trainThroughStages(t, opt, func(e *Engine) { e.Gated = true })
	if len(staged.stages) != len(threeStages) {
		t.Errorf("%d stage graphs compiled for %d states", len(staged.stages), len(threeStages))
	}
	if fmt.Sprint(accStaged) != fmt.Sprint(accGated) {
		t.Errorf("validation accuracies per stage: staged %v, gated %v", accStaged, accGated)
	}
	assertSameVariables(t, "gated", gated, "staged", staged)
}

// assertSameVariables fails unless every model and optimizer variable of
// engine a has the same bits in engine b, on the pure-Go backend; on other
// backends, unless the network's variables are close (see closeTolerance).
func assertSameVariables(t *testing.T, nameA string, a *Engine, nameB string, b *Engine) {
	t.Helper()
	exact := OnHost(a.Backend)
	compared, worst, worstPath := 0, 0.0, ""
	for v := range a.Store.IterVariables() {
		if !strings.HasPrefix(v.Scope(), "/model") && !strings.HasPrefix(v.Scope(), "/optimizer") {
			continue
		}
		w := b.Store.GetVariable(v.Path())
		if w == nil {
			t.Errorf("variable %s missing in the %s engine", v.Path(), nameB)
			continue
		}
		va := tensors.MustCopyFlatData[float32](v.MustValue())
		vb := tensors.MustCopyFlatData[float32](w.MustValue())
		if exact {
			for i := range va {
				if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
					t.Fatalf("%s[%d]: %s %v, %s %v", v.Path(), i, nameA, va[i], nameB, vb[i])
				}
			}
		} else if name := path.Base(v.Path()); !strings.HasPrefix(v.Scope(), "/model") ||
			strings.HasPrefix(name, "bias") || strings.HasPrefix(name, "running_") {
			continue // see closeTolerance
		} else {
			d := relativeDistance(va, vb)
			if !(d <= closeTolerance/100) {
				t.Logf("%s: relative distance %.2g", v.Path(), d)
			}
			if math.IsNaN(d) || d > worst && !math.IsNaN(worst) { // a NaN stays the worst
				worst, worstPath = d, v.Path()
			}
		}
		compared++
	}
	if least := map[bool]int{true: 10, false: 9}[exact]; compared < least { // three layers' weights, scales and offsets at least
		t.Fatalf("compared only %d variables", compared)
	}
	if !exact {
		t.Logf("%s against %s on %s: largest relative distance %.2g (%s)", nameA, nameB, a.Backend.Name(), worst, worstPath)
		if !(worst <= closeTolerance) { // NaN fails too
			t.Fatalf("%s: %s and %s differ by %.3g of its norm (more than %g)", worstPath, nameA, nameB, worst, closeTolerance)
		}
	}
}

// closeTolerance is how far, relative to its norm, a variable of two
// engines that ran the same training may differ on a backend other than the
// pure-Go one (XLA on a GPU), where assertSameVariables does not compare
// bits: each compiled program fuses and orders its reductions its own way
// (on the H200 the same test even gave other figures from one run to the next),
// and the sign of the binary layers and Adam's normalized steps turn a
// difference in the last bit into a flipped weight or a full-size step.
// There it compares the network's own variables, latent weights and batch
// norm's scale and offset, which a step missed or two batches swapped moves
// by a good part of their norm: on an H200 the small MLP's 16 single steps
// against the same steps looped or unrolled left them at most 0.032 of a
// norm apart (weights 0.01; a convolutional net trained with SGD: 1e-7).
// Left out: the optimizer's slots, whose moments of small gradients that
// cancel over the batch (batch norm's offsets) are mostly rounding noise (up
// to 0.17 on the H200); biases, since a bias ahead of batch norm (every bias
// of the test networks but a ResNet classifier's) has a zero gradient in
// exact arithmetic, so that what it holds is rounding noise that Adam's
// normalization blows up to the learning rate's size and batch norm
// subtracts again; and batch norm's running statistics, which record those
// biases. The accumulated loss covers what all of them do to the output.
const closeTolerance = 0.1

// relativeDistance returns |a-b| / max(|a|, tiny) in the L2 norm.
func relativeDistance(a, b []float32) float64 {
	var diff, norm float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		diff += d * d
		norm += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(diff) / math.Max(math.Sqrt(norm), 1e-12)
}

// TestRandomBatch checks RandomBatch's shapes, label range, the moments of
// its features and that a seed gives the same batch.
func TestRandomBatch(t *testing.T) {
	p, err := models.Lookup("cnn")
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	x, y := RandomBatch(p.Network, n, rand.New(rand.NewPCG(7, 8)))
	if len(x) != n*28*28 || len(y) != n {
		t.Fatalf("got %d features and %d labels, want %d and %d", len(x), len(y), n*28*28, n)
	}
	seen := map[int32]bool{}
	for _, l := range y {
		if l < 0 || l >= 10 {
			t.Fatalf("label %d outside 0..9", l)
		}
		seen[l] = true
	}
	if len(seen) < 5 {
		t.Errorf("only %d distinct labels in %d draws", len(seen), n)
	}
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean := sum / float64(len(x))
	variance := sq/float64(len(x)) - mean*mean
	if math.Abs(mean) > 0.02 || math.Abs(variance-1) > 0.03 { // 39,200 draws: standard errors 0.005 and 0.007
		t.Errorf("features have mean %.4f and variance %.4f, want 0 and 1", mean, variance)
	}
	x2, y2 := RandomBatch(p.Network, n, rand.New(rand.NewPCG(7, 8)))
	if !slices.Equal(x, x2) || !slices.Equal(y, y2) {
		t.Error("the same seed gave another batch")
	}
}

// TestDivergenceAboveMaxLoss: a finite loss above Config.MaxLoss stops the
// run as a divergence naming the limit; the default limit is 100 x ln(classes).
func TestDivergenceAboveMaxLoss(t *testing.T) {
	if got, want := DefaultMaxLoss(10), 100*math.Log(10); got != want {
		t.Errorf("DefaultMaxLoss(10) = %v, want %v", got, want)
	}
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.MaxLoss = 0.01 // below any first epoch's loss
	res, err := Run(context.Background(), cfg, data)
	var div *DivergenceError
	if !errors.As(err, &div) || div.Epoch != 1 || div.Limit != 0.01 || !(div.Loss > 0.01) || math.IsInf(div.Loss, 0) {
		t.Fatalf("Run returned %v (%+v), want a divergence in epoch 1 above 0.01", err, div)
	}
	if !strings.Contains(err.Error(), ", above the limit 0.01 in epoch 1") || res.Status != StatusFailed {
		t.Errorf("message %q, status %q", err, res.Status)
	}
	cfg.MaxLoss = -1
	if _, err := Run(context.Background(), cfg, data); err == nil || !strings.Contains(err.Error(), "MaxLoss -1 must be positive") {
		t.Errorf("negative MaxLoss: %v", err)
	}
}

func TestDivergenceMessageWithoutCheckpoint(t *testing.T) {
	err := &DivergenceError{Epoch: 1, Stage: 1, BinaryLayers: []int{1}, Loss: math.NaN()}
	want := "training diverged: loss NaN in epoch 1 (stage 1, binary layers [1]); no checkpoint was written (no epoch finished); a lower learning rate may help"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err.Error(), want)
	}
}

// TestStepMACs checks the step estimate against hand-computed products:
// mlp-300-100 has 784·300 + 300·100 + 100·10 = 266,200 multiply-accumulates
// per example forward; cnn's two 3x3 convolutions keep the 28x28 size
// (28·28·9·32 and 28·28·288·64) and its dense layer reads the 14x14x64
// pooled map (14·14·64·10).
func TestStepMACs(t *testing.T) {
	for _, c := range []struct {
		model string
		batch int
		want  int64
	}{
		{"mlp-300-100", 100, 3 * 100 * 266_200},
		{"mlp-784-784", 100, 3 * 100 * (784*784*2 + 784*10)},
		{"cnn", 100, 3 * 100 * (28*28*9*32 + 28*28*288*64 + 14*14*64*10)},
	} {
		p, err := models.Lookup(c.model)
		if err != nil {
			t.Fatal(err)
		}
		got, err := StepMACs(p.Network, c.batch)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s at batch %d: %d multiply-accumulates per step, want %d", c.model, c.batch, got, c.want)
		}
	}
}

// TestRerunOfCompletedRun: running a completed configuration again returns
// its recorded results without training or rewriting results.json (whose
// bytes stay the same), and says so on the progress writer.
func TestRerunOfCompletedRun(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	first, err := Run(context.Background(), cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	resultsPath := filepath.Join(cfg.OutDir, ResultsFile)
	before, _ := os.ReadFile(resultsPath)
	var progress strings.Builder
	cfg.Progress = &progress
	cfg.OnEpoch = func(r EpochRecord) { t.Errorf("epoch %d trained again", r.Epoch) }
	again, err := Run(context.Background(), cfg, data)
	if err != nil || again.TestAccuracy != first.TestAccuracy || len(again.History) != 3 || again.Status != StatusCompleted {
		t.Fatalf("rerun: %+v, %v", again, err)
	}
	if after, _ := os.ReadFile(resultsPath); string(after) != string(before) {
		t.Error("the rerun of a completed run rewrote results.json")
	}
	if !strings.Contains(progress.String(), "already complete (3 epochs)") {
		t.Errorf("progress %q does not say the run is complete", progress.String())
	}
	// Nor does it need the folder's lock, which needs write access (the
	// folder may be read-only now: as root here, a .lock that cannot be
	// opened for writing stands in for it).
	lock := filepath.Join(cfg.OutDir, LockFile)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	if again, err := Run(context.Background(), cfg, data); err != nil || again.TestAccuracy != first.TestAccuracy {
		t.Errorf("rerun without the lock: %v", err)
	}
	// A different configuration still needs it, and is refused.
	other := cfg
	other.Seed = 8
	if _, err := Run(context.Background(), other, data); err == nil || !strings.Contains(err.Error(), "locking") {
		t.Errorf("another configuration in a folder it cannot lock: %v", err)
	}
}

// TestFolderOfRunWithoutEpochs: a run that diverged in its first epoch
// leaves results.json (failed, no epoch) and no checkpoint; another
// configuration, such as the lower learning rate the message advises, may
// then use the folder, where one with recorded epochs is refused.
func TestFolderOfRunWithoutEpochs(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	bad := cfg
	bad.Optimizer.LearningRate = 1e30
	var badProgress strings.Builder
	bad.Progress = &badProgress
	_, err := Run(context.Background(), bad, data)
	var div *DivergenceError
	if !errors.As(err, &div) || div.Epoch != 1 || div.Checkpoint != "" {
		t.Fatalf("lr 1e30: %v, want a divergence in epoch 1 without a checkpoint", err)
	}
	// The progress line is short: the error, printed by the caller, says the rest.
	if want := fmt.Sprintf("epoch 1/3: diverged (loss %v)\n", div.Loss); badProgress.String() != want {
		t.Errorf("progress %q, want %q", badProgress.String(), want)
	}
	onDisk, err := ReadResults(filepath.Join(cfg.OutDir, ResultsFile))
	if err != nil || onDisk.Status != StatusFailed || len(onDisk.History) != 0 {
		t.Fatalf("results.json after the divergence: %+v, %v", onDisk, err)
	}
	var progress strings.Builder
	cfg.Progress = &progress
	res, err := Run(context.Background(), cfg, data)
	if err != nil || res.Status != StatusCompleted || len(res.History) != 3 {
		t.Fatalf("the advised lower rate in the same folder: %v", err)
	}
	if !strings.Contains(progress.String(), "recorded no epoch (failed); starting afresh") {
		t.Errorf("progress %q does not say the folder's earlier run is replaced", progress.String())
	}
}

// TestForeignResultsAreKept: a results.json in the output folder that
// binnet did not write (another tool's JSON, plain text, JSON null, a
// folder of that name) is refused by name and left as it was, with no
// checkpoint there and with a checkpoint of this very run.
func TestForeignResultsAreKept(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	refused := func(dir, why string) string {
		return "training: refusing to overwrite " + filepath.Join(dir, ResultsFile) + ": " + why + "; move it away or use another output folder"
	}
	for _, c := range []struct{ name, content, why string }{
		{"other JSON", `{"experiment": "precious", "accuracy": 0.99}`, "not a binnet results file: no status"},
		{"notes", "my own notes, not JSON\n", "not a binnet results file: invalid character 'm' looking for beginning of value"},
		{"null", "null", "not a binnet results file: null"},
		{"status only", `{"status": "completed", "model": "m"}`, "not a binnet results file: no network"},
		{"other status", `{"status": "done", "network": "n"}`, `not a binnet results file: status "done" (binnet writes running, completed or failed)`},
	} {
		run := cfg
		run.OutDir = t.TempDir()
		path := filepath.Join(run.OutDir, ResultsFile)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		run.OnEpoch = func(EpochRecord) { t.Errorf("%s: trained", c.name) }
		if _, err := Run(context.Background(), run, data); err == nil || err.Error() != refused(run.OutDir, c.why) {
			t.Errorf("%s: %v, want\n%s", c.name, err, refused(run.OutDir, c.why))
		}
		if b, _ := os.ReadFile(path); string(b) != c.content {
			t.Errorf("%s: results.json now holds %q", c.name, b)
		}
	}
	run := cfg
	run.OutDir = t.TempDir()
	if err := os.Mkdir(filepath.Join(run.OutDir, ResultsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), run, data); err == nil || err.Error() != refused(run.OutDir, "cannot read it: is a directory") {
		t.Errorf("a folder named results.json: %v", err)
	}

	// A finished run whose results.json was replaced: its checkpoint
	// resumes, but the foreign file is not overwritten.
	run = cfg
	run.OutDir = t.TempDir()
	if _, err := Run(context.Background(), run, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(run.OutDir, ResultsFile)
	foreign := `{"experiment": "precious"}`
	if err := os.WriteFile(path, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), run, data); err == nil || err.Error() != refused(run.OutDir, "not a binnet results file: no status") {
		t.Errorf("a checkpoint with a foreign results.json: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != foreign {
		t.Errorf("results.json now holds %q", b)
	}
}

// TestOldResultsWithoutFingerprintResume: a results.json of a binnet
// version before fingerprints (no fingerprint field) is a binnet run's,
// and the run in its folder goes on.
func TestOldResultsWithoutFingerprintResume(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	old := `{"status": "running", "model": "test-mlp", "network": "mlp-784-64-32-10", "history": []}`
	if err := os.WriteFile(filepath.Join(cfg.OutDir, ResultsFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := Run(context.Background(), cfg, data); err != nil || res.Status != StatusCompleted {
		t.Fatalf("run over an old results.json: %v", err)
	}
}

// TestNewEngineValidatesNetwork: a network with a bad field is refused by
// NewEngine naming it, not inside graph building.
func TestNewEngineValidatesNetwork(t *testing.T) {
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewEngine(b, model.NewStore(), models.MLP{Inputs: 784, Hidden: []int{0}, Classes: 10}, nil, Optimizer{Name: "adam", LearningRate: 0.01})
	if err == nil || !strings.Contains(err.Error(), "training: NewEngine: models:") {
		t.Errorf("an MLP with a hidden layer of 0 units: %v", err)
	}
}
