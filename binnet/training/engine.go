package training

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

func shapeScalar(dtype dtypes.DType) shapes.Shape { return shapes.Make(dtype) }

// Engine compiles and runs a network's training step and evaluation on one
// backend.
//
// By default it compiles one training graph and one evaluation graph per
// binarization state (the layer modes of a schedule's stage): float layers
// then skip the quantizer entirely, binary layers skip the float path, and
// frozen layers get no gradient and no optimizer update, with no run-time
// switch left in the graph. A schedule of L layers has at most L+1 states, so
// a run compiles a handful of graphs (the first step of each new stage pays
// it). Gated switches to a single graph with the state as a run-time input.
//
// On the pure-Go backend the engine keeps each batch's input tensors and
// updates Adam's variables in place on the host between executions (see
// InGraphUpdate), so an Engine must not be used from several goroutines at
// once; its steps and evaluations run one after another.
type Engine struct {
	Backend   compute.Backend // the backend the graphs compile and run on
	Store     *model.Store    // holds the variables: /model (the network's), /optimizer, /metrics (the epoch's sums), GradientScope and SignScope (the fused update's scratch)
	Network   models.Network  // the network trained, built under the scope /model
	Quantizer quant.Quantizer // quantizes the weights of binary and frozen layers; NewEngine's default is quant.STESign
	Optimizer Optimizer       // the update, its defaults filled in by NewEngine
	ClipAll   bool            // clip the latent weights of every binarizable layer to [-1,1]

	// Gated, set before the first step, makes one compiled training graph
	// and one evaluation graph serve every stage: the binarization state is
	// fed at run time as gate vectors and every weight goes through the
	// quantizer, a select and held updates. It compiles once, but each step
	// costs more (benchmarked in docs/performance.md).
	Gated bool

	// InGraphUpdate, set before the first step, keeps the optimizer update
	// in the training graph on every backend. By default the pure-Go
	// backend, whose buffers are host memory, leaves Adam to the fused host
	// update (fused.go), which gives the same bits in fewer passes; SGD,
	// and every update on XLA, stay in the graph.
	InGraphUpdate bool

	// LoopSteps, set before the first step, makes TrainSteps run its steps
	// as a While loop in the graph, whose body is one step, rather than
	// unrolled: the graph, and its compilation, stay the size of one step
	// whatever the number of steps per call. XLA only: the pure-Go backend
	// of gomlx/compute v0.1.14 cannot compile such a loop, and TrainSteps
	// returns an error there.
	LoopSteps bool

	stages              map[string]*stageExecs
	gatedTrain, gatedEv *model.Exec
	gatedPlan           *hostPlan
	batches             map[string][2]*tensors.Tensor       // batch tensors shared with the backend, by shape
	signed              map[*model.Variable]*tensors.Tensor // latent weights -> the value their SignScope binary weights hold the signs of
	lr                  *tensors.Tensor                     // the learning rate of the last step, kept for the next (see learningRate)
	layerInfo           []layers.Info
	devices             int // > 1 after DataParallel
	mesh                *distributed.DeviceMesh
	specs               []*distributed.ShardingSpec
}

// stageExecs are the compiled graphs of one binarization state.
type stageExecs struct {
	train, eval *model.Exec
	grouped     *model.Exec // several steps in one execution, unrolled or looped (see TrainSteps), nil with the fused update
	plan        *hostPlan   // the fused update's variables, nil if the update is in the graph
}

// NewEngine prepares an engine; graphs compile on first use.
func NewEngine(b compute.Backend, store *model.Store, net models.Network, q quant.Quantizer, opt Optimizer) (*Engine, error) {
	switch {
	case b == nil:
		return nil, errors.New("training: NewEngine: no backend (nil)")
	case store == nil:
		return nil, errors.New("training: NewEngine: no variable store (nil)")
	case models.IsNil(net):
		return nil, errors.New("training: NewEngine: no network (nil)")
	}
	// A network with a bad field fails here, naming it, rather than inside
	// graph building (a division by zero, an index out of range).
	if err := models.Validate(net); err != nil {
		return nil, fmt.Errorf("training: NewEngine: %w", err)
	}
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if q == nil {
		q = quant.STESign
	}
	return &Engine{Backend: b, Store: store, Network: net, Quantizer: q, Optimizer: opt, stages: map[string]*stageExecs{},
		signed: map[*model.Variable]*tensors.Tensor{}}, nil
}

// stageKey names a binarization state: one letter per layer.
func stageKey(modes []binnet.Mode) string {
	key := make([]byte, len(modes))
	for i, m := range modes {
		switch m {
		case binnet.Binary:
			key[i] = 'b'
		case binnet.Frozen:
			key[i] = 'z'
		default:
			key[i] = 'f'
		}
	}
	return string(key)
}

// checkModes returns an error naming the problem unless modes holds one
// mode, float, binary or frozen, for each binarizable layer of the network.
func (e *Engine) checkModes(modes []binnet.Mode) error {
	if n := e.Network.NumBinarizable(); len(modes) != n {
		return fmt.Errorf("training: %d layer modes for %s, which has %d binarizable layers", len(modes), e.Network.Name(), n)
	}
	for i, m := range modes {
		if m != binnet.Float && m != binnet.Binary && m != binnet.Frozen {
			return fmt.Errorf("training: layer %d has mode %v: want float, binary or frozen", i+1, m)
		}
	}
	return nil
}

// stage returns the compiled graphs of a binarization state, creating them
// (they compile on their first execution) when the state is new.
func (e *Engine) stage(modes []binnet.Mode) (*stageExecs, error) {
	if err := e.checkModes(modes); err != nil {
		return nil, err
	}
	key := stageKey(modes)
	if s, ok := e.stages[key]; ok {
		return s, nil
	}
	modes = append([]binnet.Mode(nil), modes...)
	s := &stageExecs{plan: e.newPlan()}
	train, err := model.NewExec(e.Backend, e.Store, func(scope *model.Scope, x, labels, lr *Node) []*Node {
		return e.buildTrain(scope, x, labels, lr, modes, nil, nil, s.plan)
	})
	if err != nil {
		return nil, err
	}
	eval, err := model.NewExec(e.Backend, e.Store, func(scope *model.Scope, x, labels *Node) (*Node, *Node) {
		return e.buildEval(scope, x, labels, modes, nil)
	})
	if err != nil {
		return nil, err
	}
	if e.mesh != nil {
		e.shard(train, e.specs...)
	}
	if s.plan == nil && e.mesh == nil {
		// xs holds the batches of the steps along its first axis; each step
		// reads the variables as the previous one left them.
		build := func(scope *model.Scope, xs, labels, lr *Node) []*Node {
			var out []*Node
			for k := range xs.Shape().Dimensions[0] {
				x := Squeeze(Slice(xs, AxisElem(k)), 0)
				y := Squeeze(Slice(labels, AxisElem(k)), 0)
				if k > 0 {
					scope = e.Store.Scope(scope.Scope()) // the same variables, entered again
				}
				out = e.buildTrain(scope, x, y, lr, modes, nil, nil, nil)
			}
			return out
		}
		if e.LoopSteps {
			build = func(scope *model.Scope, xs, labels, lr *Node) []*Node {
				return e.buildLoop(scope, xs, labels, lr, modes)
			}
		}
		s.grouped, err = model.NewExec(e.Backend, e.Store, build)
		if err != nil {
			return nil, err
		}
	}
	s.train, s.eval = train, eval
	e.stages[key] = s
	return s, nil
}

// shard makes the training graph exec run on the engine's device mesh (see
// DataParallel), its inputs sharded by specs, on the mesh's devices in
// order. Two GoMLX v0.28.16 gaps, both seen on an H200, are closed here:
//   - the device assignment is given explicitly: GoMLX leaves it unset for a
//     mesh of one device, and go-xla v0.4.13 then refuses to compile the
//     sharded program ("no device assignment given to Client.Compile(), but
//     computation is not (device) portable");
//   - the random-number state variable, which the Store creates without a
//     link back to itself when seeded (model.Store.SetRNGStateFromSeed) and
//     which the sharded initialization of the variables reads, is given the
//     replicated sharding itself: GoMLX looks the default up through that
//     missing link and dereferences nil.
func (e *Engine) shard(exec *model.Exec, specs ...*distributed.ShardingSpec) {
	devices := make([]compute.DeviceNum, e.mesh.NumDevices())
	for i := range devices {
		devices[i] = compute.DeviceNum(i)
	}
	exec.AutoSharding(e.mesh).WithInputShardingSpecs(specs...).WithDeviceAssignment(devices)
	if rng := e.Store.GetVariable(model.JoinPath("/", model.RNGStateVariableName)); rng != nil && rng.ShardingSpec() == nil {
		_ = rng.SetShardingSpec(distributed.NewReplicatedShardingSpec(e.mesh)) // fails only once the variable holds sharded values, which then carry their sharding
	}
}

// gatedSpecs returns the sharding of the gated training graph's inputs
// (images, labels, gates, frozen, learning rate): DataParallel's specs with
// the gate vectors replicated.
func (e *Engine) gatedSpecs() []*distributed.ShardingSpec {
	rep := distributed.NewReplicatedShardingSpec(e.mesh)
	return []*distributed.ShardingSpec{e.specs[0], e.specs[1], rep, rep, e.specs[2]}
}

// gated returns the single gated training and evaluation graphs.
func (e *Engine) gated() (train, eval *model.Exec, err error) {
	if e.gatedTrain != nil {
		return e.gatedTrain, e.gatedEv, nil
	}
	plan := e.newPlan()
	train, err = model.NewExec(e.Backend, e.Store, func(scope *model.Scope, x, labels, gates, frozen, lr *Node) []*Node {
		return e.buildTrain(scope, x, labels, lr, nil, gates, frozen, plan)
	})
	if err != nil {
		return nil, nil, err
	}
	eval, err = model.NewExec(e.Backend, e.Store, func(scope *model.Scope, x, labels, gates *Node) (*Node, *Node) {
		return e.buildEval(scope, x, labels, nil, gates)
	})
	if err != nil {
		return nil, nil, err
	}
	if e.mesh != nil {
		e.shard(train, e.gatedSpecs()...)
	}
	e.gatedTrain, e.gatedEv, e.gatedPlan = train, eval, plan
	return train, eval, nil
}

// accumulators: per-epoch sums kept on the device so a step needs no host round trip.
func (e *Engine) accumulators() (loss, correct, count *model.Variable) {
	s := e.Store.Scope("/metrics").WithInitializer(initializer.Zero)
	return s.VariableWithShape("loss_sum", shapeScalar(dtypes.Float32)),
		s.VariableWithShape("correct", shapeScalar(dtypes.Float32)),
		s.VariableWithShape("count", shapeScalar(dtypes.Float32))
}

// lossAndCorrect returns the mean cross-entropy and the number of correct predictions.
func lossAndCorrect(logits, labels *Node) (loss, sumLoss, correct *Node) {
	classes := logits.Shape().Dimensions[1]
	logp := LogSoftmax(logits, -1)
	onehot := OneHot(labels, classes, logits.DType())
	perExample := Neg(ReduceSum(Mul(onehot, logp), -1))
	pred := ArgMax(logits, -1, labels.DType())
	correct = ReduceAllSum(ConvertDType(Equal(pred, labels), dtypes.Float32))
	return ReduceAllMean(perExample), ReduceAllSum(perExample), correct
}

// control returns the layers' Control of a graph: static modes, or gates fed at run time.
func (e *Engine) control(training bool, modes []binnet.Mode, gates *Node) *layers.Control {
	ctl := layers.NewControl(training).WithQuantizer(e.Quantizer)
	if gates != nil {
		return ctl.WithGates(gates)
	}
	return ctl.WithModes(modes...)
}

// newPlan returns an empty plan for a training graph's fused update, or nil
// if the engine keeps the update in the graph.
func (e *Engine) newPlan() *hostPlan {
	if e.fusedUpdate() {
		return &hostPlan{}
	}
	return nil
}

// buildTrain builds the training step: static modes (gates and frozen nil)
// or the gated graph (modes nil). Its outputs are the loss, then, if plan is
// not nil, the fused update's scalars (buildTrain fills plan).
func (e *Engine) buildTrain(scope *model.Scope, x, labels, lr *Node, modes []binnet.Mode, gates, frozen *Node, plan *hostPlan) []*Node {
	g := x.Graph()
	layers.LiveVariables(scope, g)
	ctl := e.control(true, modes, gates)
	// With the fused update and fixed modes, binary dense layers read their
	// binary weights from SignScope, and the gradient is taken with respect
	// to those (the parameter node of each, recorded here).
	var signs []signCopy
	signNodes := map[*model.Variable]*Node{}
	signVars := map[*model.Variable]*model.Variable{}
	if plan != nil && gates == nil {
		ctl.WithHostSign(func(latent *model.Variable) *model.Variable {
			sv := e.Store.Scope(model.JoinPath(SignScope, latent.Scope())).WithInitializer(initializer.Zero).
				VariableWithShape(latent.Name(), latent.Shape()).SetTrainable(false)
			signs = append(signs, signCopy{latent: latent, sign: sv})
			signNodes[latent], signVars[latent] = sv.ValueGraph(g), sv
			return sv
		})
	}
	logits := e.Network.Logits(scope.In("model"), ctl, x)
	e.layerInfo = ctl.Layers()
	loss, sumLoss, correct := lossAndCorrect(logits, labels)

	latent := map[*model.Variable]layers.Info{}
	for _, info := range ctl.Layers() {
		latent[info.Weights] = info
	}
	isFrozen := func(info layers.Info) bool {
		return frozen == nil && info.Index < len(modes) && modes[info.Index] == binnet.Frozen
	}
	// Gradients of every trainable model variable used by the graph, but the
	// latent weights of layers frozen statically, which keep their values.
	var vars []*model.Variable
	var nodes []*Node
	for v := range e.Store.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && strings.HasPrefix(v.Scope(), "/model") {
			if info, ok := latent[v]; ok && isFrozen(info) {
				continue
			}
			if _, ok := signNodes[v]; ok {
				continue // its gradient is the binary weights' one, below
			}
			vars = append(vars, v)
			nodes = append(nodes, v.NodeValue(g))
		}
	}
	for _, c := range signs {
		if !isFrozen(latent[c.latent]) {
			vars = append(vars, c.latent)
			nodes = append(nodes, signNodes[c.latent])
		}
	}
	grads := Gradient(loss, nodes...)
	var updates []update
	for i, v := range vars {
		u := update{v: v, grad: grads[i]}
		u.sign = signVars[v] // nil but for the latent weights of binary dense layers read from SignScope
		if info, ok := latent[v]; ok {
			if frozen != nil {
				u.frozen = GreaterThan(Reshape(Slice(frozen, AxisElem(info.Index))), ScalarZero(g, frozen.DType()))
			}
			u.clip = info.ClipLatent || e.ClipAll
		}
		updates = append(updates, u)
	}
	outputs := []*Node{loss}
	if plan != nil {
		layerOf := func(v *model.Variable) int {
			if info, ok := latent[v]; ok {
				return info.Index
			}
			return -1
		}
		scalars, p := e.Optimizer.hostOutputs(e.Store, g, lr, updates, layerOf)
		p.signs, p.built = signs, true
		*plan = *p
		outputs = append(outputs, scalars...)
	} else {
		e.Optimizer.apply(e.Store, g, lr, updates)
	}

	lossVar, correctVar, countVar := e.accumulators()
	lossVar.SetNodeValue(Add(lossVar.NodeValue(g), ConvertDType(sumLoss, dtypes.Float32)))
	correctVar.SetNodeValue(Add(correctVar.NodeValue(g), correct))
	countVar.SetNodeValue(AddScalar(countVar.NodeValue(g), float64(x.Shape().Dimensions[0])))
	return outputs
}

// buildEval builds the evaluation graph (static modes, or gates).
func (e *Engine) buildEval(scope *model.Scope, x, labels *Node, modes []binnet.Mode, gates *Node) (*Node, *Node) {
	layers.LiveVariables(scope, x.Graph())
	ctl := e.control(false, modes, gates)
	logits := e.Network.Logits(scope.In("model"), ctl, x)
	if e.layerInfo == nil {
		e.layerInfo = ctl.Layers()
	}
	_, sumLoss, correct := lossAndCorrect(logits, labels)
	return sumLoss, correct
}

// Layers returns the binarizable layers of the network, known once a graph
// has been built.
func (e *Engine) Layers() []layers.Info { return e.layerInfo }

func gateVectors(modes []binnet.Mode) (gates, frozen []float32) {
	gates = make([]float32, len(modes))
	frozen = make([]float32, len(modes))
	for i, m := range modes {
		if m.IsBinary() {
			gates[i] = 1
		}
		if m == binnet.Frozen {
			frozen[i] = 1
		}
	}
	return
}

// batchTensors returns the tensors of a batch. On the pure-Go backend, whose
// buffers are host memory, it copies the batch into tensors kept per batch shape and
// shared with the backend (one copy, no allocation per step); elsewhere it
// makes new tensors, which the execution transfers to the device.
func (e *Engine) batchTensors(x []float32, y []int32, shape []int) (*tensors.Tensor, *tensors.Tensor, error) {
	dims, err := batchDims(x, y, shape)
	if err != nil {
		return nil, nil, err
	}
	if e.mesh != nil || !OnHost(e.Backend) {
		return tensors.FromFlatDataAndDimensions(x, dims...), tensors.FromFlatDataAndDimensions(y, len(y)), nil
	}
	key := fmt.Sprint(dims)
	b, ok := e.batches[key]
	if !ok {
		xt, err := tensors.FromShapeForBackend(e.Backend, 0, shapes.Make(dtypes.Float32, dims...))
		if err != nil {
			return nil, nil, err
		}
		yt, err := tensors.FromShapeForBackend(e.Backend, 0, shapes.Make(dtypes.Int32, len(y)))
		if err != nil {
			return nil, nil, err
		}
		b = [2]*tensors.Tensor{xt, yt}
		if e.batches == nil {
			e.batches = map[string][2]*tensors.Tensor{}
		}
		e.batches[key] = b
	}
	if err := tensors.MutableFlatData(b[0], func(flat []float32) { copy(flat, x) }); err != nil {
		return nil, nil, err
	}
	if err := tensors.MutableFlatData(b[1], func(flat []int32) { copy(flat, y) }); err != nil {
		return nil, nil, err
	}
	return b[0], b[1], nil
}

// batchDims returns the dimensions [len(y), shape...] of a batch of len(y)
// examples shaped shape, or an error if x does not hold their features.
func batchDims(x []float32, y []int32, shape []int) ([]int, error) {
	dims := append([]int{len(y)}, shape...)
	if size := shapes.Make(dtypes.Float32, dims...).Size(); len(x) != size {
		return nil, fmt.Errorf("training: a batch of %d examples shaped %v needs %d features, got %d", len(y), shape, size, len(x))
	}
	return dims, nil
}

// splitSteps returns the examples of each of steps batches of equal size
// that n labels make, or an error if they do not split so.
func splitSteps(n, steps int) (int, error) {
	if steps < 1 || n%steps != 0 {
		return 0, fmt.Errorf("training: %d labels do not split into %d batches of equal size", n, steps)
	}
	return n / steps, nil
}

// checkStep returns an error naming the problem when a training step on
// a batch of batch examples at learning rate lr cannot run: batch norm needs
// at least 2 examples, and the rate must be a finite number at least 0.
func checkStep(batch int, lr float64) error {
	if batch < 2 {
		return fmt.Errorf("training: a training batch of %d examples: batch norm needs at least 2 examples per batch", batch)
	}
	// 0 is allowed: a step that measures the batch's loss and moves no
	// weight (tests measure a network's loss so).
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("training: a step's learning rate must be a number at least 0, got %v", lr)
	}
	return nil
}

// TrainStep runs one optimizer step on a batch with the given layer modes.
// Every label must be one of the network's classes (0 to NumClasses-1);
// any other is an error naming it, where the step would train on it as a
// zero target row (loss 0, no gradient).
func (e *Engine) TrainStep(x []float32, y []int32, shape []int, modes []binnet.Mode, lr float64) error {
	if err := checkStep(len(y), lr); err != nil {
		return err
	}
	if err := checkLabels(y, e.Network); err != nil {
		return err
	}
	xt, yt, err := e.batchTensors(x, y, shape)
	if err != nil {
		return err
	}
	return e.TrainStepTensors(xt, yt, modes, lr)
}

// DeviceBatch returns steps batches of equal size as tensors held by the
// engine's backend: for steps 1, x shaped [batch, shape...] and y [batch],
// for [Engine.TrainStepTensors]; for more, [steps, batch, shape...] and
// [steps, batch], for [Engine.TrainStepsTensors]. On an accelerator (XLA on
// a GPU) the batches are copied to the device once, here, so that steps
// repeated on them (a benchmark, a dataset kept on the device) make no
// host-to-device copy.
func (e *Engine) DeviceBatch(x []float32, y []int32, shape []int, steps int) (*tensors.Tensor, *tensors.Tensor, error) {
	batch, err := splitSteps(len(y), steps)
	if err != nil {
		return nil, nil, err
	}
	dims, err := batchDims(x, y, shape)
	if err != nil {
		return nil, nil, err
	}
	if err := checkLabels(y, e.Network); err != nil {
		return nil, nil, err
	}
	labels := []int{len(y)}
	if steps > 1 {
		dims = append([]int{steps, batch}, shape...)
		labels = []int{steps, batch}
	}
	xt := tensors.FromFlatDataAndDimensions(x, dims...) // copies x
	yt := tensors.FromFlatDataAndDimensions(y, labels...)
	if e.mesh == nil {
		for _, t := range []*tensors.Tensor{xt, yt} {
			if err := t.MaterializeOnDevice(e.Backend, false, 0); err != nil {
				return nil, nil, fmt.Errorf("training: copying the batch to the device: %w", err)
			}
		}
	}
	return xt, yt, nil
}

// TrainStepTensors runs one optimizer step, as TrainStep, on a batch already
// in tensors (see [Engine.DeviceBatch]): x shaped [batch, input shape...]
// float32 and y [batch] int32. Its labels, which may be on the device, are
// not checked against the network's classes: DeviceBatch checks them.
func (e *Engine) TrainStepTensors(xt, yt *tensors.Tensor, modes []binnet.Mode, lr float64) error {
	if yt.Rank() != 1 || xt.Rank() < 1 || xt.Shape().Dimensions[0] != yt.Shape().Dimensions[0] {
		return fmt.Errorf("training: a batch shaped %v with labels shaped %v: want [batch, ...] and [batch]", xt.Shape(), yt.Shape())
	}
	if err := checkStep(yt.Shape().Dimensions[0], lr); err != nil {
		return err
	}
	if e.devices > 1 && yt.Shape().Dimensions[0]%e.devices != 0 {
		return fmt.Errorf("training: a batch of %d examples does not split over %d devices", yt.Shape().Dimensions[0], e.devices)
	}
	r, err := e.runner(modes)
	if err != nil {
		return err
	}
	if r.plan != nil {
		if err := e.prepareSigns(r, xt, yt); err != nil {
			return err
		}
	}
	out, err := r.train(xt, yt, e.learningRate(float32(lr)))
	if err != nil {
		return err
	}
	if r.plan != nil {
		err = e.Optimizer.applyHost(e.Backend, r.plan, out[1:], r.held, e.signed)
	}
	for _, t := range out {
		t.FinalizeAll()
	}
	return err
}

// TrainSteps runs one optimizer step on each of steps consecutive batches of
// equal size, x holding their features one batch after the other and y
// their labels: the same steps as TrainStep on each batch in turn. Where the
// update is in the graph (any backend but the pure-Go one, or
// InGraphUpdate), the steps run in a single execution of a graph that
// unrolls them, so that the host waits for the device once per call rather
// than once per step: on a GPU the small steps of an MLP are then limited by
// the device, not by the round trips. The unrolled graph compiles once per
// binarization state and number of steps.
func (e *Engine) TrainSteps(x []float32, y []int32, shape []int, steps int, modes []binnet.Mode, lr float64) error {
	batch, err := splitSteps(len(y), steps)
	if err != nil {
		return err
	}
	if err := checkStep(batch, lr); err != nil {
		return err
	}
	if err := checkLabels(y, e.Network); err != nil {
		return err // before any step: none of them trains
	}
	if _, err := batchDims(x, y, shape); err != nil {
		return err
	}
	per := len(x) / steps // features per batch
	if steps == 1 || !e.unrolls() {
		for k := range steps {
			if err := e.TrainStep(x[k*per:(k+1)*per], y[k*batch:(k+1)*batch], shape, modes, lr); err != nil {
				return err
			}
		}
		return nil
	}
	xs, ys, err := e.DeviceBatch(x, y, shape, steps)
	if err != nil {
		return err
	}
	defer xs.FinalizeAll()
	defer ys.FinalizeAll()
	return e.TrainStepsTensors(xs, ys, modes, lr)
}

// TrainStepsTensors runs the steps of TrainSteps on batches already in
// tensors (see [Engine.DeviceBatch]): xs shaped [steps, batch, input
// shape...] float32 and ys [steps, batch] int32, its labels not checked (as
// TrainStepTensors).
func (e *Engine) TrainStepsTensors(xs, ys *tensors.Tensor, modes []binnet.Mode, lr float64) error {
	dims := xs.Shape().Dimensions
	if xs.Rank() < 2 || ys.Rank() != 2 || ys.Shape().Dimensions[0] != dims[0] || ys.Shape().Dimensions[1] != dims[1] {
		return fmt.Errorf("training: steps of batches shaped %v with labels shaped %v: want [steps, batch, ...] and [steps, batch]", xs.Shape(), ys.Shape())
	}
	if err := checkStep(dims[1], lr); err != nil {
		return err
	}
	if err := checkLoop(e.LoopSteps, e.Backend); err != nil {
		return err
	}
	if !e.unrolls() { // one step per call, read from the tensors in place
		var stepErr, yErr error
		xErr := tensors.ConstFlatData(xs, func(x []float32) {
			yErr = tensors.ConstFlatData(ys, func(y []int32) { stepErr = e.TrainSteps(x, y, dims[2:], dims[0], modes, lr) })
		})
		return errors.Join(xErr, yErr, stepErr)
	}
	s, err := e.stage(modes)
	if err != nil {
		return err
	}
	out, err := s.grouped.Exec(xs, ys, e.learningRate(float32(lr)))
	for _, t := range out {
		t.FinalizeAll()
	}
	return err
}

// unrolls reports whether TrainSteps runs its steps in one execution: with
// the update in the graph, fixed modes, and one device.
func (e *Engine) unrolls() bool {
	return !e.Gated && !e.fusedUpdate() && e.mesh == nil
}

// learningRate returns the learning rate as the float32 scalar tensor the
// training step takes: the previous step's tensor while the rate stays the
// same, so that on an accelerator it is copied to the device once, not at
// every step.
func (e *Engine) learningRate(lr float32) *tensors.Tensor {
	if e.lr == nil || tensors.ToScalar[float32](e.lr) != lr {
		e.lr = tensors.FromScalar(lr)
	}
	return e.lr
}

// prepareSigns makes the binary weights that r's training graph reads from
// SignScope the signs of the current latent weights. The first time, it
// builds the graph (which says which layers read them) and initializes the
// variables, as the first execution would have.
func (e *Engine) prepareSigns(r stageRunner, x, y *tensors.Tensor) error {
	if !r.plan.built && r.compile != nil {
		if err := r.compile(x, y); err != nil {
			return err
		}
		if err := e.Store.InitializeVariables(e.Backend, nil); err != nil {
			return err
		}
	}
	return syncSigns(e.Backend, r.plan.signs, e.signed)
}

// stageRunner runs the compiled graphs of one binarization state.
type stageRunner struct {
	compile func(x, y *tensors.Tensor) error                          // builds and compiles the training graph for a batch, or nil
	train   func(x, y, lr *tensors.Tensor) ([]*tensors.Tensor, error) // lr: a float32 scalar
	eval    func(x, y *tensors.Tensor) ([]*tensors.Tensor, error)
	plan    *hostPlan            // the fused update after train, or nil
	held    func(layer int) bool // layers whose fused update is held, or nil
}

// runner returns the training step and the evaluation of a binarization
// state: the state's own graphs, or the gated graphs fed with its gates.
func (e *Engine) runner(modes []binnet.Mode) (stageRunner, error) {
	if err := e.checkModes(modes); err != nil {
		return stageRunner{}, err
	}
	if e.Gated {
		train, eval, err := e.gated()
		if err != nil {
			return stageRunner{}, err
		}
		gates, frozen := gateVectors(modes)
		return stageRunner{
			train: func(x, y, lr *tensors.Tensor) ([]*tensors.Tensor, error) {
				if e.devices > 1 {
					args, err := shardedArgs(e.gatedSpecs(), x, y, tensors.FromValue(gates), tensors.FromValue(frozen), lr)
					if err != nil {
						return nil, err
					}
					return train.Exec(args...)
				}
				return train.Exec(x, y, gates, frozen, lr)
			},
			eval: func(x, y *tensors.Tensor) ([]*tensors.Tensor, error) { return eval.Exec(x, y, gates) },
			plan: e.gatedPlan,
			held: func(layer int) bool { return layer < len(modes) && modes[layer] == binnet.Frozen },
		}, nil
	}
	s, err := e.stage(modes)
	if err != nil {
		return stageRunner{}, err
	}
	return stageRunner{
		compile: func(x, y *tensors.Tensor) error {
			_, err := s.train.Compile(x.Shape(), y.Shape(), shapes.Make(dtypes.Float32))
			return err
		},
		train: func(x, y, lr *tensors.Tensor) ([]*tensors.Tensor, error) {
			if e.devices > 1 {
				args, err := shardedArgs(e.specs, x, y, lr)
				if err != nil {
					return nil, err
				}
				return s.train.Exec(args...)
			}
			return s.train.Exec(x, y, lr)
		},
		eval: func(x, y *tensors.Tensor) ([]*tensors.Tensor, error) { return s.eval.Exec(x, y) },
		plan: s.plan,
	}, nil
}

// shardedArgs returns the arguments of a training step sharded over several
// devices (DataParallel) as GoMLX takes them: each tensor split or
// replicated over the mesh by its spec (dtensor.ShardTensor, on the host),
// where plain tensors would be read as one argument per device. (A mesh of
// one device, the one that has run, on an H200, takes plain tensors: there
// an argument is one per device.) Its outputs come back once per device.
func shardedArgs(specs []*distributed.ShardingSpec, args ...*tensors.Tensor) ([]any, error) {
	out := make([]any, len(args))
	for i, t := range args {
		d, err := dtensor.ShardTensor(specs[i], t)
		if err != nil {
			return nil, fmt.Errorf("training: sharding argument %d (shaped %s) over the devices: %w", i, t.Shape(), err)
		}
		out[i] = d
	}
	return out, nil
}

// ResetLatentToSign replaces the latent weights of every binary (or frozen)
// layer by sign(w) in {-1,+1}: -1 where w < 0, else +1 (sign(0) = +1, and +1
// for NaN, the sign the binary forward pass uses). It reproduces a side effect of the
// official code's evaluation (restore_binary_weight before evaluating,
// restore_full_precision after it), which leaves the latent weights of binary
// layers binarized after every evaluation.
func (e *Engine) ResetLatentToSign(modes []binnet.Mode) error {
	if err := e.checkModes(modes); err != nil {
		return err
	}
	for _, info := range e.layerInfo {
		if info.Index >= len(modes) || !modes[info.Index].IsBinary() {
			continue
		}
		t, err := info.Weights.Value()
		if err != nil {
			return err
		}
		w := tensors.MustCopyFlatData[float32](t)
		signInto(w, w)
		if err := info.Weights.SetValue(tensors.FromFlatDataAndDimensions(w, t.Shape().Dimensions...)); err != nil {
			return err
		}
	}
	return nil
}

// ResetAccumulators zeroes the per-epoch training sums.
func (e *Engine) ResetAccumulators() {
	l, c, n := e.accumulators()
	for _, v := range []*model.Variable{l, c, n} {
		v.MustSetValue(tensors.FromScalar(float32(0)))
	}
}

// Accumulated returns the mean training loss, accuracy and example count since
// the last ResetAccumulators.
func (e *Engine) Accumulated() (loss, accuracy float64, count int) {
	l, c, n := e.accumulators()
	read := func(v *model.Variable) float64 {
		if !v.HasValue() {
			return 0
		}
		return float64(v.MustValue().Value().(float32))
	}
	cnt := read(n)
	if cnt == 0 {
		return 0, 0, 0
	}
	return read(l) / cnt, read(c) / cnt, int(cnt)
}

// Evaluate returns the mean loss and the accuracy of the network on ex, with
// batch norm's running averages and the given layer modes, in batches of
// batchSize examples (at least 1; one batch when ex has fewer).
func (e *Engine) Evaluate(ex Source, modes []binnet.Mode, batchSize int) (loss, accuracy float64, err error) {
	if batchSize < 1 {
		return 0, 0, fmt.Errorf("training: evaluation batch size %d must be positive", batchSize)
	}
	if ex.Len() == 0 {
		return 0, 0, fmt.Errorf("training: evaluation set %s is empty", ex)
	}
	batchSize = min(batchSize, ex.Len()) // the buffers below are sized by it
	size := exampleSize(ex)
	shape := ex.ExampleShape()
	r, err := e.runner(modes)
	if err != nil {
		return 0, 0, err
	}
	var sumLoss, correct float64
	indices := make([]int, 0, batchSize)
	// One buffer for every batch: batchTensors copies it out.
	xs, ys := make([]float32, batchSize*size), make([]int32, batchSize)
	for from := 0; from < ex.Len(); from += batchSize {
		to := min(from+batchSize, ex.Len())
		indices = indices[:0]
		for i := from; i < to; i++ {
			indices = append(indices, i)
		}
		x, y := xs[:len(indices)*size], ys[:len(indices)]
		if err := ex.Batch(indices, nil, x, y); err != nil {
			return 0, 0, err
		}
		for i, l := range y {
			if err := checkLabel(int(l), e.Network); err != nil {
				return 0, 0, fmt.Errorf("training: evaluation set %s: example %d %w", ex, from+i, err)
			}
		}
		xt, yt, err := e.batchTensors(x, y, shape)
		if err != nil {
			return 0, 0, err
		}
		out, err := r.eval(xt, yt)
		if err != nil {
			return 0, 0, err
		}
		sumLoss += float64(out[0].Value().(float32))
		correct += float64(out[1].Value().(float32))
		for _, t := range out {
			t.FinalizeAll()
		}
	}
	n := float64(ex.Len())
	return sumLoss / n, correct / n, nil
}
