package sensitivity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
)

// ResultFile is the name of the sensitivity result in a run's output folder.
const ResultFile = "sensitivity.json"

// Config describes a sensitivity pre-training.
type Config struct {
	// Base is the training configuration shared by every layer's run; its
	// Schedule and OutDir are set per layer.
	Base training.Config
	// Epochs is the number of epochs of each layer's run.
	Epochs int
	// Layers restricts the runs to these 0-based layers (nil: all), so that
	// several processes can share the work of one output folder.
	Layers []int
	// OutDir holds one folder per layer (layer-01, layer-02, ...) and, once
	// every layer is done, sensitivity.json. Required.
	OutDir string
	// OnLayer, if set, is called after each layer's run.
	OnLayer func(LayerResult, bool)
}

// LayerDir returns the folder of layer (0-based) inside outDir.
func LayerDir(outDir string, layer int) string {
	return filepath.Join(outDir, fmt.Sprintf("layer-%02d", layer+1))
}

// OnlyLayer returns the schedule of a sensitivity run: layer binary from the
// first epoch, all others float.
func OnlyLayer(numLayers, layer, epochs int) (*schedule.Schedule, error) {
	return schedule.New(schedule.Config{NumLayers: numLayers, Kind: schedule.KindFixed, Binary: []int{layer}, TotalEpochs: epochs})
}

// Run trains, for each layer k, the network with only k binary for
// cfg.Epochs epochs and records its final validation accuracy and loss.
// Layers whose run already completed in cfg.OutDir are skipped; interrupted
// ones resume from their checkpoint. When every layer of the network has a
// completed run, Run ranks them and writes OutDir/sensitivity.json; with only
// some layers done (another process may run the others) it returns the
// partial result and ErrIncomplete.
func Run(ctx context.Context, cfg Config, data training.Data) (*Result, error) {
	net := cfg.Base.Network
	if net == nil {
		return nil, errors.New("sensitivity: no network")
	}
	if err := models.Validate(net); err != nil {
		return nil, fmt.Errorf("sensitivity: %w", err)
	}
	if cfg.Epochs < 1 {
		return nil, fmt.Errorf("sensitivity: epochs must be at least 1, got %d", cfg.Epochs)
	}
	if cfg.OutDir == "" {
		return nil, errors.New("sensitivity: an output folder is required")
	}
	// What Collect and Finalize will require, checked before hours of
	// training rather than after them.
	if strings.TrimSpace(cfg.Base.Model) == "" {
		return nil, errors.New("sensitivity: Base.Model is empty: want the name of the model the layers belong to (it is recorded in " + ResultFile + ")")
	}
	n := net.NumBinarizable()
	if err := checkNumLayers(n); err != nil {
		return nil, fmt.Errorf("sensitivity: network %s: %w", net.Name(), err)
	}
	todo := cfg.Layers
	if todo == nil {
		for i := 0; i < n; i++ {
			todo = append(todo, i)
		}
	}
	for _, l := range todo {
		if l < 0 || l >= n {
			return nil, fmt.Errorf("sensitivity: layer %d out of range 1..%d", l+1, n)
		}
	}
	for _, l := range todo {
		sched, err := OnlyLayer(n, l, cfg.Epochs)
		if err != nil {
			return nil, err
		}
		run := cfg.Base
		run.Schedule = sched
		run.Order = fmt.Sprintf("only-%d", l+1)
		run.OutDir = LayerDir(cfg.OutDir, l)
		run.SkipTest = true
		res, skipped, err := runLayer(ctx, run, data)
		if err != nil {
			return nil, fmt.Errorf("sensitivity: layer %d: %w", l+1, err)
		}
		if cfg.OnLayer != nil {
			cfg.OnLayer(layerResult(l, res), skipped)
		}
	}
	return Collect(cfg.OutDir, n, cfg.Base.Model, cfg.Base.Dataset, cfg.Epochs, cfg.Base.Seed)
}

// runLayer runs (or skips, when already completed) one layer's training.
func runLayer(ctx context.Context, run training.Config, data training.Data) (*training.Results, bool, error) {
	prev, err := training.CompletedRun(run, data)
	if err != nil {
		return nil, false, err
	}
	if prev != nil {
		return prev, true, nil
	}
	res, err := training.Run(ctx, run, data)
	return res, false, err
}

// ErrIncomplete is returned by Collect while some layers have no completed run.
var ErrIncomplete = errors.New("sensitivity: not every layer has a completed run yet")

func layerResult(layer int, res *training.Results) LayerResult {
	last := res.History[len(res.History)-1]
	loss := last.ValLoss
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		loss = math.MaxFloat64
	}
	acc := make([]float64, len(res.History))
	for i, h := range res.History {
		acc[i] = h.ValAccuracy
	}
	return LayerResult{Layer: layer + 1, ValAccuracy: last.ValAccuracy, ValLoss: loss, Epochs: len(res.History), Seconds: res.TrainSeconds,
		ValAccuracySD: TailSD(acc)}
}

// Collect reads the completed layer runs in outDir. With all numLayers layers
// done it ranks them, writes outDir/sensitivity.json and returns the result;
// otherwise it returns the layers done so far and ErrIncomplete.
//
// numLayers must be 1..schedule.MaxLayers, modelName not empty and epochs
// at least 1. Each completed run must be the sensitivity run of its folder:
// its schedule binarizes only the folder's layer of numLayers, for epochs
// epochs, and its model, data set and seed are modelName, dataset and seed
// (and its network that of the other layers). A run that is not, such as
// the run of another layer or of another study copied into the folder, is
// an error naming the folder and the field; nothing is written then.
func Collect(outDir string, numLayers int, modelName, dataset string, epochs int, seed int64) (*Result, error) {
	if err := checkNumLayers(numLayers); err != nil {
		return nil, fmt.Errorf("sensitivity: %w", err)
	}
	if strings.TrimSpace(modelName) == "" {
		return nil, errors.New("sensitivity: model is empty: want the name of the model the layers belong to")
	}
	if epochs < 1 {
		return nil, fmt.Errorf("sensitivity: epochs must be >= 1, got %d", epochs)
	}
	r := &Result{Model: modelName, Dataset: dataset, Epochs: epochs, Seed: seed, NumLayers: numLayers}
	missing := 0
	network, networkDir := "", ""
	for l := 0; l < numLayers; l++ {
		dir := LayerDir(outDir, l)
		res, err := training.ReadResults(filepath.Join(dir, training.ResultsFile))
		if err != nil || res.Status != training.StatusCompleted || len(res.History) == 0 {
			missing++
			continue
		}
		if err := checkLayerRun(res, l, numLayers, modelName, dataset, epochs, seed); err != nil {
			return nil, fmt.Errorf("sensitivity: %s: %w", dir, err)
		}
		if networkDir == "" {
			network, networkDir = res.Network, dir
		} else if res.Network != network {
			return nil, fmt.Errorf("sensitivity: %s: the run trained network %q, the run in %s network %q",
				dir, res.Network, networkDir, network)
		}
		if len(r.Layers) > 0 && res.ResetLatent != r.ResetLatent {
			return nil, fmt.Errorf("sensitivity: %s: layer %d was trained %s -official-eval-reset, the layers before it %s",
				outDir, l+1, withOrWithout(res.ResetLatent), withOrWithout(r.ResetLatent))
		}
		r.ResetLatent = res.ResetLatent
		r.Layers = append(r.Layers, layerResult(l, res))
	}
	if missing > 0 {
		return r, fmt.Errorf("%w: %d of %d layers missing in %s", ErrIncomplete, missing, numLayers, outDir)
	}
	if err := r.Finalize(); err != nil {
		return nil, err
	}
	if err := WriteResultFile(filepath.Join(outDir, ResultFile), r); err != nil {
		return nil, err
	}
	return r, nil
}

// checkLayerRun checks that a completed run is the sensitivity run of the
// 0-based layer of a study of numLayers layers with these arguments.
func checkLayerRun(res *training.Results, layer, numLayers int, modelName, dataset string, epochs int, seed int64) error {
	s := res.Schedule
	if s == nil {
		return fmt.Errorf("the run records no schedule: want the run with only layer %d binary", layer+1)
	}
	if s.NumLayers() != numLayers {
		return fmt.Errorf("the run's schedule has %d layers, want %d", s.NumLayers(), numLayers)
	}
	if binary := s.Config().Binary; s.Kind() != schedule.KindFixed || !slices.Equal(binary, []int{layer}) {
		what := fmt.Sprintf("a schedule of kind %v", s.Kind())
		if s.Kind() == schedule.KindFixed {
			what = "only layers " + schedule.FormatPermutation(binary) + " binary"
			if len(binary) == 1 {
				what = "only layer " + schedule.FormatPermutation(binary) + " binary"
			}
		}
		return fmt.Errorf("the run is not layer %d's: it trained %s (order %q), want only layer %d binary", layer+1, what, res.Order, layer+1)
	}
	if res.Model != modelName {
		return fmt.Errorf("the run trained model %q, want %q", res.Model, modelName)
	}
	if res.Dataset != dataset {
		return fmt.Errorf("the run trained on data set %q, want %q", res.Dataset, dataset)
	}
	if s.TotalEpochs() != epochs {
		return fmt.Errorf("the run trained %d epochs, want %d", s.TotalEpochs(), epochs)
	}
	if res.Seed != seed {
		return fmt.Errorf("the run has seed %d, want %d", res.Seed, seed)
	}
	return nil
}

// checkNumLayers checks a number of layers: 1..schedule.MaxLayers.
func checkNumLayers(n int) error {
	if n < 1 {
		return fmt.Errorf("number of layers must be >= 1, got %d", n)
	}
	if n > schedule.MaxLayers {
		return fmt.Errorf("number of layers %d is more than the %d layers a schedule supports", n, schedule.MaxLayers)
	}
	return nil
}

func withOrWithout(b bool) string {
	if b {
		return "with"
	}
	return "without"
}
