// Package training runs binnet's training: epochs over a seeded shuffle,
// layers binarized as a schedule says, validation after every epoch, an atomic
// checkpoint after every epoch with exact resume, divergence detection, and
// the final test accuracy, all recorded in results.json.
package training

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
)

// Config describes one training run.
type Config struct {
	Model    string             // preset name, for the records
	Dataset  string             // data set name, for the records
	Network  models.Network     // the network to train
	Schedule *schedule.Schedule // which layers are binary at each epoch
	Order    string             // the order's name as the user gave it, for the records
	// SensitivityFiles are the sensitivity result files whose ranking gave
	// an ascend or descend order, for the records (Results.SensitivityFiles).
	SensitivityFiles []string
	Quantizer        quant.Quantizer // default quant.STESign
	Optimizer        Optimizer       // default Adam
	BatchSize        int             // training batch, default 100
	EvalBatchSize    int             // evaluation batch, default 1000
	Seed             int64           // seeds initialization, shuffling, augmentation and noise
	// LRMilestones are the epochs (0-based, as PyTorch's MultiStepLR counts
	// them) from which the learning rate is multiplied by LRGamma once more.
	LRMilestones []int
	LRGamma      float64 // default 0.1 when there are milestones
	ClipLatent   bool    // clip latent weights of binarizable layers to [-1,1]
	// ResetLatentEachEpoch sets the latent weights of binary layers to
	// sign(w) after every epoch, before validation: the side effect of the
	// official code's evaluation (see Engine.ResetLatentToSign). Off by default.
	ResetLatentEachEpoch bool

	// OutDir receives checkpoint.bin and results.json; "" keeps everything in
	// memory. A run finds the checkpoint of an interrupted run with the same
	// configuration there and resumes it. A results.json there that is not
	// a binnet run's (CheckResults), or cannot be read, is an error naming
	// it, never overwritten.
	OutDir string
	// Progress receives progress output; nil for none.
	Progress io.Writer
	// Terminal makes Progress a live progress bar instead of one line per epoch.
	Terminal bool
	// Backend to run on; nil opens the one GOMLX_BACKEND selects.
	Backend compute.Backend
	// Devices > 1 splits every training batch over that many devices of the
	// backend (see Engine.DataParallel); the batch size must be a multiple.
	Devices int
	// StepsPerCall > 1 runs the training steps in groups of that many
	// batches, each group one execution of a graph that unrolls its steps
	// (see Engine.TrainSteps): the same steps, with one host round trip per
	// group, for small networks on a GPU. Batches left over at the end of an
	// epoch, and the pure-Go backend's fused update, run one step per call.
	StepsPerCall int
	// LoopSteps runs each group of StepsPerCall steps as a While loop in the
	// graph, whose body is one step, rather than unrolled (see
	// Engine.LoopSteps): the compilation stays that of one step. XLA only:
	// on the pure-Go backend Run returns an error.
	LoopSteps bool
	// MaxLoss is the largest mean training loss of an epoch that is not
	// taken as divergence (a non-finite loss always is); 0 means
	// DefaultMaxLoss of the network's classes.
	MaxLoss float64
	// SkipTest skips the final test evaluation (sensitivity runs use validation only).
	SkipTest bool
	// TestEachEpoch evaluates the test set after every epoch too (its
	// accuracy in each EpochRecord, the best of the last stage in
	// Results.BestTestAccuracy), as the official code's full-training
	// scripts do. Training is unchanged (the same numbers bit for bit), so
	// a run may resume with it on or off. Ignored with SkipTest.
	TestEachEpoch bool
	// OnEpoch, if set, is called after each epoch's checkpoint is written.
	OnEpoch func(EpochRecord)
}

// DivergenceError reports a run stopped by a non-finite loss.
type DivergenceError struct {
	Epoch        int     // 1-based
	Stage        int     // 1-based
	BinaryLayers []int   // 1-based
	Loss         float64 // the epoch's mean training loss: NaN, ±Inf, or above Limit
	Limit        float64 // Config.MaxLoss the loss exceeded; 0 when the loss is not finite
	// Checkpoint is the checkpoint file left as it was, holding the last
	// good epoch (CheckpointEpoch); empty when the run writes none or no
	// epoch had finished.
	Checkpoint      string
	CheckpointEpoch int // the last good epoch (1-based), which Checkpoint holds; 0 when Checkpoint is empty
}

// Error says at which epoch and stage, with which binary layers, the loss
// became non-finite, and which checkpoint, if any, is kept.
func (e *DivergenceError) Error() string {
	kept := "no checkpoint was written (no epoch finished)"
	if e.Checkpoint != "" {
		kept = fmt.Sprintf("%s still holds epoch %d", e.Checkpoint, e.CheckpointEpoch)
	}
	above := ""
	if e.Limit > 0 {
		above = fmt.Sprintf(", above the limit %.4g", e.Limit)
	}
	return fmt.Sprintf("training diverged: loss %v%s in epoch %d (stage %d, binary layers %v); %s; a lower learning rate may help",
		e.Loss, above, e.Epoch, e.Stage, e.BinaryLayers, kept)
}

// DefaultMaxLoss is the divergence limit of a network with the given number
// of classes: 100 times ln(classes), the cross-entropy of a uniform guess.
// No training that learns anything has an epoch's mean loss near it, while
// a run that blows up without overflowing (SGD at a learning rate of 1e8
// reaches losses of 1e7) passes it in its first epochs.
func DefaultMaxLoss(classes int) float64 { return 100 * math.Log(float64(max(classes, 2))) }

// interrupted is the error of a run stopped by its context (an interrupt)
// after epochs finished epochs: it says what was kept and wraps cause, so
// that errors.Is(err, context.Canceled) holds. Its text, which results.json
// keeps as the run's error, starts with interruptedPrefix
// (Results.Interrupted), and names cause unless it is context.Canceled, which
// the text already says.
func interrupted(epochs int, checkpoint string, cause error) error {
	var text string
	switch {
	case checkpoint == "":
		text = fmt.Sprintf("%s with %d finished epoch(s); no output folder, so nothing was kept", interruptedPrefix, epochs)
	case epochs == 0:
		text = fmt.Sprintf("%s before the first epoch finished; no checkpoint was written", interruptedPrefix)
	default:
		text = fmt.Sprintf("%s after epoch %d, checkpointed in %s; running the same configuration again resumes from it", interruptedPrefix, epochs, checkpoint)
	}
	return &interruptedError{text: text, cause: cause}
}

// interruptedError is interrupted's error.
type interruptedError struct {
	text  string
	cause error
}

func (e *interruptedError) Error() string {
	if e.cause == nil || errors.Is(e.cause, context.Canceled) {
		return e.text
	}
	return e.text + ": " + e.cause.Error()
}

func (e *interruptedError) Unwrap() error { return e.cause }

// keptCheckpoint says what the output folder keeps of a run that stopped
// after epochs finished epochs: the checkpoint file holding them, if any.
func keptCheckpoint(checkpoint string, epochs int) string {
	switch {
	case checkpoint == "":
		return "no output folder, so nothing was kept"
	case epochs == 0:
		return "there is no checkpoint yet: running the same configuration again starts afresh"
	default:
		return fmt.Sprintf("%s still holds epoch %d; running the same configuration again resumes from it", checkpoint, epochs)
	}
}

// fingerprint is what must match for a checkpoint to be resumed.
type fingerprint struct {
	Model     string             `json:"model"`
	Network   string             `json:"network"`
	Dataset   string             `json:"dataset"`
	Schedule  *schedule.Schedule `json:"schedule"`
	Seed      int64              `json:"seed"`
	Quantizer string             `json:"quantizer"`
	Optimizer Optimizer          `json:"optimizer"`
	Batch     int                `json:"batch_size"`
	Clip      bool               `json:"clip_latent"`
	Reset     bool               `json:"reset_latent_each_epoch,omitempty"`
	Mile      []int              `json:"lr_milestones,omitempty"`
	Gamma     float64            `json:"lr_gamma,omitempty"`
	Train     int                `json:"train_examples"`
	Val       int                `json:"val_examples"`
	// Added later: a checkpoint written without them is resumed without
	// checking them (fingerprintDiff skips fields the old one lacks).
	Test      int    `json:"test_examples,omitempty"` // 0 with Config.SkipTest
	TrainData string `json:"train_data,omitempty"`
	ValData   string `json:"val_data,omitempty"`
	TestData  string `json:"test_data,omitempty"`
}

// settingsOf returns the fingerprint of cfg (its defaults set) without its
// data's fields.
func settingsOf(cfg Config) fingerprint {
	return fingerprint{Model: cfg.Model, Network: cfg.Network.Name(), Dataset: cfg.Dataset,
		Schedule: cfg.Schedule, Seed: cfg.Seed, Quantizer: cfg.Quantizer.Name(), Optimizer: cfg.Optimizer,
		Batch: cfg.BatchSize, Clip: cfg.ClipLatent, Reset: cfg.ResetLatentEachEpoch, Mile: cfg.LRMilestones, Gamma: cfg.LRGamma}
}

// runFingerprint returns the fingerprint of cfg (its defaults set) on data.
func runFingerprint(cfg Config, data Data) ([]byte, error) {
	fp := settingsOf(cfg)
	fp.Train, fp.Val = data.Train.Len(), data.Val.Len()
	fp.TrainData, fp.ValData = sourceFingerprint(data.Train), sourceFingerprint(data.Val)
	if !cfg.SkipTest {
		fp.Test, fp.TestData = data.Test.Len(), sourceFingerprint(data.Test)
	}
	return json.Marshal(fp)
}

// settingsFingerprint is the fingerprint of cfg without the fields that
// describe its data (sizes, checksums), which fingerprintDiff then does not
// compare.
func settingsFingerprint(cfg Config) ([]byte, error) {
	b, err := json.Marshal(settingsOf(cfg))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, k := range []string{"train_examples", "val_examples", "test_examples", "train_data", "val_data", "test_data"} {
		delete(m, k)
	}
	return json.Marshal(m)
}

// CompletedRun returns the results of a completed run of cfg on data in
// cfg.OutDir, or nil when the folder holds no completed run. A completed run
// of another configuration or on other data is an error naming the first
// difference (runs recorded by binnet versions without a fingerprint are
// taken as they are). With the zero Data (data not loaded) only the
// settings are compared, not the data's sizes and checksums. Sensitivity
// pre-training uses it to skip the layers already trained, sweep the runs.
func CompletedRun(cfg Config, data Data) (*Results, error) {
	prev := CompletedResults(cfg.OutDir)
	if prev == nil {
		return nil, nil
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var fp []byte
	var err error
	if data.Train == nil {
		fp, err = settingsFingerprint(cfg)
	} else {
		fp, err = runFingerprint(cfg, data)
	}
	if err != nil {
		return nil, err
	}
	if len(prev.Fingerprint) > 0 {
		if d := fingerprintDiff(prev.Fingerprint, fp, "results.json"); d != "" {
			return nil, fmt.Errorf("training: %s holds a completed run of a different configuration (%s); use another output folder or remove it", cfg.OutDir, d)
		}
	}
	return prev, nil
}

// CompletedResults returns the completed run that dir's results.json records,
// or nil when it records none (or cannot be read), whatever configuration
// it was (CompletedRun compares that).
func CompletedResults(dir string) *Results {
	prev, err := ReadResults(filepath.Join(dir, ResultsFile))
	if err != nil || prev.Status != StatusCompleted {
		return nil
	}
	return prev
}

func oneBased(idx []int) []int {
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = v + 1
	}
	return out
}

func frozenLayers(modes []binnet.Mode) []int {
	var out []int
	for i, m := range modes {
		if m == binnet.Frozen {
			out = append(out, i+1)
		}
	}
	return out
}

func (c *Config) setDefaults() error {
	if models.IsNil(c.Network) {
		return errors.New("training: no network")
	}
	if c.Schedule == nil {
		return errors.New("training: no schedule")
	}
	if c.Schedule.NumLayers() != c.Network.NumBinarizable() {
		return fmt.Errorf("training: the schedule has %d layers, network %s has %d binarizable layers",
			c.Schedule.NumLayers(), c.Network.Name(), c.Network.NumBinarizable())
	}
	if c.Quantizer == nil {
		c.Quantizer = quant.STESign
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.EvalBatchSize == 0 {
		c.EvalBatchSize = 1000
	}
	if c.MaxLoss == 0 {
		c.MaxLoss = DefaultMaxLoss(c.Network.NumClasses())
	}
	if !(c.MaxLoss > 0) {
		return fmt.Errorf("training: MaxLoss %v must be positive", c.MaxLoss)
	}
	if c.BatchSize < 2 {
		return fmt.Errorf("training: batch size %d: batch norm needs at least 2 examples per batch", c.BatchSize)
	}
	if c.Devices > 1 && c.BatchSize%c.Devices != 0 {
		return fmt.Errorf("training: batch size %d does not split over %d devices", c.BatchSize, c.Devices)
	}
	if c.StepsPerCall < 0 {
		return fmt.Errorf("training: %d steps per call: must be at least 1", c.StepsPerCall)
	}
	if c.EvalBatchSize < 1 {
		return fmt.Errorf("training: evaluation batch size %d must be positive", c.EvalBatchSize)
	}
	if len(c.LRMilestones) > 0 && c.LRGamma == 0 {
		c.LRGamma = 0.1
	}
	if !(c.LRGamma >= 0) || math.IsInf(c.LRGamma, 0) {
		return fmt.Errorf("training: learning-rate factor %v must be a non-negative number", c.LRGamma)
	}
	for i, m := range c.LRMilestones {
		if m < 1 || (i > 0 && m <= c.LRMilestones[i-1]) {
			return fmt.Errorf("training: learning-rate milestones %v must be increasing epochs from 1", c.LRMilestones)
		}
	}
	var err error
	c.Optimizer, err = c.Optimizer.withDefaults()
	return err
}

// LearningRate returns the learning rate of epoch (0-based) under cfg's
// optimizer rate and milestones.
func (c *Config) LearningRate(epoch int) float64 {
	lr := c.Optimizer.LearningRate
	for _, m := range c.LRMilestones {
		if epoch >= m {
			lr *= c.LRGamma
		}
	}
	return lr
}

// Run trains cfg.Network on data as cfg.Schedule says and returns the results.
// With cfg.OutDir set, it checkpoints after every epoch and resumes from an
// existing checkpoint of the same configuration. A diverging run returns a
// *DivergenceError, writes results with status "failed", and leaves the
// checkpoint of the last good epoch as it was.
func Run(ctx context.Context, cfg Config, data Data) (_ *Results, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := data.check(cfg.Network.InputShape(), cfg.Network); err != nil {
		return nil, err
	}
	if data.Train.Len() < cfg.BatchSize {
		return nil, fmt.Errorf("training: %d training examples are fewer than one batch of %d", data.Train.Len(), cfg.BatchSize)
	}
	b := cfg.Backend
	if b == nil {
		var err error
		if b, err = backend.Shared(); err != nil {
			return nil, err
		}
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(cfg.Seed); err != nil {
		return nil, err
	}
	engine, err := NewEngine(b, store, cfg.Network, cfg.Quantizer, cfg.Optimizer)
	if err != nil {
		return nil, err
	}
	engine.ClipAll = cfg.ClipLatent
	if err := checkLoop(cfg.LoopSteps, b); err != nil {
		return nil, err
	}
	engine.LoopSteps = cfg.LoopSteps
	if cfg.Devices > 1 {
		if err := engine.DataParallel(cfg.Devices); err != nil {
			return nil, err
		}
	}

	sched := cfg.Schedule
	res := &Results{
		Status: StatusRunning, Model: cfg.Model, Network: cfg.Network.Name(), Dataset: cfg.Dataset,
		Order: cfg.Order, SensitivityFiles: cfg.SensitivityFiles, Schedule: sched, Seed: cfg.Seed, Quantizer: cfg.Quantizer.Name(),
		Optimizer: engine.Optimizer, BatchSize: cfg.BatchSize, ClipLatent: cfg.ClipLatent, ResetLatent: cfg.ResetLatentEachEpoch,
		TrainExamples: data.Train.Len(),
		ValExamples:   data.Val.Len(), TestExamples: data.Test.Len(), Backend: b.Name(),
	}
	fp, err := runFingerprint(cfg, data)
	if err != nil {
		return nil, err
	}
	res.Fingerprint = fp
	if cfg.OutDir != "" {
		// A completed run of this very configuration: its results stand as
		// they were written, read without taking the folder's lock (which
		// needs write access: the folder may be read-only by now) and
		// without rewriting them, unless its checkpoint is damaged (the
		// path below says so) or holds fewer epochs.
		if prev := CompletedResults(cfg.OutDir); prev != nil && len(prev.Fingerprint) > 0 && fingerprintDiff(prev.Fingerprint, fp, "results.json") == "" &&
			completeCheckpoint(filepath.Join(cfg.OutDir, CheckpointFile), sched.TotalEpochs()) {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "%s: already complete (%d epochs); its results are kept as they are\n", cfg.OutDir, len(prev.History))
			}
			return prev, nil
		}
	}

	var ckptPath, resultsPath string
	startEpoch := 0
	// taken is set once this run owns its output folder (locked, and any
	// checkpoint or results there are its own): from then on, a failure
	// that the loop does not record itself (a full disk, a backend error)
	// is recorded in results.json as "failed", so that the folder does not
	// claim a run in progress.
	taken := false
	defer func() {
		if err == nil || !taken || res.Status == StatusFailed {
			return
		}
		res.Status, res.Error = StatusFailed, err.Error()
		if werr := WriteResults(resultsPath, res); werr != nil {
			err = fmt.Errorf("%w (nor could the failure be recorded: %v)", err, werr)
		}
	}()
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("training: output folder: %w", err)
		}
		lock, err := lockDir(cfg.OutDir)
		if err != nil {
			return nil, err
		}
		defer lock.unlock()
		// Holding the lock, any temporary file left here is from a writer
		// that died before its rename: the real files are intact without it.
		for _, name := range []string{CheckpointFile, ResultsFile} {
			stale, _ := filepath.Glob(filepath.Join(cfg.OutDir, "."+name+".tmp-*"))
			for _, f := range stale {
				os.Remove(f)
			}
		}
		ckptPath = filepath.Join(cfg.OutDir, CheckpointFile)
		resultsPath = filepath.Join(cfg.OutDir, ResultsFile)
		meta, values, err := readCheckpoint(ckptPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// No checkpoint: results of another run here must not be
			// overwritten by this one, unless that run recorded no epoch
			// (it stopped or diverged before its first finished): then
			// there is nothing to keep, and this run starts afresh.
			prev, err := readPrevResults(resultsPath)
			if err != nil {
				return nil, err
			}
			if prev != nil && len(prev.Fingerprint) > 0 {
				if d := fingerprintDiff(prev.Fingerprint, fp, "results.json"); d != "" {
					if len(prev.History) > 0 {
						return nil, fmt.Errorf("training: %s holds the results of a different run (%s) and no checkpoint; use another output folder or remove them", cfg.OutDir, d)
					}
					if cfg.Progress != nil {
						fmt.Fprintf(cfg.Progress, "%s held a run of another configuration that recorded no epoch (%s); starting afresh\n", cfg.OutDir, prev.Status)
					}
				}
			}
		case err != nil:
			return nil, fmt.Errorf("training: cannot resume from %s (move it away to start afresh): %w", ckptPath, err)
		default:
			if d := fingerprintDiff(meta.Fingerprint, fp, "checkpoint"); d != "" {
				return nil, fmt.Errorf("training: %s holds a checkpoint of a different run (%s); use another output folder or remove it", cfg.OutDir, d)
			}
			if err := restoreVariables(store, values); err != nil {
				return nil, err
			}
			startEpoch = meta.Epochs
			res.History = meta.History
			if startEpoch < sched.TotalEpochs() {
				res.ResumedAt = append(res.ResumedAt, startEpoch+1)
				if cfg.Progress != nil && startEpoch > 0 {
					fmt.Fprintf(cfg.Progress, "resuming from %s after epoch %d of %d\n", ckptPath, startEpoch, sched.TotalEpochs())
				}
			}
			prev, err := readPrevResults(resultsPath)
			if err != nil {
				return nil, err
			}
			if prev != nil {
				res.ResumedAt = append(prev.ResumedAt, res.ResumedAt...)
				res.TrainSeconds = prev.TrainSeconds
			}
		}
	}
	taken = resultsPath != ""
	saveResults := func() error {
		if resultsPath == "" {
			return nil
		}
		return WriteResults(resultsPath, res)
	}

	prog := newProgress(cfg.Progress, cfg.Terminal)
	shape := data.Train.ExampleShape()
	perm := make([]int, data.Train.Len())
	numBatches := (data.Train.Len() + cfg.BatchSize - 1) / cfg.BatchSize
	fullBatches := data.Train.Len() / cfg.BatchSize // the last may be smaller
	perCall := max(cfg.StepsPerCall, 1)
	if !engine.unrolls() {
		perCall = 1 // TrainSteps would run the group's steps one by one: no group to copy
	}
	var group struct { // the batches of a group of steps (StepsPerCall)
		x []float32
		y []int32
	}
	if rem := data.Train.Len() % cfg.BatchSize; rem == 1 {
		numBatches-- // batch norm cannot train on a batch of one
	}
	for epoch := startEpoch; epoch < sched.TotalEpochs(); epoch++ {
		if err := ctx.Err(); err != nil {
			ierr := interrupted(epoch, ckptPath, err)
			res.Status = StatusFailed
			res.Error = ierr.Error()
			saveResults()
			return res, ierr
		}
		start := time.Now()
		modes := sched.Modes(epoch)
		lr := cfg.LearningRate(epoch)
		rec := EpochRecord{Epoch: epoch + 1, Stage: sched.StageAt(epoch) + 1, BinaryLayers: oneBased(sched.BinaryLayers(epoch)),
			FrozenLayers: frozenLayers(modes), LearningRate: lr}
		// The shuffle of each epoch depends only on the seed and the epoch: exact resume.
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(epoch)))
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		engine.ResetAccumulators()
		prog.startEpoch(rec, sched.TotalEpochs(), numBatches)
		batches, stop := prefetch(data.Train, perm, cfg.BatchSize, numBatches, uint64(cfg.Seed), uint64(epoch))
		group.x, group.y = group.x[:0], group.y[:0]
		for bi := 0; bi < numBatches; bi++ {
			b := <-batches
			if b.err != nil {
				stop()
				return nil, fmt.Errorf("training: epoch %d, batch %d: %w; %s", epoch+1, bi+1, b.err, keptCheckpoint(ckptPath, epoch))
			}
			var err error
			switch first := bi - bi%perCall; {
			case perCall == 1 || first+perCall > fullBatches:
				err = engine.TrainStep(b.x, b.y, shape, modes, lr)
			default:
				// The prefetcher reuses its buffers: the group keeps copies.
				group.x, group.y = append(group.x, b.x...), append(group.y, b.y...)
				if bi-first < perCall-1 {
					continue
				}
				err = engine.TrainSteps(group.x, group.y, shape, perCall, modes, lr)
				group.x, group.y = group.x[:0], group.y[:0]
			}
			if err != nil {
				stop()
				return nil, fmt.Errorf("training: epoch %d, batch %d: %w; %s", epoch+1, bi+1, err, keptCheckpoint(ckptPath, epoch))
			}
			prog.step(bi + 1)
		}
		stop()
		rec.TrainLoss, rec.TrainAccuracy, _ = engine.Accumulated()
		if finite := !math.IsNaN(rec.TrainLoss) && !math.IsInf(rec.TrainLoss, 0); !finite || rec.TrainLoss > cfg.MaxLoss {
			derr := &DivergenceError{Epoch: rec.Epoch, Stage: rec.Stage, BinaryLayers: rec.BinaryLayers, Loss: rec.TrainLoss}
			if finite {
				derr.Limit = cfg.MaxLoss
			}
			if ckptPath != "" && epoch > 0 {
				derr.Checkpoint, derr.CheckpointEpoch = ckptPath, epoch
			}
			res.Status = StatusFailed
			res.Error = derr.Error()
			prog.finishEpoch(rec, derr)
			if err := saveResults(); err != nil {
				return res, errors.Join(derr, err)
			}
			return res, derr
		}
		if cfg.ResetLatentEachEpoch {
			if err := engine.ResetLatentToSign(modes); err != nil {
				return nil, fmt.Errorf("training: epoch %d: %w; %s", epoch+1, err, keptCheckpoint(ckptPath, epoch))
			}
		}
		rec.ValLoss, rec.ValAccuracy, err = engine.Evaluate(data.Val, modes, cfg.EvalBatchSize)
		if err != nil {
			return nil, fmt.Errorf("training: epoch %d, validation: %w; %s", epoch+1, err, keptCheckpoint(ckptPath, epoch))
		}
		rec.Seconds = time.Since(start).Seconds()
		res.TrainSeconds += rec.Seconds
		if cfg.TestEachEpoch && !cfg.SkipTest {
			rec.TestLoss, rec.TestAccuracy, err = engine.Evaluate(data.Test, modes, cfg.EvalBatchSize)
			if err != nil {
				return nil, fmt.Errorf("training: epoch %d, test: %w; %s", epoch+1, err, keptCheckpoint(ckptPath, epoch))
			}
		}
		res.History = append(res.History, rec)
		if ckptPath != "" {
			if err := writeCheckpoint(ckptPath, store, checkpointMeta{Fingerprint: fp, Epochs: epoch + 1, History: res.History}); err != nil {
				// The write is atomic: the checkpoint of the epochs before is intact.
				res.History = res.History[:len(res.History)-1]
				return nil, fmt.Errorf("training: epoch %d: %w; %s", epoch+1, err, keptCheckpoint(ckptPath, epoch))
			}
		}
		prog.finishEpoch(rec, nil)
		if err := saveResults(); err != nil {
			return nil, fmt.Errorf("training: epoch %d: %w; %s", epoch+1, err, keptCheckpoint(ckptPath, epoch+1))
		}
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(rec)
		}
	}
	for _, h := range res.History {
		if h.ValAccuracy > res.BestValAcc {
			res.BestValAcc, res.BestEpoch = h.ValAccuracy, h.Epoch
		}
	}
	res.BestTestAccuracy, res.BestTestEpoch, res.BestTestOf = BestTested(res.History, true)
	if acc, epoch, tested := BestTested(res.History, false); tested == len(res.History) {
		res.BestTestAnyAccuracy, res.BestTestAnyEpoch = acc, epoch
	}
	if !cfg.SkipTest {
		final := sched.Modes(sched.TotalEpochs() - 1)
		res.TestLoss, res.TestAccuracy, err = engine.Evaluate(data.Test, final, cfg.EvalBatchSize)
		if err != nil {
			return nil, fmt.Errorf("training: test: %w; %s", err, keptCheckpoint(ckptPath, sched.TotalEpochs()))
		}
	}
	res.Status = StatusCompleted
	prog.done(res)
	if err := saveResults(); err != nil {
		return res, fmt.Errorf("training: writing the results: %w; %s", err, keptCheckpoint(ckptPath, sched.TotalEpochs()))
	}
	return res, nil
}

// readPrevResults reads the results.json at path that this run will
// overwrite: nil when there is none. One that cannot be read, or that is
// not a binnet run's (CheckResults: another tool's file, the user's notes),
// is an error naming it, so that the run does not destroy it. binnet writes
// its own atomically, so a file of a run that crashed is never half-written.
func readPrevResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var prev *Results
	if err == nil {
		if jerr := json.Unmarshal(b, &prev); jerr != nil {
			err = fmt.Errorf("not a binnet results file: %w", jerr)
		} else {
			err = CheckResults(prev)
		}
	} else if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = fmt.Errorf("cannot read it: %w", pe.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("training: refusing to overwrite %s: %w; move it away or use another output folder", path, err)
	}
	return prev, nil
}

// BestTested returns the highest test accuracy among the tested epochs of
// history (EpochRecord.Tested; with lastStage, only those of the last
// stage), the first epoch (from 1) that reached it, and the number of
// tested epochs it looked at; 0, 0, 0 when none was tested.
func BestTested(history []EpochRecord, lastStage bool) (acc float64, epoch, tested int) {
	if len(history) == 0 {
		return 0, 0, 0
	}
	last := history[len(history)-1].Stage
	for _, h := range history {
		if lastStage && h.Stage != last || !h.Tested() {
			continue
		}
		tested++
		if epoch == 0 || h.TestAccuracy > acc {
			acc, epoch = h.TestAccuracy, h.Epoch
		}
	}
	return acc, epoch, tested
}

// completeCheckpoint reports whether the checkpoint at path reads back
// whole (its checksums verified) with at least epochs epochs, or does not
// exist (a completed run's results stand without it).
func completeCheckpoint(path string, epochs int) bool {
	meta, _, err := readCheckpoint(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && meta.Epochs >= epochs
}

// fingerprintDiff names the first field that differs between two
// fingerprints: a, the one recorded in holder ("checkpoint", "results.json"),
// and b, this run's.
func fingerprintDiff(a, b []byte, holder string) string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return "unreadable fingerprint"
	}
	keys := make([]string, 0, len(mb))
	for k := range mb {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same first difference every time
	for _, k := range keys {
		vb := mb[k]
		va, ok := ma[k]
		if !ok && (k == "test_examples" || k == "train_data" || k == "val_data" || k == "test_data") {
			continue // recorded before binnet fingerprinted the data
		}
		if !ok || compactJSON(va) != compactJSON(vb) { // results.json holds it indented
			k, va, vb = innerDiff(k, va, vb)
			return fmt.Sprintf("%s: %s has %s, this run has %s", k, holder, truncate(compactJSON(va)), truncate(compactJSON(vb)))
		}
	}
	return ""
}

// innerDiff narrows a difference between two JSON values at key down to
// the first differing field when both are objects (a schedule's
// "schedule.freeze" rather than the whole schedule, cut short), returning
// its dotted path and the two values there (nil where one has no such
// field).
func innerDiff(key string, a, b json.RawMessage) (string, json.RawMessage, json.RawMessage) {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || ma == nil || mb == nil {
		return key, a, b
	}
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if compactJSON(ma[k]) != compactJSON(mb[k]) {
			return innerDiff(key+"."+k, ma[k], mb[k])
		}
	}
	return key, a, b
}

// compactJSON is v without insignificant spaces (v itself if it is not JSON).
func compactJSON(v []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	if s == "" {
		return "nothing"
	}
	return s
}
