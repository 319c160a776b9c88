// Package export turns a binnet training run (checkpoint.bin and
// results.json) into a deployable .bnn model (see deploy/bnn): binarized
// layers as packed sign bits, batch norm, bias and quantizer scales folded
// into one scale and offset per output, float layers as float32.
//
// Unlike deploy/bnn and deploy/runtime, this package depends on GoMLX (it
// reads GoMLX tensors); deployments only need the other two.
package export

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/deploy/bnn"
	"github.com/gomlx/gomlx/core/tensors"
)

// BatchNormEpsilon is the epsilon of binnet's batch norm (layers.BatchNorm's default).
const BatchNormEpsilon = 1e-5

// Run is a finished (or interrupted) training run read back from its folder.
type Run struct {
	Dir        string
	Results    *training.Results
	Checkpoint *training.Checkpoint
	Preset     models.Preset
	Quantizer  quant.Quantizer
	// Modes are the layer modes of the checkpoint's last epoch (float,
	// binary or frozen per binarizable layer).
	Modes []binnet.Mode
}

// ReadRun reads OUTDIR/results.json and OUTDIR/checkpoint.bin (verified).
func ReadRun(dir string) (*Run, error) {
	res, err := training.ReadResults(filepath.Join(dir, training.ResultsFile))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	preset, err := models.Lookup(res.Model)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", dir, err)
	}
	q := quant.STESign
	if res.Quantizer != "" {
		if q, err = quant.Parse(res.Quantizer); err != nil {
			return nil, fmt.Errorf("export: %s: %w", dir, err)
		}
	}
	ck, err := training.ReadCheckpoint(filepath.Join(dir, training.CheckpointFile))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	modes, err := lastModes(res, ck, preset.Network.NumBinarizable())
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", dir, err)
	}
	return &Run{Dir: dir, Results: res, Checkpoint: ck, Preset: preset, Quantizer: q, Modes: modes}, nil
}

// lastModes returns the modes of the checkpoint's last epoch, from its
// history, or else the final stage of the schedule.
func lastModes(res *training.Results, ck *training.Checkpoint, n int) ([]binnet.Mode, error) {
	modes := make([]binnet.Mode, n)
	if len(ck.History) > 0 {
		rec := ck.History[len(ck.History)-1]
		for _, l := range rec.BinaryLayers {
			if l < 1 || l > n {
				return nil, fmt.Errorf("checkpoint history names binary layer %d of %d", l, n)
			}
			modes[l-1] = binnet.Binary
		}
		for _, l := range rec.FrozenLayers {
			if l < 1 || l > n {
				return nil, fmt.Errorf("checkpoint history names frozen layer %d of %d", l, n)
			}
			modes[l-1] = binnet.Frozen
		}
		return modes, nil
	}
	if res.Schedule == nil {
		return nil, errors.New("results.json has no schedule and the checkpoint no history")
	}
	return res.Schedule.Modes(res.Schedule.TotalEpochs() - 1), nil
}

// Model builds the deployable model of the run.
func (r *Run) Model() (*bnn.Model, error) {
	mean, std := datasets.Normalization(r.Results.Dataset)
	name := fmt.Sprintf("%s (%s) dataset %s, %d epochs, test accuracy %.4f", r.Preset.Name, r.Preset.Network.Name(),
		r.Results.Dataset, r.Checkpoint.EpochsDone, r.Results.TestAccuracy)
	return FromValues(r.Preset.Network, r.Modes, r.Quantizer, r.Checkpoint.Values, mean, std, name)
}

// FromValues builds the deployable model of an MLP from its variables (by
// path, as training.Checkpoint.Values holds them), the mode of each
// binarizable layer, the quantizer binary layers used, and the input
// normalization.
//
// Layer i (1-based) of binnet's MLP computes, in evaluation,
//
//	z = x·W' + b                                    W' = W (float) or alpha*sign(W) (binary)
//	y = (z - running_mean) / sqrt(running_var + eps) * gamma + beta
//
// with alpha = 1 except for scaled quantizers (per-output mean |W|). With
// s = x·sign(W) (the add-only sum) and r = 1/sqrt(running_var + eps), this is
//
//	y = (gamma*r*alpha) * s + (beta + gamma*r*(b - running_mean))
//
// so the .bnn layer stores scale = gamma*r*alpha and offset = beta +
// gamma*r*(b - running_mean), computed in float64 and rounded to float32.
func FromValues(net models.Network, modes []binnet.Mode, q quant.Quantizer, values map[string]*tensors.Tensor, mean, std float32, name string) (*bnn.Model, error) {
	mlp, ok := net.(models.MLP)
	if !ok {
		return nil, fmt.Errorf("export: network %s is not an MLP: only MLPs can be exported so far", net.Name())
	}
	if len(modes) != mlp.NumBinarizable() {
		return nil, fmt.Errorf("export: %d layer modes for %d binarizable layers", len(modes), mlp.NumBinarizable())
	}
	if q == nil {
		q = quant.STESign
	}
	get := func(path string, dims ...int) ([]float64, error) {
		t, ok := values[path]
		if !ok {
			return nil, fmt.Errorf("export: variable %s is missing", path)
		}
		if fmt.Sprint(t.Shape().Dimensions) != fmt.Sprint(dims) {
			return nil, fmt.Errorf("export: variable %s has shape %v, want %v", path, t.Shape().Dimensions, dims)
		}
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, fmt.Errorf("export: variable %s: %w", path, err)
		}
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = float64(f)
		}
		return out, nil
	}
	widths := append(append([]int{mlp.Inputs}, mlp.Hidden...), mlp.Classes)
	m := &bnn.Model{Name: name, InputShape: []int{mlp.Inputs}, InputMean: mean, InputStd: std}
	for i := 0; i+1 < len(widths); i++ {
		in, out := widths[i], widths[i+1]
		dense, bn := fmt.Sprintf("/model/dense%d/", i+1), fmt.Sprintf("/model/bn%d/", i+1)
		w, err := get(dense+"weights", in, out)
		if err != nil {
			return nil, err
		}
		var vals [5][]float64
		for k, name := range []string{dense + "bias", bn + "gamma", bn + "beta", bn + "running_mean", bn + "running_var"} {
			if vals[k], err = get(name, out); err != nil {
				return nil, err
			}
		}
		bias, gamma, beta, rmean, rvar := vals[0], vals[1], vals[2], vals[3], vals[4]
		// Row o of wt holds the weights of output o (the format's layout).
		wt := make([]float32, in*out)
		for r := 0; r < in; r++ {
			for o := 0; o < out; o++ {
				wt[o*in+r] = float32(w[r*out+o])
			}
		}
		l := bnn.Layer{Name: fmt.Sprintf("dense%d", i+1), Kind: bnn.Dense, Inputs: in, Outputs: out,
			Scale: make([]float32, out), Offset: make([]float32, out)}
		if i+2 < len(widths) {
			l.Activation = bnn.ReLU
		}
		alpha := make([]float64, out)
		for o := range alpha {
			alpha[o] = 1
		}
		if modes[i].IsBinary() {
			l.Encoding, l.Bits = bnn.SignBits, bnn.PackSigns(wt, in, out)
			if q.Scaled() {
				for o := range alpha {
					var s float64
					for _, v := range wt[o*in : (o+1)*in] {
						s += math.Abs(float64(v))
					}
					alpha[o] = s / float64(in)
				}
			}
		} else {
			l.Encoding, l.Weights = bnn.Float32, wt
		}
		for o := 0; o < out; o++ {
			r := gamma[o] / math.Sqrt(rvar[o]+BatchNormEpsilon)
			l.Scale[o] = float32(r * alpha[o])
			l.Offset[o] = float32(beta[o] + r*(bias[o]-rmean[o]))
		}
		m.Layers = append(m.Layers, l)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}
