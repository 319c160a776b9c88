package training

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Optimizer configures the update of the trainable variables. Latent weights
// of binary layers are updated like any float weight (the straight-through
// estimator already routed their gradient), except frozen ones.
type Optimizer struct {
	// Name is "adam" (PyTorch's Adam) or "sgd" (PyTorch's SGD with momentum).
	Name         string  `json:"name"`
	LearningRate float64 `json:"learning_rate"`          // > 0; the rate before the first of Config.LRMilestones
	Beta1        float64 `json:"beta1,omitempty"`        // Adam, in [0,1), default 0.9
	Beta2        float64 `json:"beta2,omitempty"`        // Adam, in [0,1), default 0.999
	Epsilon      float64 `json:"epsilon,omitempty"`      // Adam, > 0, default 1e-8
	Momentum     float64 `json:"momentum,omitempty"`     // SGD momentum, PyTorch's (no dampening, not Nesterov), >= 0; 0 for none
	WeightDecay  float64 `json:"weight_decay,omitempty"` // both optimizers: WeightDecay*w added to every gradient (PyTorch's L2), >= 0; 0 for none
}

// withDefaults fills PyTorch's defaults and validates: an error names a
// field whose value is not finite or out of its range.
func (o Optimizer) withDefaults() (Optimizer, error) {
	if o.Name == "" {
		o.Name = "adam"
	}
	if o.Name == "adam" {
		if o.Beta1 == 0 {
			o.Beta1 = 0.9
		}
		if o.Beta2 == 0 {
			o.Beta2 = 0.999
		}
		if o.Epsilon == 0 {
			o.Epsilon = 1e-8
		}
	}
	if o.Name != "adam" && o.Name != "sgd" {
		return o, fmt.Errorf("training: unknown optimizer %q (want adam or sgd)", o.Name)
	}
	if !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0) {
		return o, fmt.Errorf("training: learning rate must be a positive number, got %v", o.LearningRate)
	}
	// The fields another optimizer uses may be left at 0 (sgd's betas and
	// epsilon), but hold no value a run could not record or resume.
	for _, f := range []struct {
		name string
		v    float64
	}{{"Beta1", o.Beta1}, {"Beta2", o.Beta2}} {
		if !(f.v >= 0 && f.v < 1) {
			return o, fmt.Errorf("training: optimizer %s %v: want a number at least 0 and below 1", f.name, f.v)
		}
	}
	if !(o.Epsilon > 0 || o.Name != "adam" && o.Epsilon == 0) || math.IsInf(o.Epsilon, 0) {
		return o, fmt.Errorf("training: optimizer Epsilon %v: want a positive number", o.Epsilon)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"Momentum", o.Momentum}, {"WeightDecay", o.WeightDecay}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return o, fmt.Errorf("training: optimizer %s %v: want a number at least 0", f.name, f.v)
		}
	}
	return o, nil
}

// update is one trainable variable with its gradient, and whether its update
// is held (frozen) and its result clipped to [-1,1].
type update struct {
	v      *model.Variable
	grad   *Node
	frozen *Node // scalar bool, or nil
	clip   bool
	sign   *model.Variable // for the fused update: the binary weights sign(v) the graph reads, or nil
}

// countStep advances the optimizer's step counter (both optimizers keep it,
// so checkpoints hold the step count) and returns the new count t.
func countStep(store *model.Store, g *Graph) *Node {
	stepVar := store.Scope("/optimizer").WithInitializer(initializer.Zero).VariableWithShape("step", shapeScalar(dtypes.Float32))
	step := AddScalar(stepVar.NodeValue(g), 1)
	stepVar.SetNodeValue(step)
	return step
}

// adamScalars returns Adam's per-step scalars at step t: lr/(1-beta1^t) and
// sqrt(1-beta2^t), in dtype.
func (o Optimizer) adamScalars(step, lr *Node, dtype dtypes.DType) (stepSize, sqrtCorr2 *Node) {
	// Bias corrections 1-beta^t.
	corr1 := OneMinus(Exp(MulScalar(step, math.Log(o.Beta1))))
	corr2 := OneMinus(Exp(MulScalar(step, math.Log(o.Beta2))))
	return Div(ConvertDType(lr, dtype), ConvertDType(corr1, dtype)), ConvertDType(Sqrt(corr2), dtype)
}

// stateScope is the scope of a variable's optimizer state.
func (o Optimizer) stateScope(store *model.Store, v *model.Variable) *model.Scope {
	return store.Scope(model.JoinPath("/optimizer", o.Name, v.Scope())).WithInitializer(initializer.Zero)
}

// adamMoments returns the variables of Adam's first and second moments of
// v, the same for the graph's update and the fused host update (so a
// checkpoint of either continues under the other).
func (o Optimizer) adamMoments(store *model.Store, v *model.Variable) (m, s *model.Variable) {
	scope := o.stateScope(store, v)
	return scope.VariableWithShape(v.Name()+"_m", v.Shape()), scope.VariableWithShape(v.Name()+"_v", v.Shape())
}

// apply builds the optimizer's update of every variable; lr is a scalar node.
func (o Optimizer) apply(store *model.Store, g *Graph, lr *Node, updates []update) {
	dtype := dtypes.Float32
	step := countStep(store, g)
	var stepSize, sqrtCorr2 *Node
	if o.Name == "adam" {
		stepSize, sqrtCorr2 = o.adamScalars(step, lr, dtype)
	}
	for _, u := range updates {
		v := u.v.NodeValue(g)
		grad := u.grad
		if o.WeightDecay != 0 {
			grad = Add(grad, MulScalar(v, o.WeightDecay))
		}
		stateScope := o.stateScope(store, u.v)
		hold := func(newValue, old *Node) *Node {
			if u.frozen == nil {
				return newValue
			}
			return Where(u.frozen, old, newValue)
		}
		var newV *Node
		switch o.Name {
		case "adam":
			mVar, sVar := o.adamMoments(store, u.v)
			m0, s0 := mVar.NodeValue(g), sVar.NodeValue(g)
			// PyTorch's Adam, op for op (13 passes over the weights):
			// denom = sqrt(s)/sqrt(1-beta2^t) + eps; w -= lr/(1-beta1^t) * m/denom.
			m := Add(MulScalar(m0, o.Beta1), MulScalar(grad, 1-o.Beta1))
			s := Add(MulScalar(s0, o.Beta2), MulScalar(Mul(grad, grad), 1-o.Beta2))
			denom := AddScalar(Div(Sqrt(s), sqrtCorr2), o.Epsilon)
			newV = Sub(v, Mul(stepSize, Div(m, denom)))
			mVar.SetNodeValue(hold(m, m0))
			sVar.SetNodeValue(hold(s, s0))
		case "sgd":
			if o.Momentum != 0 {
				bVar := stateScope.VariableWithShape(u.v.Name()+"_momentum", u.v.Shape())
				b0 := bVar.NodeValue(g)
				buf := Add(MulScalar(b0, o.Momentum), grad)
				bVar.SetNodeValue(hold(buf, b0))
				grad = buf
			}
			newV = Sub(v, Mul(ConvertDType(lr, dtype), grad))
		}
		if u.clip {
			newV = ClipScalar(newV, -1, 1)
		}
		u.v.SetNodeValue(hold(newV, v))
	}
}
