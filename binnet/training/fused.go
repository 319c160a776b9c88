package training

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// The fused update: on GoMLX's pure-Go backend, whose buffers are host
// memory, an Adam training graph stops at the gradients and Adam updates
// every trainable variable on the host, in place, in one pass over its
// elements (latent weight, gradient and the two moments read once, written
// once) spread over the CPU cores. The graph form of the same update
// (Optimizer.apply) is 13 separate element-wise operations, each a full pass
// over the weights and each single-threaded in the Go backend. SGD keeps its
// few passes in the graph, where the executor runs them alongside the rest
// of the backward pass (the host update runs after it: ResNet-21 at 224x224,
// batch 8, measured ~5 % slower with SGD on the host).
//
// Both forms compute the same float32 operations in the same order, each
// rounded on its own (no fused multiply-add), so they give the same bits
// (TestFusedUpdateMatchesGraph).

// hostVar is a trainable variable updated on the host, with the variable the
// graph writes its gradient to and Adam's two moments.
type hostVar struct {
	v, grad *model.Variable
	m, s    *model.Variable // Adam's first and second moments
	sign    *model.Variable // the binary weights sign(v) the graph reads, written with the update, or nil
	layer   int             // binarizable layer index, -1 for other variables
	clip    bool
}

// hostPlan is what one compiled training graph leaves to the host: its
// outputs after the loss are Adam's two scalars (adamScalars), and it writes
// the gradient of each variable of vars to a variable under GradientScope.
// Its binary dense layers read sign(w) from the variables of signs, which
// the host keeps equal to the signs of their latent weights.
type hostPlan struct {
	vars  []hostVar
	signs []signCopy
	built bool // buildTrain has filled the plan
}

// signCopy is the variable under SignScope that a training graph reads the
// binary weights sign(latent) of a dense layer from (layers.Control.WithHostSign).
type signCopy struct {
	latent, sign *model.Variable
}

// SignScope holds the binary weights sign(w) of the binary dense layers for
// the fused update (layers.Control.WithHostSign): the update writes them in
// the same pass as the latent weights w, and the next step multiplies by
// them. On mlp-300-100 at batch 100 that replaces the graph's three passes
// of the sign over the weights and its copy of them (the product's gradient
// identity copies a variable's value, which the execution holds; the
// binary weights pass through the step instead, donated, and are moved).
// Scratch space like GradientScope, left out of checkpoints; the engine
// recomputes them from the latent weights whenever those have a value the
// update did not write (a first step, a restored checkpoint,
// ResetLatentToSign, a stage where the layer was float): it compares the
// tensor the latent variable holds, so a change made in place through that
// tensor's memory goes unseen (set a new value instead).
const SignScope = "/fused_signs"

// isScratch reports whether a variable scope holds the fused update's
// scratch space (gradients, binary weights), which checkpoints leave out.
func isScratch(scope string) bool {
	return strings.HasPrefix(scope, GradientScope) || strings.HasPrefix(scope, SignScope)
}

// GradientScope holds the variables the training graph writes the
// gradients to for the fused update: scratch space, left out of checkpoints.
// Variables, rather than outputs, so that each step's gradient buffers
// return to the backend's pool when the next step replaces them (an output
// the caller finalizes is garbage for Go's collector instead, a fresh
// allocation each step).
const GradientScope = "/fused_gradients"

// fusedUpdate reports whether the engine's training graphs leave the
// optimizer update to the host: the optimizer is Adam, the backend is
// GoMLX's pure-Go one (its buffers are host memory, shared with the
// tensors, and its executions complete before they return), the step runs
// on one device, and InGraphUpdate is not set. XLA keeps the update in the
// graph, on the device.
func (e *Engine) fusedUpdate() bool {
	return !e.InGraphUpdate && e.Optimizer.Name == "adam" && e.mesh == nil && OnHost(e.Backend)
}

// OnHost reports whether b is GoMLX's pure-Go backend, whose tensors live in
// host memory (on any other backend, such as XLA on a GPU, a batch kept for
// several steps belongs on the device: see [Engine.DeviceBatch]).
func OnHost(b compute.Backend) bool { return b.String() == "go" && b.HasSharedBuffers() }

// hostOutputs builds the graph's side of the fused Adam update: it advances
// the step counter and returns the scalars the host needs, lr/(1-beta1^t)
// and sqrt(1-beta2^t), and the plan of variables, and sets each variable's
// gradient variable to its gradient.
func (o Optimizer) hostOutputs(store *model.Store, g *Graph, lr *Node, updates []update, layerOf func(*model.Variable) int) ([]*Node, *hostPlan) {
	plan := &hostPlan{}
	stepSize, sqrtCorr2 := o.adamScalars(countStep(store, g), lr, dtypes.Float32)
	scalars := []*Node{stepSize, sqrtCorr2}
	for _, u := range updates {
		hv := hostVar{v: u.v, sign: u.sign, layer: layerOf(u.v), clip: u.clip}
		hv.grad = store.Scope(model.JoinPath(GradientScope, u.v.Scope())).WithInitializer(initializer.Zero).
			VariableWithShape(u.v.Name(), u.v.Shape()).SetTrainable(false)
		hv.grad.SetNodeValue(u.grad)
		hv.m, hv.s = o.adamMoments(store, u.v)
		plan.vars = append(plan.vars, hv)
	}
	return scalars, plan
}

// hostFloats returns the float32 elements of a tensor for the host update.
// Mutable access invalidates a device copy and makes later executions share
// the host memory (GoMLX's shared buffers); the slice stays the tensor's own
// storage while no graph runs, which is when the host update runs.
func hostFloats(t *tensors.Tensor, mutable bool) ([]float32, error) {
	if t.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("training: fused update of a %s tensor (want float32)", t.DType())
	}
	var flat []float32
	access := func(f []float32) { flat = f }
	var err error
	if mutable {
		err = tensors.MutableFlatData(t, access)
	} else {
		err = tensors.ConstFlatData(t, access)
	}
	return flat, err
}

// variableFloats is hostFloats of a variable's value, zeros first if the
// variable has none yet. With a backend b, a value that is not shared with
// it yet (the variable's initial value, a restored checkpoint, the output
// of an in-graph update) is first replaced by a shared copy: one copy, where
// mutable access would copy it to local memory and the next execution copy
// it again into a shared buffer. b is nil for the optimizer's state, which
// no graph reads.
func variableFloats(v *model.Variable, b compute.Backend) ([]float32, error) {
	if !v.HasValue() {
		if err := v.SetValue(tensors.FromShape(v.Shape())); err != nil {
			return nil, err
		}
	}
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	if b != nil && !t.IsShared() && t.DType() == dtypes.Float32 {
		shared, err := tensors.FromShapeForBackend(b, 0, t.Shape())
		if err != nil {
			return nil, err
		}
		var copyErr error
		if err := tensors.ConstFlatData(t, func(src []float32) {
			copyErr = tensors.MutableFlatData(shared, func(dst []float32) { copy(dst, src) })
		}); err != nil {
			return nil, err
		}
		if copyErr != nil {
			return nil, copyErr
		}
		if err := v.SetValue(shared); err != nil {
			return nil, err
		}
		t.FinalizeAll()
		t = shared
	}
	flat, err := hostFloats(t, true)
	if err != nil {
		return nil, fmt.Errorf("%w (variable %s)", err, v.Path())
	}
	return flat, nil
}

// bufferFloats returns the float32 storage of v's value for writing in
// place, with no copy: a shared tensor's own memory, or, on a backend with
// shared buffers (the pure-Go backend's memory is the host's), the buffer of
// an execution's output (compute.Buffer.Data), which the next execution
// reads as it is. Other values go through variableFloats, which makes them
// shared with one copy.
func bufferFloats(v *model.Variable, b compute.Backend) ([]float32, error) {
	if v.HasValue() {
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		if !t.IsShared() && !t.IsLocal() && t.IsOnDevice(0) && b.HasSharedBuffers() && t.DType() == dtypes.Float32 {
			buf, err := t.Buffer(b, 0)
			if err != nil {
				return nil, err
			}
			data, err := buf.Data()
			if err != nil {
				return nil, err
			}
			if flat, ok := data.([]float32); ok && len(flat) == t.Size() {
				return flat, nil
			}
		}
	}
	return variableFloats(v, b)
}

// syncSigns makes every sign variable of signs hold the signs of its latent
// weights, recomputing those whose latent value is not the one the fused
// update last wrote them from (signed maps a latent variable to that value).
func syncSigns(b compute.Backend, signs []signCopy, signed map[*model.Variable]*tensors.Tensor) error {
	for _, c := range signs {
		t, err := c.latent.Value()
		if err != nil {
			return fmt.Errorf("training: binary weights of %s: %w", c.latent.Path(), err)
		}
		if signed[c.latent] == t {
			continue
		}
		dst, err := bufferFloats(c.sign, b)
		if err != nil {
			return err
		}
		var size int
		if err := tensors.ConstFlatData(t, func(w []float32) {
			size = len(w)
			if len(w) == len(dst) {
				signInto(dst, w)
			}
		}); err != nil {
			return fmt.Errorf("training: binary weights of %s: %w", c.latent.Path(), err)
		}
		if size != len(dst) {
			return fmt.Errorf("training: binary weights of %s: %d latent weights for %d binary ones", c.latent.Path(), size, len(dst))
		}
		signed[c.latent] = t
	}
	return nil
}

// signScalar writes sign(w[i]) to b[i]: -1 where w < 0, else +1 (sign(0) =
// +1, and +1 for NaN, as quant.HardSign gives on the pure-Go backend).
func signScalar(b, w []float32) {
	for i, x := range w {
		b[i] = sign1(x)
	}
}

// sign1 is -1 for x < 0, else +1.
func sign1(x float32) float32 {
	if x < 0 {
		return -1
	}
	return 1
}

// fusedChunk is the number of elements of one host-update task: large
// weights split into several, spread over the cores.
const fusedChunk = 1 << 15

// applyHost runs the optimizer update of every variable of plan with the
// graph's scalar outputs and gradient variables, in place, on backend's
// shared buffers, and writes the binary weights of those with a sign
// variable, recording in signed the latent value they were written from
// (and forgetting the others: their signs, if any, are stale). Variables of
// the layers that held reports (frozen layers of the gated graph) keep their
// values and state; held may be nil.
func (o Optimizer) applyHost(backend compute.Backend, plan *hostPlan, scalars []*tensors.Tensor, held func(layer int) bool, signed map[*model.Variable]*tensors.Tensor) error {
	var sc [2]float32 // lr/(1-beta1^t), sqrt(1-beta2^t)
	if len(scalars) != len(sc) {
		return fmt.Errorf("training: fused update got %d scalars, want %d", len(scalars), len(sc))
	}
	for i, t := range scalars {
		s, err := hostFloats(t, false)
		if err != nil {
			return err
		}
		sc[i] = s[0]
	}
	type task struct {
		w, g, m, v []float32
		b          []float32 // sign(w) after the update, or nil
		clip       bool
	}
	var tasks []task
	var updated []hostVar
	for _, hv := range plan.vars {
		if held != nil && hv.layer >= 0 && held(hv.layer) {
			continue
		}
		w, err := variableFloats(hv.v, backend)
		if err != nil {
			return err
		}
		gt, err := hv.grad.Value()
		if err != nil {
			return err
		}
		g, err := hostFloats(gt, false)
		if err != nil {
			return err
		}
		if len(g) != len(w) {
			return fmt.Errorf("training: fused update of %s: gradient of %d elements for %d weights", hv.v.Path(), len(g), len(w))
		}
		m, err := variableFloats(hv.m, nil)
		if err != nil {
			return err
		}
		v, err := variableFloats(hv.s, nil)
		if err != nil {
			return err
		}
		var b []float32
		if hv.sign != nil {
			if b, err = bufferFloats(hv.sign, backend); err != nil {
				return err
			}
			if len(b) != len(w) {
				return fmt.Errorf("training: fused update of %s: %d binary weights for %d latent ones", hv.v.Path(), len(b), len(w))
			}
		}
		for lo := 0; lo < len(w); lo += fusedChunk {
			hi := min(lo+fusedChunk, len(w))
			t := task{w: w[lo:hi], g: g[lo:hi], m: m[lo:hi], v: v[lo:hi], clip: hv.clip}
			if b != nil {
				t.b = b[lo:hi]
			}
			tasks = append(tasks, t)
		}
		updated = append(updated, hv)
	}
	a := adamStep{
		beta1: float32(o.Beta1), oneMinusBeta1: float32(1 - o.Beta1),
		beta2: float32(o.Beta2), oneMinusBeta2: float32(1 - o.Beta2),
		eps: float32(o.Epsilon), decay: float32(o.WeightDecay),
		stepSize: sc[0], sqrtCorr2: sc[1],
	}
	run := func(t task) {
		a := a
		a.clip = t.clip
		adamUpdate(t.w, t.g, t.m, t.v, t.b, a)
	}
	workers := min(runtime.GOMAXPROCS(0), len(tasks))
	if workers <= 1 {
		for _, t := range tasks {
			run(t)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(tasks); i = int(next.Add(1)) - 1 {
					run(tasks[i])
				}
			})
		}
		wg.Wait()
	}
	for _, hv := range updated {
		if hv.sign == nil {
			delete(signed, hv.v)
			continue
		}
		t, err := hv.v.Value()
		if err != nil {
			return err
		}
		signed[hv.v] = t
	}
	return nil
}

// adamStep holds the float32 constants of one Adam update, rounded as the
// graph rounds them.
type adamStep struct {
	beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, decay float32
	stepSize                                               float32 // lr / (1 - beta1^t)
	sqrtCorr2                                              float32 // sqrt(1 - beta2^t)
	clip                                                   bool
}

// adamScalar is PyTorch's Adam on w[i], op for op as Optimizer.apply builds
// it: every product and quotient rounded to float32 on its own. With b not
// nil, it also writes the sign of the updated w[i] to b[i] (signScalar).
func adamScalar(w, g, m, s, b []float32, a adamStep) {
	for i := range w {
		gi := g[i]
		if a.decay != 0 {
			gi += float32(w[i] * a.decay)
		}
		mi := float32(m[i]*a.beta1) + float32(gi*a.oneMinusBeta1)
		si := float32(s[i]*a.beta2) + float32(float32(gi*gi)*a.oneMinusBeta2)
		denom := float32(float32(math.Sqrt(float64(si)))/a.sqrtCorr2) + a.eps
		wi := w[i] - float32(a.stepSize*float32(mi/denom))
		if a.clip {
			wi = clip1(wi)
		}
		m[i], s[i], w[i] = mi, si, wi
		if b != nil {
			b[i] = sign1(wi)
		}
	}
}

// clip1 is min(max(x,-1),1), NaN kept.
func clip1(x float32) float32 {
	if x < -1 {
		return -1
	}
	if x > 1 {
		return 1
	}
	return x
}
