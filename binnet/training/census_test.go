package training

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// census counts the operations of a compiled training step that the backend
// executes (those the loss and the updated variables depend on), by kind,
// with the elements each kind writes per step.
type census struct {
	count    map[string]int
	elements map[string]int
	// identityTransposes lists the transposes whose permutation is the
	// identity: the pure-Go backend executes each as a full copy.
	identityTransposes []string
	// copies lists the reshapes and identities whose input other
	// operations also read: the pure-Go backend copies those (it moves the
	// buffer of an input no one else reads), largest first.
	copies []copied
	// fromParameters lists the identities and reshapes whose input is a
	// graph parameter (a variable's value or an input): copies unless the
	// parameter is a variable the step updates (GoMLX donates its buffer).
	fromParameters []copied
}

// copied is a reshape or identity the backend executes as a copy.
type copied struct {
	elements int
	what     string
}

// stepCensus builds the training step of e for modes and batch and returns
// its census.
func stepCensus(t *testing.T, e *Engine, modes []binnet.Mode, batch int) census {
	t.Helper()
	c := census{count: map[string]int{}, elements: map[string]int{}}
	exec, err := model.NewExec(e.Backend, e.Store, func(scope *model.Scope, x, labels, lr *Node) []*Node {
		outputs := e.buildTrain(scope, x, labels, lr, modes, nil, nil, e.newPlan())
		g := x.Graph()
		roots := append([]*Node(nil), outputs...)
		for v := range e.Store.IterVariables() {
			if v.InUseByGraph(g) {
				roots = append(roots, v.NodeValue(g))
			}
		}
		seen := map[*Node]bool{}
		readers := map[*Node][]*Node{}
		var visit func(n *Node)
		visit = func(n *Node) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, in := range n.Inputs() {
				readers[in] = append(readers[in], n)
			}
			kind := n.Type().String()
			c.count[kind]++
			for i := 0; i < n.NumOutputs(); i++ {
				c.elements[kind] += n.Shape().Size()
			}
			if n.Type() == NodeTypeTranspose && strings.Contains(n.String(), fmt.Sprintf("permutation=%v", identity(n.Rank()))) {
				c.identityTransposes = append(c.identityTransposes, n.String())
			}
			for _, in := range n.Inputs() {
				visit(in)
			}

		}
		for _, r := range roots {
			visit(r)
		}
		for n := range seen {
			if t := n.Type(); (t == NodeTypeReshape || t == NodeTypeIdentity) && n.Inputs()[0].Type() == NodeTypeParameter {
				c.fromParameters = append(c.fromParameters, copied{n.Shape().Size(), n.Inputs()[0].String()})
			}
			if t := n.Type(); (t == NodeTypeReshape || t == NodeTypeIdentity) && len(readers[n.Inputs()[0]]) > 1 {
				in := n.Inputs()[0]
				var by []string
				for _, r := range readers[in] {
					by = append(by, r.Type().String())
				}
				sort.Strings(by)
				c.copies = append(c.copies, copied{n.Shape().Size(), fmt.Sprintf("%s to %v of %s %v (also read by %s)",
					n.Type(), n.Shape().Dimensions, in.Type(), in.Shape().Dimensions, strings.Join(by, ", "))})
			}
		}
		sort.Slice(c.copies, func(i, j int) bool { return c.copies[i].elements > c.copies[j].elements })
		return outputs
	})
	if err != nil {
		t.Fatal(err)
	}
	shape := e.Network.InputShape()
	size := batch
	for _, d := range shape {
		size *= d
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, size), append([]int{batch}, shape...)...)
	y := tensors.FromFlatDataAndDimensions(make([]int32, batch), batch)
	if _, err := exec.Exec(x, y, float32(0.01)); err != nil {
		t.Fatal(err)
	}
	return c
}

// binaryStepCensus is the census of preset's training step at batch with
// every binarizable layer binary (Adam).
func binaryStepCensus(t *testing.T, preset string, batch int) census {
	t.Helper()
	p, _ := models.Lookup(preset)
	e := newTestEngine(t, p.Network, Optimizer{Name: "adam", LearningRate: 0.01})
	modes := slices.Repeat([]binnet.Mode{binnet.Binary}, p.Network.NumBinarizable())
	return stepCensus(t, e, modes, batch)
}

func identity(rank int) []int {
	p := make([]int, rank)
	for i := range p {
		p[i] = i
	}
	return p
}

func (c census) String() string {
	kinds := make([]string, 0, len(c.count))
	for k := range c.count {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return c.elements[kinds[i]] > c.elements[kinds[j]] })
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "%-28s %4d ops %12d elements\n", k, c.count[k], c.elements[k])
	}
	return b.String()
}

// TestStepHasNoIdentityTransposes checks that the training steps of a binary
// MLP and of the convolutional presets contain no transpose with the
// identity permutation. GoMLX's gradient of a matrix product wraps the
// input's gradient dY·wᵀ in one, which the pure-Go backend executes as a
// full copy (for vgg5's second convolution, the 236 MB column matrix per
// step); binnet's products write that gradient themselves.
func TestStepHasNoIdentityTransposes(t *testing.T) {
	for _, c := range []struct {
		preset string
		batch  int
	}{{"mlp-784-784", 100}, {"cnn", 4}, {"vgg5", 4}, {"resnet20", 4}} {
		t.Run(c.preset, func(t *testing.T) {
			got := binaryStepCensus(t, c.preset, c.batch)
			if testing.Verbose() {
				t.Logf("%s binary step at batch %d:\n%s", c.preset, c.batch, got)
			}
			if got.count["DotGeneral"] == 0 {
				t.Fatalf("census found no matrix product; it does not walk the step:\n%s", got)
			}
			for _, s := range got.identityTransposes {
				t.Errorf("identity transpose (a full copy on the Go backend): %s", s)
			}
		})
	}
}

// TestConvStepCopies lists the reshapes and identities that the pure-Go
// backend executes as copies in the training steps of cnn, vgg5 and
// resnet20, and fails on any as large as a convolution's output (batch x
// height x width x channels): the gradient arriving at a convolution with
// a bias, the activations read both by a pooling's reshape and by ReLU's
// gradient, and a convolution's input reshaped to rows for the im2col
// gather were such copies (26 MB each per vgg5 step at batch 100) until
// ops.Conv2DBias, the ReLU after the pooling and the gather's 4-D
// concatenation removed them. Copies of the latent weights are left out.
func TestConvStepCopies(t *testing.T) {
	for _, c := range []struct {
		preset string
		batch  int
	}{{"cnn", 4}, {"vgg5", 4}, {"resnet20", 4}} {
		t.Run(c.preset, func(t *testing.T) {
			got := binaryStepCensus(t, c.preset, c.batch)
			// At most the smallest convolution output: 32 channels (cnn's
			// first convolution has 32, vgg5's 64) on the input image less
			// a border of one pixel.
			p, _ := models.Lookup(c.preset)
			shape := p.Network.InputShape()
			limit := c.batch * (shape[0] - 2) * (shape[1] - 2) * 32
			for _, cp := range got.copies {
				if testing.Verbose() {
					t.Logf("%s: copy of %d elements: %s", c.preset, cp.elements, cp.what)
				}
				// The latent weights' identities are copies too (the
				// optimizer reads the weights after the gradient), known and
				// measured to cost no step time; they do not grow with the batch.
				if cp.elements >= limit && !strings.Contains(cp.what, "of Parameter") {
					t.Errorf("%s: a copy of %d elements (a convolution's output has %d or more): %s", c.preset, cp.elements, limit, cp.what)
				}
			}
		})
	}
}

// TestBinaryMLPStepTakesNoSign: with the fused update, the training step of
// a binary MLP multiplies by the binary weights the host wrote
// (SignScope): it computes no sign (three passes over every weight before)
// and copies neither weights (the binary weights pass through the step,
// donated, and the latent ones are not read; before, the product's gradient
// identity copied each latent weight matrix) nor the input batch (the first
// product reads it without a gradient identity). What it still copies are
// the ReLU outputs, which ReLU's gradient reads too.
func TestBinaryMLPStepTakesNoSign(t *testing.T) {
	got := binaryStepCensus(t, "mlp-300-100", 100)
	if testing.Verbose() {
		t.Logf("mlp-300-100 binary step at batch 100:\n%s", got)
	}
	if got.count["DotGeneral"] == 0 {
		t.Fatalf("census found no matrix product; it does not walk the step:\n%s", got)
	}
	if got.count["Sign"] != 0 {
		t.Errorf("%d sign operations in the step", got.count["Sign"])
	}
	binary := 0
	for _, p := range got.fromParameters {
		if testing.Verbose() {
			t.Logf("identity or reshape of %d elements of %s", p.elements, p.what)
		}
		switch {
		case strings.Contains(p.what, SignScope):
			binary += p.elements
		case p.elements >= 100*100 && strings.Contains(p.what, `"/model/`):
			t.Errorf("an identity or reshape of %d elements of a model variable (a copy): %s", p.elements, p.what)
		case p.elements == 100*784:
			t.Errorf("an identity or reshape of the input batch (a copy): %s", p.what)
		}
	}
	if want := 784*300 + 300*100 + 100*10; binary != want {
		t.Errorf("the binary weights' identities hold %d elements, want %d (all three layers')", binary, want)
	}
}
