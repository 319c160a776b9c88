package training

import (
	"context"
	"math"
	"testing"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// TestOptimizersMatchPyTorch runs five updates of a small variable with fixed
// gradients through Optimizer.apply and compares every value with a float64
// transcription of PyTorch's torch.optim.Adam and torch.optim.SGD (momentum,
// weight decay) update rules.
func TestOptimizersMatchPyTorch(t *testing.T) {
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	w0 := []float64{0.5, -0.25, 1.5, -2, 0.001, 0}
	grads := [][]float64{
		{0.1, -0.2, 0.3, 0, 1e-4, -5},
		{-0.3, 0.2, 0.05, 0.7, -1e-3, 2},
		{0.2, 0.2, -0.4, 0.1, 0, 0.5},
		{1, -1, 0.5, -0.5, 0.25, -0.25},
		{0.01, 0.02, -0.03, 0.04, -0.05, 0.06},
	}
	for _, o := range []Optimizer{
		{Name: "adam", LearningRate: 0.1},
		{Name: "adam", LearningRate: 0.01, WeightDecay: 1e-2},
		{Name: "sgd", LearningRate: 0.1, Momentum: 0.9, WeightDecay: 1e-4},
		{Name: "sgd", LearningRate: 0.5},
	} {
		o, err := o.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		store := model.NewStore()
		v := store.Scope("/model").WithInitializer(initializer.Zero).VariableWithShape("w", shapes.Make(dtypes.Float32, len(w0)))
		init := make([]float32, len(w0))
		for i, x := range w0 {
			init[i] = float32(x)
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(init, len(w0)))
		exec, err := model.NewExec(b, store, func(scope *model.Scope, g, lr *Node) *Node {
			layers.LiveVariables(scope, g.Graph())
			o.apply(store, g.Graph(), lr, []update{{v: v, grad: g}})
			return v.NodeValue(g.Graph())
		})
		if err != nil {
			t.Fatal(err)
		}
		// Reference, in float64: PyTorch 1.13's single-tensor update rules.
		ref := append([]float64(nil), w0...)
		m, s, buf := make([]float64, len(w0)), make([]float64, len(w0)), make([]float64, len(w0))
		for step, g := range grads {
			gf := make([]float32, len(g))
			for i, x := range g {
				gf[i] = float32(x)
			}
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(gf, len(gf)), float32(o.LearningRate))
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](out[0])
			tt := float64(step + 1)
			for i := range ref {
				gi := g[i] + o.WeightDecay*ref[i]
				switch o.Name {
				case "adam":
					m[i] = o.Beta1*m[i] + (1-o.Beta1)*gi
					s[i] = o.Beta2*s[i] + (1-o.Beta2)*gi*gi
					denom := math.Sqrt(s[i])/math.Sqrt(1-math.Pow(o.Beta2, tt)) + o.Epsilon
					ref[i] -= o.LearningRate / (1 - math.Pow(o.Beta1, tt)) * m[i] / denom
				case "sgd":
					if o.Momentum != 0 {
						if step == 0 {
							buf[i] = gi // PyTorch starts the buffer at the first gradient
						} else {
							buf[i] = o.Momentum*buf[i] + gi
						}
						gi = buf[i]
					}
					ref[i] -= o.LearningRate * gi
				}
				if d := math.Abs(float64(got[i]) - ref[i]); d > 2e-6*(1+math.Abs(ref[i])) {
					t.Fatalf("%s %+v step %d weight %d: got %v, PyTorch's rule %v", o.Name, o, step+1, i, got[i], ref[i])
				}
			}
		}
	}
}

// TestOptimizerFieldErrors: a field out of its range or not finite is an
// error naming it, from NewEngine and Run alike, where Beta1 1 or Beta2 -1
// trained into a "training diverged" message, a NaN failed only when the
// fingerprint was written ("json: unsupported value: NaN"), and a negative
// epsilon or momentum trained.
func TestOptimizerFieldErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		o    Optimizer
		want string
	}{
		{Optimizer{LearningRate: 0.01, Beta1: 1}, "training: optimizer Beta1 1: want a number at least 0 and below 1"},
		{Optimizer{LearningRate: 0.01, Beta1: nan}, "training: optimizer Beta1 NaN: want a number at least 0 and below 1"},
		{Optimizer{LearningRate: 0.01, Beta2: -1}, "training: optimizer Beta2 -1: want a number at least 0 and below 1"},
		{Optimizer{LearningRate: 0.01, Beta2: inf}, "training: optimizer Beta2 +Inf: want a number at least 0 and below 1"},
		{Optimizer{LearningRate: 0.01, Epsilon: -1}, "training: optimizer Epsilon -1: want a positive number"},
		{Optimizer{LearningRate: 0.01, Epsilon: inf}, "training: optimizer Epsilon +Inf: want a positive number"},
		{Optimizer{Name: "sgd", LearningRate: 0.01, Epsilon: nan}, "training: optimizer Epsilon NaN: want a positive number"},
		{Optimizer{Name: "sgd", LearningRate: 0.01, Beta1: 2}, "training: optimizer Beta1 2: want a number at least 0 and below 1"},
		{Optimizer{Name: "sgd", LearningRate: 0.01, Momentum: -5}, "training: optimizer Momentum -5: want a number at least 0"},
		{Optimizer{Name: "sgd", LearningRate: 0.01, Momentum: nan}, "training: optimizer Momentum NaN: want a number at least 0"},
		{Optimizer{Name: "sgd", LearningRate: 0.01, WeightDecay: inf}, "training: optimizer WeightDecay +Inf: want a number at least 0"},
		{Optimizer{LearningRate: 0.01, WeightDecay: -1e-4}, "training: optimizer WeightDecay -0.0001: want a number at least 0"},
		{Optimizer{LearningRate: nan}, "training: learning rate must be a positive number, got NaN"},
	} {
		_, err := c.o.withDefaults()
		wantErr(t, "withDefaults", err, c.want)
		b, berr := backend.Shared()
		if berr != nil {
			t.Fatal(berr)
		}
		_, err = NewEngine(b, model.NewStore(), smallMLP, nil, c.o)
		wantErr(t, "NewEngine", err, c.want)
	}
	cfg := smallConfig(t, []int{0, 1, 2}, 1, 3)
	cfg.Optimizer.Beta1 = 1
	_, err := Run(context.Background(), cfg, smallData(t))
	wantErr(t, "Run", err, "training: optimizer Beta1 1: want a number at least 0 and below 1")
	for _, o := range []Optimizer{{LearningRate: 0.01, Beta1: 0.5, Beta2: 0.9, Epsilon: 1e-6, WeightDecay: 1e-4},
		{Name: "sgd", LearningRate: 0.01, Momentum: 0.9, WeightDecay: 5e-4}, {Name: "sgd", LearningRate: 1}} {
		if _, err := o.withDefaults(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
