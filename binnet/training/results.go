package training

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/binnet/binnet/binnet/schedule"
)

// ResultsFile is the name of the results inside a run's output folder.
const ResultsFile = "results.json"

// Status of a run in its results file.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// interruptedPrefix starts the error of a run stopped by an interrupt (see
// interrupted), which Results.Interrupted recognizes.
const interruptedPrefix = "interrupted"

// Interrupted reports whether the run stopped at an interrupt (its status
// failed, its error written by an interrupted Run): it resumes when run
// again, where a diverged run diverges again.
func (r *Results) Interrupted() bool {
	return r.Status == StatusFailed && strings.HasPrefix(r.Error, interruptedPrefix)
}

// EpochRecord is the history entry of one epoch. Epochs and layers are 1-based.
type EpochRecord struct {
	// Epoch is the epoch's number, from 1.
	Epoch int `json:"epoch"`
	// Stage is the schedule's stage during the epoch, from 1 (always 1 for
	// a schedule that is not iterative).
	Stage int `json:"stage"`
	// BinaryLayers are the layers whose forward pass used sign(w) during
	// the epoch (binary or frozen), from 1; [] when none.
	BinaryLayers []int `json:"binary_layers"`
	// FrozenLayers are the layers of BinaryLayers whose latent weights were
	// frozen (not updated) during the epoch; omitted when none.
	FrozenLayers []int `json:"frozen_layers,omitempty"`
	// LearningRate is the epoch's learning rate, milestones applied
	// (Config.LearningRate).
	LearningRate float64 `json:"learning_rate"`
	// TrainLoss is the mean cross-entropy (natural log) over the examples
	// of the epoch's training batches, each batch's computed by its training
	// step (training mode, the weights before the step's update).
	TrainLoss float64 `json:"train_loss"`
	// TrainAccuracy is the fraction (0 to 1) of those examples predicted
	// correctly, counted as TrainLoss.
	TrainAccuracy float64 `json:"train_accuracy"`
	// ValLoss is the mean cross-entropy on the validation set after the
	// epoch's training (and latent reset, Config.ResetLatentEachEpoch), in
	// evaluation mode (batch norm's running averages) with the epoch's
	// layer modes.
	ValLoss float64 `json:"val_loss"`
	// ValAccuracy is the fraction (0 to 1) of the validation set predicted
	// correctly, evaluated as ValLoss.
	ValAccuracy float64 `json:"val_accuracy"`
	// TestLoss and TestAccuracy are the test set's, evaluated as ValLoss
	// after the validation, when the run tests after every epoch
	// (Config.TestEachEpoch); omitted otherwise.
	TestLoss     float64 `json:"test_loss,omitempty"`
	TestAccuracy float64 `json:"test_accuracy,omitempty"`
	// Seconds is the epoch's wall-clock time in seconds: its training steps,
	// latent reset and validation; the test evaluation of TestEachEpoch,
	// the checkpoint and results writes excluded.
	Seconds float64 `json:"seconds"`
}

// Tested reports whether the epoch's test set was evaluated
// (Config.TestEachEpoch): a mean cross-entropy is never exactly 0.
func (r EpochRecord) Tested() bool { return r.TestLoss != 0 }

// Results is what a run writes to results.json.
type Results struct {
	// Status is StatusRunning while epochs remain, StatusCompleted once the
	// last epoch and the test evaluation are done, and StatusFailed when
	// the run diverged or was interrupted (see Error).
	Status string `json:"status"`
	// Error is the text of the error that failed the run: a
	// *DivergenceError, or an interrupt (see Interrupted); omitted otherwise.
	Error string `json:"error,omitempty"`
	// Model is the preset's name (Config.Model), e.g. "vgg5"; export
	// looks the preset up by it.
	Model string `json:"model"`
	// Network is the trained network's Name(), e.g. "mlp-784-300-100-10" or
	// "vgg5-32x32x3"; export rebuilds an adapted network from it.
	Network string `json:"network"`
	// Dataset is the data set's name (Config.Dataset), e.g. "mnist" or
	// "cifar10"; export derives the input normalization from it.
	Dataset string `json:"dataset"`
	// Order is the binarization order as the user gave it (Config.Order),
	// e.g. "forward", "reverse", "random" or "1,3,2".
	Order string `json:"order"`
	// SensitivityFiles are the sensitivity result files (sensitivity.json)
	// whose ranking gave an ascend or descend order (Config.SensitivityFiles;
	// several are pooled), so that a guided run can be traced to its
	// pre-training; Schedule holds the order they gave. Omitted for other
	// orders. Not part of the fingerprint: a resume may name them otherwise.
	SensitivityFiles []string `json:"sensitivity_files,omitempty"`
	// Schedule is the run's schedule, which gives the mode of every layer
	// at every epoch.
	Schedule *schedule.Schedule `json:"schedule"`
	// Seed seeded the initialization, the shuffles, the augmentation and
	// the noise (Config.Seed).
	Seed int64 `json:"seed"`
	// Quantizer is the quantizer's name, as quant.Parse reads it (e.g.
	// "ste_sign").
	Quantizer string `json:"quantizer"`
	// Optimizer is the optimizer with its defaults filled in.
	Optimizer Optimizer `json:"optimizer"`
	// BatchSize is the number of examples of a training batch.
	BatchSize int `json:"batch_size"`
	// ClipLatent says that the latent weights of every binarizable layer
	// were clipped to [-1,1] after each update (Config.ClipLatent);
	// omitted when false.
	ClipLatent bool `json:"clip_latent,omitempty"`
	// ResetLatent says that the latent weights of binary and frozen layers
	// were set to sign(w) after every epoch, before validation
	// (Config.ResetLatentEachEpoch); omitted when false.
	ResetLatent bool `json:"reset_latent_each_epoch,omitempty"`
	// TrainExamples is the number of examples of the training set.
	TrainExamples int `json:"train_examples"`
	// ValExamples is the number of examples of the validation set.
	ValExamples int `json:"val_examples"`
	// TestExamples is the number of examples of the test set.
	TestExamples int `json:"test_examples"`
	// Backend is the name of the backend the run trained on (its last
	// session's, for a resumed run).
	Backend string `json:"backend"`
	// History has one record per finished epoch, in order, including the
	// epochs run before a resume (restored from the checkpoint).
	History []EpochRecord `json:"history"`
	// BestEpoch is the epoch (from 1) of the highest validation accuracy,
	// the first on ties; set once every epoch has run, omitted while 0.
	BestEpoch int `json:"best_epoch,omitempty"`
	// BestValAcc is BestEpoch's validation accuracy (0 to 1); omitted while 0.
	BestValAcc float64 `json:"best_val_accuracy,omitempty"`
	// TestLoss is the mean cross-entropy on the test set, evaluated after
	// the last epoch with its layer modes; 0 before, for a failed run, and
	// with Config.SkipTest.
	TestLoss float64 `json:"test_loss"`
	// TestAccuracy is the fraction (0 to 1) of the test set predicted
	// correctly, evaluated as TestLoss.
	TestAccuracy float64 `json:"test_accuracy"`
	// BestTestAccuracy is the highest test accuracy of the epochs of the
	// last stage (the network binarized as it ends: every layer binary but
	// for a float run) that were tested (Config.TestEachEpoch), and
	// BestTestEpoch the first epoch (from 1) that reached it: the figure
	// the official code's full-training scripts print ("Best accuracy ...
	// at epoch ...", over every epoch there, partly binary ones included).
	// It selects on the test set, so it is optimistic; TestAccuracy is the
	// unselected figure. BestTestOf is the number of the last stage's
	// epochs tested (fewer than the stage's when TestEachEpoch was set on a
	// resume inside it). All three omitted when no such epoch was tested.
	BestTestAccuracy float64 `json:"best_test_accuracy,omitempty"`
	BestTestEpoch    int     `json:"best_test_epoch,omitempty"`
	BestTestOf       int     `json:"best_test_of_epochs,omitempty"`
	// BestTestAnyAccuracy is the official full-training scripts' figure
	// itself: the highest test accuracy of every epoch (partly binary ones
	// of an iterative run included), and BestTestAnyEpoch the first epoch
	// that reached it; both omitted unless every epoch was tested.
	BestTestAnyAccuracy float64 `json:"best_test_accuracy_any_epoch,omitempty"`
	BestTestAnyEpoch    int     `json:"best_test_epoch_any_epoch,omitempty"`
	// TrainSeconds is the sum of the epochs' Seconds, over every session of
	// a resumed run (carried over from its previous results.json).
	TrainSeconds float64 `json:"train_seconds"`
	// ResumedAt lists the epochs (from 1) at which the run resumed from its
	// checkpoint, one per resume, oldest first; omitted when it never did.
	ResumedAt []int `json:"resumed_at_epoch,omitempty"`
	// Fingerprint is what a resume or a rerun in the same folder must match:
	// the configuration and the data's content (see Fingerprinter); omitted
	// by versions of binnet before it was recorded.
	Fingerprint json.RawMessage `json:"fingerprint,omitempty"`
}

// WriteResults writes r to path atomically, as indented JSON. A nil r is
// an error, not a file holding null.
func WriteResults(path string, r *Results) error {
	if r == nil {
		return fmt.Errorf("training: writing %s: no results (nil)", path)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'), 0o644)
}

// CheckResults returns nil when r, read from a results.json, is a binnet
// run's: it has one of the statuses Run writes and names its network, as
// every version of binnet has written them. A file without them (another
// tool's results.json, an empty object, JSON null) is not a run's, and the
// error says why, starting "not a binnet results file".
func CheckResults(r *Results) error {
	if r == nil {
		return errors.New("not a binnet results file: null")
	}
	switch r.Status {
	case StatusRunning, StatusCompleted, StatusFailed:
	case "":
		return errors.New("not a binnet results file: no status")
	default:
		return fmt.Errorf("not a binnet results file: status %q (binnet writes running, completed or failed)", r.Status)
	}
	if r.Network == "" {
		return errors.New("not a binnet results file: no network")
	}
	return nil
}

// ReadResults reads a results file.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("results %s: %w", path, err)
	}
	return &r, nil
}
