// Package export turns a binnet training run (checkpoint.bin and
// results.json) of an MLP, a conv network (cnn, vgg5, vgg9) or a residual
// network (resnet20, resnet21), as its preset builds it or adapted to
// another input size and number of classes (models.Adaptable), into a
// deployable .bnn model (see deploy/bnn): binarized layers as packed sign
// bits, batch norm, bias and quantizer scales folded into one scale and
// offset per output unit or channel, float layers as float32, max pooling,
// flatten, residual adds and global average pooling as they are.
//
// Unlike deploy/bnn and deploy/runtime, this package depends on GoMLX (it
// reads GoMLX tensors); deployments only need the other two.
package export

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
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
	Dir        string               // the run's output folder, as given to ReadRun
	Results    *training.Results    // its results.json
	Checkpoint *training.Checkpoint // its checkpoint.bin, verified
	Preset     models.Preset        // the preset Results.Model names, its Network the one the run trained (adapted if need be)
	Quantizer  quant.Quantizer      // the quantizer Results.Quantizer names; quant.STESign when it names none
	// Modes are the layer modes of the checkpoint's last epoch (float,
	// binary or frozen per binarizable layer).
	Modes []binnet.Mode
}

// ReadRun reads OUTDIR/results.json and OUTDIR/checkpoint.bin (verified).
// Its errors name the file or the folder at fault, with no prefix of their
// own: binnet export and binnet summary both read runs with it. A run that
// results.json records as failed (diverged or interrupted) or running with
// no epoch finished has no checkpoint.bin; the error says so.
func ReadRun(dir string) (*Run, error) {
	res, err := training.ReadResults(filepath.Join(dir, training.ResultsFile))
	if err != nil {
		return nil, err
	}
	preset, err := models.Lookup(res.Model)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	q := quant.STESign
	if res.Quantizer != "" {
		if q, err = quant.Parse(res.Quantizer); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
	}
	ckPath := filepath.Join(dir, training.CheckpointFile)
	ck, err := training.ReadCheckpoint(ckPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && len(res.History) == 0 {
			return nil, noCheckpointError(dir, res)
		}
		return nil, err
	}
	if preset.Network, err = runNetwork(res.Network, preset, ck.Values); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	modes, err := lastModes(res, ck, preset.Network.NumBinarizable())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &Run{Dir: dir, Results: res, Checkpoint: ck, Preset: preset, Quantizer: q, Modes: modes}, nil
}

// noCheckpointError explains why the run in dir, whose results.json res
// records no finished epoch, has no checkpoint.bin: it failed (diverged or
// was interrupted) or stopped before its first epoch ended, so no weights
// were saved.
func noCheckpointError(dir string, res *training.Results) error {
	why := ""
	if res.Error != "" {
		why = " (" + res.Error + ")"
	}
	switch res.Status {
	case training.StatusFailed:
		return fmt.Errorf("%s has no %s: its %s records the run as failed before its first epoch ended%s, so no trained weights were saved: there is nothing to export or summarize",
			dir, training.CheckpointFile, training.ResultsFile, why)
	case training.StatusRunning:
		return fmt.Errorf("%s has no %s: its %s records the run as running with no epoch finished (still in its first epoch, or stopped there), so no trained weights were saved yet: there is nothing to export or summarize",
			dir, training.CheckpointFile, training.ResultsFile)
	}
	return fmt.Errorf("%s has no %s, and its %s (status %q) records no finished epoch", dir, training.CheckpointFile, training.ResultsFile, res.Status)
}

// runNetwork returns the network a run trained, whose name results.json
// records: the preset's, or the preset's network adapted (as binnet train
// does for image folders, models.Adaptable) to the input shape that ends
// the name (e.g. "resnet21-64x64x3") and to the number of classes of the
// checkpoint's classifier.
func runNetwork(name string, preset models.Preset, values map[string]*tensors.Tensor) (models.Network, error) {
	net := preset.Network
	if name == "" || name == net.Name() {
		return net, nil
	}
	ad, ok := net.(models.Adaptable)
	if !ok {
		return nil, fmt.Errorf("results.json names the network %s; preset %s builds %s and cannot be adapted", name, preset.Name, net.Name())
	}
	var shape []int
	_, dims, _ := strings.Cut(strings.TrimPrefix(name, strings.SplitN(net.Name(), "-", 2)[0]), "-")
	for d := range strings.SplitSeq(dims, "x") {
		v, err := strconv.Atoi(d)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("results.json names the network %s: no input shape [height x width x channels] after the %s preset's name", name, preset.Name)
		}
		shape = append(shape, v)
	}
	adapted, err := ad.Adapt(shape, net.NumClasses())
	if err != nil {
		return nil, err
	}
	// The classifier is the last weighted step; its weights are [in, classes].
	steps, err := plan(adapted)
	if err != nil {
		return nil, err
	}
	classifier := steps[len(steps)-1].scope
	t, ok := values["/model/"+classifier+"/weights"]
	if !ok || t.Shape().Rank() != 2 {
		return nil, fmt.Errorf("network %s: the checkpoint has no classifier weights /model/%s/weights [inputs, classes]", name, classifier)
	}
	if adapted, err = ad.Adapt(shape, t.Shape().Dimensions[1]); err != nil {
		return nil, err
	}
	if adapted.Name() != name {
		return nil, fmt.Errorf("results.json names the network %s; adapting preset %s to %v gives %s", name, preset.Name, shape, adapted.Name())
	}
	return adapted, nil
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
	return FromValues(r.Preset.Network, r.Modes, r.Quantizer, r.Checkpoint.Values, mean, std, r.Origin().String())
}

// Origin is what the exported model records of the run (its name): preset,
// network, data set, the epochs trained of the schedule's, and the test
// accuracy if the run recorded one (a completed run that tested: its test
// loss is never exactly 0).
func (r *Run) Origin() bnn.Origin {
	o := bnn.Origin{Preset: r.Preset.Name, Network: r.Preset.Network.Name(), Dataset: r.Results.Dataset, Epochs: r.Checkpoint.EpochsDone}
	if r.Results.Schedule != nil {
		o.TotalEpochs = r.Results.Schedule.TotalEpochs()
	}
	if r.Results.Status == training.StatusCompleted && r.Results.TestLoss != 0 {
		o.Tested, o.TestAccuracy = true, r.Results.TestAccuracy
	}
	return o
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
	scope string // weighted layers: the scope of the weights and bias, e.g. "conv1" or "layer2_block0/conv1"
	name  string // the .bnn layer's name (at most 16 bytes): the scope, or e.g. "l2b0.conv1"; "" for the scope
	bn    string // the batch norm that follows, e.g. "bn1" ("" for none)
	bias  bool   // the layer has a bias variable
	relu  bool
	units int // dense units, conv channels
	// conv2d and maxpool2d; add: stride = the residual's subsampling
	k, stride int
	pad       uint8
	// from, residual: bnn.Layer.From and Residual; offset: the residual's
	// channel offset (add)
	from, residual, offset int
}

// resnetBlock appends the steps of one basic block of a ResNet (two 3x3
// convs with batch norm, the first with the block's stride, and a ReLU after
// the add) to steps and returns them. The block's input is the output of
// steps[len(steps)-1] (layer len(steps)). The shortcut is the input itself
// (b.Identity()), or an option-A shortcut (subsampled by stride, channels
// zero-padded half on each side, models.ResNetCIFAR), or with downsample a
// 1x1 strided conv and its batch norm reading the block's input
// (models.ResNet18).
//
// The layers are named after the block, e.g. "l2b0.conv1" for the scope
// "layer2_block0/conv1" (.bnn names have at most 16 bytes).
func resnetBlock(steps []step, b models.ResidualBlock, downsample bool) []step {
	scope := b.Scope() + "/"
	short := fmt.Sprintf("l%db%d.", b.Stage, b.Block)
	x := len(steps) // the layer whose output is the block's input
	steps = append(steps,
		step{kind: bnn.Conv2D, scope: scope + "conv1", name: short + "conv1", bn: scope + "bn1", relu: true, units: b.Planes, k: 3, stride: b.Stride, pad: bnn.PadSame},
		step{kind: bnn.Conv2D, scope: scope + "conv2", name: short + "conv2", bn: scope + "bn2", units: b.Planes, k: 3, stride: 1, pad: bnn.PadSame})
	switch {
	case b.Identity():
		return append(steps, step{kind: bnn.Add, name: short + "add", relu: true, stride: 1, residual: x})
	case !downsample:
		extra := b.Planes - b.In
		return append(steps, step{kind: bnn.Add, name: short + "add", relu: true, stride: b.Stride, residual: x, offset: extra / 2})
	}
	conv2 := len(steps)
	return append(steps,
		step{kind: bnn.Conv2D, scope: scope + "downsample", name: short + "downsample", bn: scope + "downsample_bn", units: b.Planes,
			k: 1, stride: b.Stride, pad: bnn.PadValid, from: x},
		step{kind: bnn.Add, name: short + "add", relu: true, stride: 1, from: conv2, residual: bnn.Previous})
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
			{kind: bnn.MaxPool2D, name: "maxpool", k: 2, stride: 2, pad: bnn.PadValid},
			{kind: bnn.Flatten, name: "flatten"},
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
			steps = append(steps, step{kind: bnn.MaxPool2D, name: "maxpool", k: 2, stride: 2, pad: bnn.PadValid})
		}
		steps = append(steps, step{kind: bnn.Flatten, name: "flatten"})
		for i, units := range append(append([]int(nil), n.Hidden...), n.Classes) {
			k++
			steps = append(steps, step{kind: bnn.Dense, scope: fmt.Sprintf("dense%d", k), bn: fmt.Sprintf("bn%d", k),
				bias: true, relu: i < len(n.Hidden), units: units})
		}
		return steps, nil
	case models.ResNetCIFAR:
		// models.ResNetCIFAR.Logits: conv3x3-16 stem (batch norm, ReLU),
		// three stages of basic blocks (16, 32, 64 channels; the first
		// block of stages 2 and 3 with stride 2 and an option-A shortcut),
		// global average pooling, a dense classifier with a bias and no
		// batch norm. Convolutions have no bias.
		steps := []step{{kind: bnn.Conv2D, scope: "conv1", bn: "bn1", relu: true, units: 16, k: 3, stride: 1, pad: bnn.PadSame}}
		for _, b := range n.ResidualBlocks() {
			steps = resnetBlock(steps, b, false)
		}
		return append(steps, step{kind: bnn.GlobalAvgPool, name: "avgpool"},
			step{kind: bnn.Dense, scope: "linear", bias: true, units: n.Classes}), nil
	case models.ResNet18:
		// models.ResNet18.Logits: conv7x7-64 stride 2 stem (batch norm,
		// ReLU), max pooling 3x3 stride 2 padding 1, four stages of two
		// basic blocks (64, 128, 256, 512 channels; stages 2-4 start with
		// stride 2 and a 1x1 stride-2 downsampling conv with batch norm on
		// the shortcut), global average pooling, a dense classifier with a
		// bias and no batch norm. Convolutions have no bias.
		steps := []step{
			{kind: bnn.Conv2D, scope: "conv1", bn: "bn1", relu: true, units: 64, k: 7, stride: 2, pad: bnn.PadSame},
			{kind: bnn.MaxPool2D, name: "maxpool", k: 3, stride: 2, pad: bnn.PadSame},
		}
		for _, b := range n.ResidualBlocks() {
			steps = resnetBlock(steps, b, true)
		}
		return append(steps, step{kind: bnn.GlobalAvgPool, name: "avgpool"},
			step{kind: bnn.Dense, scope: "fc", bias: true, units: n.Classes}), nil
	}
	return nil, fmt.Errorf("export: network %s (%T) cannot be exported: the .bnn format runs MLPs, cnn, vgg5, vgg9, resnet20 and resnet21", net.Name(), net)
}

// FromValues builds the deployable model of a network (an MLP,
// models.SmallCNN, models.VGG, models.ResNetCIFAR or models.ResNet18, as
// built or adapted to another input shape or number of classes) from its variables (by path, as training.Checkpoint.Values
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
// running_mean), computed in float64 and rounded to float32; a layer without
// batch norm (the ResNets' classifiers) stores scale = alpha and offset = b.
// A convolution's output o is its channel o at every position; its weights
// [kh, kw, in, out] become one row per output channel over (dy, dx, c).
// Residual blocks become their convs, then an add layer (ReLU) reading the
// block's input, subsampled and zero-padded in channels (option A), or the
// output of the 1x1 downsampling conv, which reads the block's input; global
// average pooling precedes the classifier.
func FromValues(net models.Network, modes []binnet.Mode, q quant.Quantizer, values map[string]*tensors.Tensor, mean, std []float32, name string) (*bnn.Model, error) {
	if err := models.Validate(net); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
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
			if math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
				return nil, fmt.Errorf("export: variable %s: element %d is %v: want finite values (the checkpoint is diverged or damaged)", path, i, out[i])
			}
		}
		return out, nil
	}
	m := &bnn.Model{Name: name, InputShape: net.InputShape(), InputMean: mean, InputStd: std}
	shapes := [][]int{m.InputShape} // the input and each layer's output
	binarizable := 0
	for i, st := range steps {
		l := bnn.Layer{Kind: st.kind, Name: st.name, From: st.from, Residual: st.residual}
		if l.Name == "" {
			l.Name = st.scope
		}
		shape := shapes[bnn.ActivationOf(i, st.from)]
		switch st.kind {
		case bnn.MaxPool2D:
			l.KernelH, l.KernelW, l.Stride, l.Padding = st.k, st.k, st.stride, st.pad
		case bnn.Add:
			l.Stride, l.ChannelOffset = st.stride, st.offset
			if st.relu {
				l.Activation = bnn.ReLU
			}
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
			// Without batch norm (the ResNets' classifiers): gamma 1, beta
			// 0, and r = 1 exactly (running statistics 0 and 1 - eps).
			gamma, beta, rmean, rvar := ones(out), make([]float64, out), make([]float64, out), ones(out)
			if st.bn != "" {
				var bnv [4][]float64
				for k, v := range []string{"gamma", "beta", "running_mean", "running_var"} {
					if bnv[k], err = get("/model/"+st.bn+"/"+v, out); err != nil {
						return nil, err
					}
				}
				gamma, beta, rmean, rvar = bnv[0], bnv[1], bnv[2], bnv[3]
				for o, v := range rvar {
					if !(v+BatchNormEpsilon > 0) {
						return nil, fmt.Errorf("export: variable /model/%s/running_var: element %d is %v: a variance cannot be negative (running_var + epsilon %v must be > 0; the checkpoint is damaged)",
							st.bn, o, v, BatchNormEpsilon)
					}
				}
			}
			// Row o holds the weights of output o (the format's layout); the
			// variable is [in, out] (dense) or [kh, kw, cin, out] (conv),
			// whose first axes flatten to the fan-in in the format's order.
			wt := make([]float32, in*out)
			for r := 0; r < in; r++ {
				for o := 0; o < out; o++ {
					wt[o*in+r] = float32(w[r*out+o])
				}
			}
			l.Inputs, l.Outputs = in, out
			l.Scale, l.Offset = make([]float32, out), make([]float32, out)
			if st.relu {
				l.Activation = bnn.ReLU
			}
			alpha := ones(out)
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
				r := 1.0
				if st.bn != "" {
					r = gamma[o] / math.Sqrt(rvar[o]+BatchNormEpsilon)
				}
				l.Scale[o] = float32(r * alpha[o])
				l.Offset[o] = float32(beta[o] + r*(bias[o]-rmean[o]))
				if s, f := float64(l.Scale[o]), float64(l.Offset[o]); math.IsInf(s, 0) || math.IsInf(f, 0) {
					return nil, fmt.Errorf("export: layer %s of %s: output %d folds to scale %v and offset %v, beyond float32 (gamma %v, beta %v, running_mean %v, running_var %v, bias %v)",
						l.Name, net.Name(), o, s, f, float32(gamma[o]), float32(beta[o]), float32(rmean[o]), float32(rvar[o]), float32(bias[o]))
				}
			}
		}
		next, err := l.OutputShape(shape)
		if err == nil && st.kind == bnn.Add {
			err = l.ResidualFits(shape, shapes[bnn.ActivationOf(i, st.residual)])
		}
		if err != nil {
			return nil, fmt.Errorf("export: layer %s of %s: %w", l.Name, net.Name(), err)
		}
		shapes = append(shapes, next)
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

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
