package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/ops"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/training"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// layersOf builds net's training graph once and returns its binarizable layers.
func layersOf(t *testing.T, net models.Network, batch int) ([]layers.Info, *training.Engine, [][]float32, [][]int32) {
	t.Helper()
	infos, e, xs, ys, _ := layersWith(t, net, batch, training.Optimizer{Name: "adam", LearningRate: 0.01})
	return infos, e, xs, ys
}

// layersWith is layersOf with the given optimizer, also returning the store.
func layersWith(t *testing.T, net models.Network, batch int, opt training.Optimizer) ([]layers.Info, *training.Engine, [][]float32, [][]int32, *model.Store) {
	t.Helper()
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	e, err := training.NewEngine(b, store, net, quant.STESign, opt)
	if err != nil {
		t.Fatal(err)
	}
	size := 1
	for _, d := range net.InputShape() {
		size *= d
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var xs [][]float32
	var ys [][]int32
	for range 2 {
		x, y := make([]float32, batch*size), make([]int32, batch)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range y {
			y[i] = int32(rng.IntN(net.NumClasses()))
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	modes := make([]binnet.Mode, net.NumBinarizable())
	if err := e.TrainStep(xs[0], ys[0], net.InputShape(), modes, 0.01); err != nil {
		t.Fatal(err)
	}
	return e.Layers(), e, xs, ys, store
}

// TestConvPresetsStructure checks the number, kind, order and size of the
// binarizable layers against hand counts from the paper's PyTorch models.
func TestConvPresetsStructure(t *testing.T) {
	cases := []struct {
		preset   string
		adapt    []int // input shape for a smaller, faster graph; nil keeps the preset's
		classes  int
		params   int    // binarizable weights, by hand from the PyTorch definitions
		kinds    string // kind of each layer: c conv, d dense
		kernelAt map[int][]int
	}{
		{preset: "cnn", params: 9*32 + 9*32*64 + 14*14*64*10, kinds: "ccd"},
		{preset: "vgg5", params: 1728 + 36864 + 16384*256 + 256*256 + 2560, kinds: "ccddd"},
		{preset: "vgg9", params: 1728 + 36864 + 73728 + 147456 + 294912 + 589824 + 4096*256 + 65536 + 2560, kinds: "ccccccddd"},
		{preset: "resnet20", params: 432 + 13824 + 50688 + 202752 + 640, kinds: "ccccccccccccccccccc" + "d",
			kernelAt: map[int][]int{1: {3, 3, 3, 16}, 8: {3, 3, 16, 32}, 20: {64, 10}}},
		// ResNet-18 at 1000 classes: torchvision's 11,689,512 parameters less
		// batch norm (9,600) and the classifier's bias (1,000).
		{preset: "resnet21", adapt: []int{32, 32, 3}, classes: 1000, params: 11678912,
			kinds:    "c" + "cccc" + "ccccc" + "ccccc" + "ccccc" + "d",
			kernelAt: map[int][]int{1: {7, 7, 3, 64}, 6: {3, 3, 64, 128}, 7: {3, 3, 128, 128}, 8: {1, 1, 64, 128}, 21: {512, 1000}}},
	}
	for _, c := range cases {
		t.Run(c.preset, func(t *testing.T) {
			p, err := models.Lookup(c.preset)
			if err != nil {
				t.Fatal(err)
			}
			net := p.Network
			if c.adapt != nil {
				if net, err = net.(models.Adaptable).Adapt(c.adapt, c.classes); err != nil {
					t.Fatal(err)
				}
			}
			infos, _, _, _ := layersOf(t, net, 2)
			if len(infos) != net.NumBinarizable() || len(infos) != len(c.kinds) {
				t.Fatalf("%d binarizable layers built, NumBinarizable says %d, want %d", len(infos), net.NumBinarizable(), len(c.kinds))
			}
			total := 0
			for i, in := range infos {
				want := layers.KindConv2D
				if c.kinds[i] == 'd' {
					want = layers.KindDense
				}
				if in.Kind != want {
					t.Errorf("layer %d is %s, want %s", i+1, in.Kind, want)
				}
				if k, ok := c.kernelAt[i+1]; ok && fmt.Sprint(in.KernelShape) != fmt.Sprint(k) {
					t.Errorf("layer %d (%s) has weights %v, want %v", i+1, in.Scope, in.KernelShape, k)
				}
				total += in.Params()
			}
			if total != c.params {
				t.Errorf("binarizable weights: %d, want %d", total, c.params)
			}
		})
	}
}

// smallConvNet returns the preset's network, ResNet-21 adapted to 32x32
// images and 10 classes (a step at 224x224 takes seconds).
func smallConvNet(t *testing.T, name string) models.Network {
	t.Helper()
	p, err := models.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if name != "resnet21" {
		return p.Network
	}
	net, err := p.Network.(models.Adaptable).Adapt([]int{32, 32, 3}, 10)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestConvNetworksLearn trains each convolutional network, all layers
// binary, on two fixed random batches and checks that the training loss on
// them falls: gradients reach every layer through convolutions, pooling and
// the residual paths.
func TestConvNetworksLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five networks")
	}
	for _, name := range []string{"cnn", "vgg5", "resnet20", "resnet21"} {
		t.Run(name, func(t *testing.T) {
			net := smallConvNet(t, name)
			_, e, xs, ys := layersOf(t, net, 8)
			modes := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
			loss := func() float64 {
				e.ResetAccumulators()
				for i := range xs {
					if err := e.TrainStep(xs[i], ys[i], net.InputShape(), modes, 0); err != nil {
						t.Fatal(err)
					}
				}
				l, _, _ := e.Accumulated()
				return l
			}
			before := loss()
			for range 15 {
				for i := range xs {
					if err := e.TrainStep(xs[i], ys[i], net.InputShape(), modes, 0.01); err != nil {
						t.Fatal(err)
					}
				}
			}
			after := loss()
			if !(after < 0.7*before) {
				t.Errorf("training loss %.4f -> %.4f after 30 steps: want a drop of 30%%", before, after)
			}
		})
	}
}

// TestPoolThenReLU checks what VGG.Logits and SmallCNN.Logits rely on when
// they apply a block's last ReLU after its max pooling: ReLU(MaxPool(x))
// equals MaxPool(ReLU(x)) bit for bit, and so do their gradients, also on
// ties and on windows whose maximum is zero or negative.
func TestPoolThenReLU(t *testing.T) {
	be, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	levels := []float32{-1, -0.5, 0, 0.25, 0.5, 1}
	x := make([]float32, 4*8*8*3)
	for i := range x {
		x[i] = levels[rng.IntN(len(levels))]
	}
	r := make([]float32, 4*4*4*3)
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	xt := tensors.FromFlatDataAndDimensions(x, 4, 8, 8, 3)
	rt := tensors.FromFlatDataAndDimensions(r, 4, 4, 4, 3)
	run := func(f func(x *Node) *Node) ([]float32, []float32) {
		out := MustNewExec(be, func(x, r *Node) []*Node {
			y := f(x)
			return []*Node{y, Gradient(ReduceAllSum(Mul(y, r)), x)[0]}
		}).MustExec(xt, rt)
		return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	}
	wantY, wantG := run(func(x *Node) *Node { return ops.MaxPool2D(activation.Relu(x), 2, 2, 0) })
	gotY, gotG := run(func(x *Node) *Node { return activation.Relu(ops.MaxPool2D(x, 2, 2, 0)) })
	zeros := 0
	for i := range wantY {
		if gotY[i] != wantY[i] {
			t.Fatalf("output[%d] = %v, pooling after ReLU gives %v", i, gotY[i], wantY[i])
		}
		if wantY[i] == 0 {
			zeros++
		}
	}
	for i := range wantG {
		if gotG[i] != wantG[i] {
			t.Fatalf("gradient[%d] = %v, pooling after ReLU gives %v", i, gotG[i], wantG[i])
		}
	}
	if zeros == 0 {
		t.Fatal("no window with a non-positive maximum: the test data miss the case")
	}
}

// TestConvPartsMatchWhole trains the cnn, VGG-5, ResNet-20 and ResNet-21 (on
// 32x32 images) with their batch held as three uneven parts (BINNET_PARTS=3:
// 6, 5 and 5 of 16 images) and as one tensor, from the same initialization
// on the same batches, and compares every variable after one SGD step: the
// weights, batch norm's running statistics and the momentum buffers, which
// hold the first gradients. For the cnn and VGG-5 with im2col convolutions
// (BINNET_CONV=im2col) they agree value by value
// to float32 rounding (1e-4 of a variable's largest value), and so do the
// training losses of six more float steps, the evaluation loss after them
// (running statistics included) and a step with the first and last layers
// binary. For the ResNets, and for the cnn and VGG-5 with their default
// Winograd convolutions (whose rounding, ~1e-5 of a layer's output, differs
// with the parts' sizes and is magnified in the first layer's gradient,
// which batch norm makes a sum of terms that nearly cancel), they agree in
// relative L2 norm to 5 % (0.9 % seen;
// see maxRel). SGD, because the gradient of a convolution's bias before
// batch norm is zero up to rounding (~1e-9), which Adam, dividing by its
// square root, turns into steps of the full learning rate in directions
// that the rounding decides. Binary steps are not compared further: a
// rounding difference may flip the sign of a latent weight near zero. Batch
// norm with per-part statistics, or a wrong gradient between parts, moves
// these figures by orders of magnitude more (a halved offset term in batch
// norm's input gradient: relative L2 differences of 4.5 to 6.7).
func TestConvPartsMatchWhole(t *testing.T) {
	for _, name := range []string{"cnn", "vgg5", "resnet20", "resnet21", "cnn/im2col", "vgg5/im2col"} {
		t.Run(name, func(t *testing.T) {
			name, conv, _ := strings.Cut(name, "/")
			t.Setenv("BINNET_CONV", conv)
			net := smallConvNet(t, name)
			loose := conv == ""
			// The cnn and VGG-5 with im2col must agree value by value. The
			// ResNets' 19
			// ReLUs after batch norm see values within rounding of zero: a
			// rounding difference can move one to the other side of the
			// kink, which changes one channel's gradient there (seen: one
			// of 64 batch norm offsets, 7.6e-4 against 6.9e-4) and, through
			// the shortcuts, every gradient before it by a little; they
			// must agree in relative L2 norm, per variable, to maxRel, as
			// must the Winograd convolutions'.
			const maxRel = 0.05
			run := func(parts string) (state map[string][]float32, steps []float64, eval float64) {
				t.Setenv("BINNET_PARTS", parts)
				_, e, xs, ys, store := layersWith(t, net, 16, training.Optimizer{Name: "sgd", LearningRate: 0.05, Momentum: 0.9})
				state = map[string][]float32{}
				for v := range store.IterVariables() {
					if val := v.MustValue(); val.DType().IsFloat() {
						state[v.Scope()+"/"+v.Name()] = tensors.MustCopyFlatData[float32](val)
					}
				}
				if loose {
					return state, nil, 0
				}
				modes := make([]binnet.Mode, net.NumBinarizable())
				step := func(modes []binnet.Mode, i int) {
					e.ResetAccumulators()
					if err := e.TrainStep(xs[i%2], ys[i%2], net.InputShape(), modes, 0.01); err != nil {
						t.Fatal(err)
					}
					l, _, _ := e.Accumulated()
					steps = append(steps, l)
				}
				for i := range 6 {
					step(modes, i)
				}
				labels := make([]uint8, len(ys[0]))
				for i, y := range ys[0] {
					labels[i] = uint8(y)
				}
				src, err := training.NewExamples("batch", xs[0], labels, net.InputShape()...)
				if err != nil {
					t.Fatal(err)
				}
				if eval, _, err = e.Evaluate(src, modes, 16); err != nil {
					t.Fatal(err)
				}
				modes[0], modes[len(modes)-1] = binnet.Binary, binnet.Binary
				step(modes, 6)
				return state, steps, eval
			}
			wholeState, whole, wholeEval := run("1")
			partsState, parts, partsEval := run("3")
			momenta := 0
			for k, w := range wholeState {
				g, ok := partsState[k]
				if !ok || len(g) != len(w) {
					t.Fatalf("variable %s: %d values whole, %d in parts", k, len(w), len(g))
				}
				largest := 0.0
				for _, v := range w {
					largest = math.Max(largest, math.Abs(float64(v)))
				}
				// 1e-5 absolute: the gradients of biases before batch
				// norm, zero up to rounding, are ~1e-6.
				off, first := 0, -1
				var d2, w2 float64
				for i := range w {
					d := float64(w[i] - g[i])
					d2, w2 = d2+d*d, w2+float64(w[i])*float64(w[i])
					if math.Abs(d) > 1e-4*largest+1e-5 && first < 0 {
						first = i
					}
					if math.Abs(d) > 1e-4*largest+1e-5 {
						off++
					}
				}
				rel := math.Sqrt(d2 / (w2 + 1e-30))
				if testing.Verbose() && loose {
					t.Logf("%s: relative L2 difference %.2e, %d of %d values off", k, rel, off, len(w))
				}
				switch {
				case !loose && off > 0:
					t.Errorf("%s: %d of %d values differ, the first [%d] = %v in parts, %v whole (largest %v)", k, off, len(w), first, g[first], w[first], largest)
				case loose && rel > maxRel && largest > 1e-5:
					t.Errorf("%s: relative L2 difference %.2e in parts (%d of %d values off)", k, rel, off, len(w))
				}
				if strings.HasSuffix(k, "_momentum") && largest > 0 {
					momenta++
				}
			}
			if momenta == 0 {
				t.Errorf("no momentum buffer among the %d variables: the first gradients are not compared", len(wholeState))
			}
			for i := range whole {
				if math.Abs(whole[i]-parts[i]) > 1e-4*math.Abs(whole[i]) {
					t.Errorf("step %d: loss %.7f in parts, %.7f whole", i+1, parts[i], whole[i])
				}
			}
			if math.Abs(wholeEval-partsEval) > 1e-4*math.Abs(wholeEval) {
				t.Errorf("evaluation loss %.7f in parts, %.7f whole", partsEval, wholeEval)
			}
			if !loose && whole[0] == whole[5] {
				t.Errorf("the loss did not move in six steps (%v): the test compares nothing", whole)
			}
		})
	}
}
