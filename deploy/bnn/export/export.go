// Package export turns a binnet training run (checkpoint.bin and
// results.json) of an MLP or a sequential conv network (cnn, vgg5, vgg9)
// into a deployable .bnn model (see deploy/bnn): binarized layers as packed
// sign bits, batch norm, bias and quantizer scales folded into one scale and
// offset per output unit or channel, float layers as float32, max pooling
// and flatten as they are. Residual networks (resnet20, resnet21) are not
// supported yet.
//
// Unlike deploy/bnn and deploy/runtime, this package depends on GoMLX (it
// reads GoMLX tensors); deployments only need the other two.
package export

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/datasets/imagefolder"
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
	mean, std, err := Normalization(r.Results.Dataset, r.Preset.Network.InputShape())
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s (%s) dataset %s, %d epochs, test accuracy %.4f", r.Preset.Name, r.Preset.Network.Name(),
		r.Results.Dataset, r.Checkpoint.EpochsDone, r.Results.TestAccuracy)
	return FromValues(r.Preset.Network, r.Modes, r.Quantizer, r.Checkpoint.Values, mean, std, name)
}

// Normalization returns the input normalization that binnet's training
// applies to a data set, as a .bnn model stores it: one mean and std for the
// grey MNIST-like sets (also when they are padded to 32x32x3 for the CIFAR-10
// networks, the value replicated to the three channels), per channel for
// CIFAR-10 and image folders.
func Normalization(dataset string, inputShape []int) (mean, std []float32, err error) {
	base, _, _ := strings.Cut(dataset, "/")
	switch base {
	case "mnist", "sample", "fashion-mnist":
		m, s := datasets.Normalization(base)
		return []float32{m}, []float32{s}, nil
	case "cifar10", "imagenet":
		m, s := cifar10.Normalization()
		if base == "imagenet" {
			m, s = imagefolder.ImageNetMean, imagefolder.ImageNetStd
		}
		if len(inputShape) == 0 || inputShape[len(inputShape)-1] != 3 {
			return nil, nil, fmt.Errorf("export: data set %s normalizes 3 channels, the network's input is %v", dataset, inputShape)
		}
		return m[:], s[:], nil
	}
	return nil, nil, fmt.Errorf("export: data set %q: unknown input normalization", dataset)
}

// step is one layer of a network's deployed sequence.
type step struct {
	kind  bnn.Kind
	scope string // weighted layers: the scope of the weights and bias, e.g. "conv1"
	bn    string // the batch norm that follows, e.g. "bn1" ("" for none)
	bias  bool   // the layer has a bias variable
	relu  bool
	units int // dense units, conv channels
	// conv2d and maxpool2d
	k, stride int
	pad       uint8
}

// plan returns the layers of net in build order (the order of its
// binarizable layers) as .bnn layers will run them.
func plan(net models.Network) ([]step, error) {
	switch n := net.(type) {
	case models.MLP:
		var steps []step
		for i, units := range append(append([]int(nil), n.Hidden...), n.Classes) {
			steps = append(steps, step{kind: bnn.Dense, scope: fmt.Sprintf("dense%d", i+1), bn: fmt.Sprintf("bn%d", i+1),
				bias: true, relu: i < len(n.Hidden), units: units})
		}
		return steps, nil
	case models.SmallCNN:
		// models.SmallCNN.Logits: conv3x3-32, conv3x3-64 (batch norm, ReLU),
		// max pooling 2x2, flatten, dense with batch norm.
		return []step{
			{kind: bnn.Conv2D, scope: "conv1", bn: "bn1", bias: true, relu: true, units: 32, k: 3, stride: 1, pad: bnn.PadSame},
			{kind: bnn.Conv2D, scope: "conv2", bn: "bn2", bias: true, relu: true, units: 64, k: 3, stride: 1, pad: bnn.PadSame},
			{kind: bnn.MaxPool2D, k: 2, stride: 2, pad: bnn.PadValid},
			{kind: bnn.Flatten},
			{kind: bnn.Dense, scope: "dense3", bn: "bn3", bias: true, units: n.Classes},
		}, nil
	case models.VGG:
		// models.VGG.Logits: blocks of two conv3x3 (batch norm, ReLU) and a
		// 2x2 max pooling, flatten, dense layers with batch norm (ReLU but
		// on the classifier).
		var steps []step
		k := 0
		for _, ch := range n.Blocks {
			for range 2 {
				k++
				steps = append(steps, step{kind: bnn.Conv2D, scope: fmt.Sprintf("conv%d", k), bn: fmt.Sprintf("bn%d", k),
					bias: true, relu: true, units: ch, k: 3, stride: 1, pad: bnn.PadSame})
			}
			steps = append(steps, step{kind: bnn.MaxPool2D, k: 2, stride: 2, pad: bnn.PadValid})
		}
		steps = append(steps, step{kind: bnn.Flatten})
		for i, units := range append(append([]int(nil), n.Hidden...), n.Classes) {
			k++
			steps = append(steps, step{kind: bnn.Dense, scope: fmt.Sprintf("dense%d", k), bn: fmt.Sprintf("bn%d", k),
				bias: true, relu: i < len(n.Hidden), units: units})
		}
		return steps, nil
	case models.ResNetCIFAR, models.ResNet18:
		return nil, fmt.Errorf("export: %s is a residual network: its shortcut additions (and global average pooling) are not "+
			"supported by the .bnn format and deploy/runtime yet, which run sequential networks only (MLPs, cnn, vgg5, vgg9)", net.Name())
	}
	return nil, fmt.Errorf("export: network %s (%T) cannot be exported: the .bnn format runs MLPs, cnn, vgg5 and vgg9", net.Name(), net)
}

// FromValues builds the deployable model of a network (an MLP, models.SmallCNN
// or models.VGG) from its variables (by path, as training.Checkpoint.Values
// holds them), the mode of each binarizable layer, the quantizer binary
// layers used, and the input normalization (one mean and std, or one per
// input channel).
//
// A dense or conv layer followed by batch norm computes, in evaluation and
// per output unit or channel o,
//
//	z = sum_i x_i·W'_io + b_o                      W' = W (float) or alpha·sign(W) (binary)
//	y = (z - running_mean) / sqrt(running_var + eps) * gamma + beta
//
// with alpha = 1 except for scaled quantizers (per-output mean |W|). With
// s = sum_i x_i·sign(W_io) (the add-only sum) and r = gamma/sqrt(running_var + eps),
// this is
//
//	y = (r*alpha) * s + (beta + r*(b - running_mean))
//
// so the .bnn layer stores scale = r*alpha and offset = beta + r*(b -
// running_mean), computed in float64 and rounded to float32. A convolution's
// output o is its channel o at every position; its weights [kh, kw, in, out]
// become one row per output channel over (dy, dx, c).
func FromValues(net models.Network, modes []binnet.Mode, q quant.Quantizer, values map[string]*tensors.Tensor, mean, std []float32, name string) (*bnn.Model, error) {
	steps, err := plan(net)
	if err != nil {
		return nil, err
	}
	if len(modes) != net.NumBinarizable() {
		return nil, fmt.Errorf("export: %d layer modes for %d binarizable layers", len(modes), net.NumBinarizable())
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
	m := &bnn.Model{Name: name, InputShape: net.InputShape(), InputMean: mean, InputStd: std}
	shape := m.InputShape
	binarizable := 0
	for _, st := range steps {
		l := bnn.Layer{Kind: st.kind}
		if st.kind == bnn.MaxPool2D {
			l.Name, l.KernelH, l.KernelW, l.Stride, l.Padding = "maxpool", st.k, st.k, st.stride, st.pad
		}
		if st.kind == bnn.Flatten {
			l.Name = "flatten"
		}
		if st.kind.HasWeights() {
			if binarizable >= len(modes) {
				return nil, fmt.Errorf("export: %s has more weighted layers than its %d binarizable ones", net.Name(), len(modes))
			}
			mode := modes[binarizable]
			binarizable++
			var wdims []int
			var in int
			out := st.units
			if st.kind == bnn.Conv2D {
				if len(shape) != 3 {
					return nil, fmt.Errorf("export: %s: convolution over an input of shape %v", st.scope, shape)
				}
				in = st.k * st.k * shape[2]
				wdims = []int{st.k, st.k, shape[2], out}
				l.KernelH, l.KernelW, l.Stride, l.Padding = st.k, st.k, st.stride, st.pad
			} else {
				in = 1
				for _, d := range shape {
					in *= d
				}
				wdims = []int{in, out}
			}
			w, err := get("/model/"+st.scope+"/weights", wdims...)
			if err != nil {
				return nil, err
			}
			bias := make([]float64, out)
			if st.bias {
				if bias, err = get("/model/"+st.scope+"/bias", out); err != nil {
					return nil, err
				}
			}
			var bnv [4][]float64
			for k, v := range []string{"gamma", "beta", "running_mean", "running_var"} {
				if bnv[k], err = get("/model/"+st.bn+"/"+v, out); err != nil {
					return nil, err
				}
			}
			gamma, beta, rmean, rvar := bnv[0], bnv[1], bnv[2], bnv[3]
			// Row o holds the weights of output o (the format's layout); the
			// variable is [in, out] (dense) or [kh, kw, cin, out] (conv),
			// whose first axes flatten to the fan-in in the format's order.
			wt := make([]float32, in*out)
			for r := 0; r < in; r++ {
				for o := 0; o < out; o++ {
					wt[o*in+r] = float32(w[r*out+o])
				}
			}
			l.Name, l.Inputs, l.Outputs = st.scope, in, out
			l.Scale, l.Offset = make([]float32, out), make([]float32, out)
			if st.relu {
				l.Activation = bnn.ReLU
			}
			alpha := make([]float64, out)
			for o := range alpha {
				alpha[o] = 1
			}
			if mode.IsBinary() {
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
		}
		next, err := l.OutputShape(shape)
		if err != nil {
			return nil, fmt.Errorf("export: layer %s of %s: %w", l.Name, net.Name(), err)
		}
		shape = next
		m.Layers = append(m.Layers, l)
	}
	if binarizable != len(modes) {
		return nil, fmt.Errorf("export: %s: %d weighted layers exported, the network has %d binarizable ones", net.Name(), binarizable, len(modes))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}
