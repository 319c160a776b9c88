package training

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/binnet/binnet/binnet/internal/atomicfile"
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
	Epoch         int     `json:"epoch"`
	Stage         int     `json:"stage"`
	BinaryLayers  []int   `json:"binary_layers"`
	FrozenLayers  []int   `json:"frozen_layers,omitempty"`
	LearningRate  float64 `json:"learning_rate"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss"`
	ValAccuracy   float64 `json:"val_accuracy"`
	Seconds       float64 `json:"seconds"`
}

// Results is what a run writes to results.json.
type Results struct {
	Status        string             `json:"status"`
	Error         string             `json:"error,omitempty"`
	Model         string             `json:"model"`
	Network       string             `json:"network"`
	Dataset       string             `json:"dataset"`
	Order         string             `json:"order"`
	Schedule      *schedule.Schedule `json:"schedule"`
	Seed          int64              `json:"seed"`
	Quantizer     string             `json:"quantizer"`
	Optimizer     Optimizer          `json:"optimizer"`
	BatchSize     int                `json:"batch_size"`
	ClipLatent    bool               `json:"clip_latent,omitempty"`
	ResetLatent   bool               `json:"reset_latent_each_epoch,omitempty"`
	TrainExamples int                `json:"train_examples"`
	ValExamples   int                `json:"val_examples"`
	TestExamples  int                `json:"test_examples"`
	Backend       string             `json:"backend"`
	History       []EpochRecord      `json:"history"`
	BestEpoch     int                `json:"best_epoch,omitempty"`
	BestValAcc    float64            `json:"best_val_accuracy,omitempty"`
	TestLoss      float64            `json:"test_loss"`
	TestAccuracy  float64            `json:"test_accuracy"`
	TrainSeconds  float64            `json:"train_seconds"`
	ResumedAt     []int              `json:"resumed_at_epoch,omitempty"`
}

// WriteResults writes r to path atomically, as indented JSON.
func WriteResults(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
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
