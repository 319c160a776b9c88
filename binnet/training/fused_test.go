package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestFusedUpdateMatchesGraph trains through float, binary and frozen stages
// with the optimizer update in the graph and with the fused host update, in
// staged and gated graphs, and requires the same bits in every variable
// (weights, batch norm, optimizer state, step count) and the same
// validation accuracies: Adam, also with weight decay and every latent
// weight clipped. SGD keeps its update in the graph.
func TestFusedUpdateMatchesGraph(t *testing.T) {
	for _, c := range []struct {
		opt     Optimizer
		clipAll bool
		gated   bool
	}{
		{Optimizer{Name: "adam", LearningRate: 0.05}, false, false},
		{Optimizer{Name: "adam", LearningRate: 0.05}, false, true},
		{Optimizer{Name: "adam", LearningRate: 0.01, WeightDecay: 1e-2}, true, false},
		{Optimizer{Name: "adam", LearningRate: 0.02, WeightDecay: 1e-4}, true, true},
	} {
		t.Run(fmt.Sprintf("%s/wd=%g/clip=%v/gated=%v", c.opt.Name, c.opt.WeightDecay, c.clipAll, c.gated), func(t *testing.T) {
			setup := func(inGraph bool) func(*Engine) {
				return func(e *Engine) { e.Gated, e.ClipAll, e.InGraphUpdate = c.gated, c.clipAll, inGraph }
			}
			graph, accGraph := trainThroughStages(t, c.opt, setup(true))
			fused, accFused := trainThroughStages(t, c.opt, setup(false))
			if !fused.fusedUpdate() || graph.fusedUpdate() {
				t.Fatalf("fused update: %v with InGraphUpdate, %v without (want false, true)", graph.fusedUpdate(), fused.fusedUpdate())
			}
			plans := 0
			for _, s := range fused.stages {
				if s.plan == nil || len(s.plan.vars) == 0 {
					t.Fatal("a stage graph of the fused engine has no fused update")
				}
				plans++
			}
			if c.gated && (fused.gatedPlan == nil || len(fused.gatedPlan.vars) == 0) {
				t.Fatal("the gated graph of the fused engine has no fused update")
			}
			if !c.gated && plans != len(threeStages) {
				t.Fatalf("%d stage plans, want %d", plans, len(threeStages))
			}
			if fmt.Sprint(accGraph) != fmt.Sprint(accFused) {
				t.Errorf("validation accuracies per stage: in graph %v, fused %v", accGraph, accFused)
			}
			assertSameVariables(t, "in-graph", graph, "fused", fused)
		})
	}
}

// TestFusedUpdateResumesInGraphState: the fused update keeps Adam's state
// where the graph form keeps it (names, shapes, step count), so a run
// checkpointed by one continues exactly with the other. Three steps with
// the update in the graph, then the variables copied to a fresh fused
// engine, and both engines three steps more: the same bits.
func TestFusedUpdateResumesInGraphState(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	steps := func(e *Engine, modes []binnet.Mode, from int) {
		for step := from; step < from+3; step++ {
			x, y := stepBatch(data, step)
			if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, opt.LearningRate); err != nil {
				t.Fatal(err)
			}
		}
	}
	graph := newTestEngine(t, smallMLP, opt)
	graph.InGraphUpdate = true
	steps(graph, []binnet.Mode{binnet.Binary, binnet.Float, binnet.Float}, 0)
	fused := newTestEngine(t, smallMLP, opt)
	copied := 0
	for v := range graph.Store.IterVariables() {
		if !strings.HasPrefix(v.Scope(), "/model") && !strings.HasPrefix(v.Scope(), "/optimizer") {
			continue
		}
		value := v.MustValue()
		clone := tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](value), value.Shape().Dimensions...)
		nv, err := fused.Store.Scope(v.Scope()).CreateVariable(v.Name(), clone)
		if err != nil {
			t.Fatal(err)
		}
		nv.SetTrainable(v.Trainable)
		copied++
	}
	if copied < 10 {
		t.Fatalf("copied %d variables", copied)
	}
	next := []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Float}
	steps(graph, next, 3)
	steps(fused, next, 3)
	if !fused.fusedUpdate() {
		t.Fatal("the second engine keeps its update in the graph")
	}
	assertSameVariables(t, "in-graph", graph, "fused after resuming", fused)
}

// TestHostSignFollowsLatentWeights: with the fused update, binary dense
// layers read sign(w) from SignScope, which the update writes; when the
// latent weights change another way (a value set as a checkpoint restore
// sets it, ResetLatentToSign), the next step recomputes the signs. Both
// engines, fused and in-graph (which takes the sign in the graph), are
// changed alike and must keep the same bits; the fused one's binary weights
// must be the signs of its latent weights after every step.
func TestHostSignFollowsLatentWeights(t *testing.T) {
	data := smallData(t)
	opt := Optimizer{Name: "adam", LearningRate: 0.05}
	modes := []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Float}
	fused, graph := newTestEngine(t, smallMLP, opt), newTestEngine(t, smallMLP, opt)
	graph.InGraphUpdate = true
	step := 0
	steps := func(n int) {
		for range n {
			x, y := stepBatch(data, step)
			for _, e := range []*Engine{fused, graph} {
				if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, opt.LearningRate); err != nil {
					t.Fatal(err)
				}
			}
			step++
			checkSigns(t, fused, 2)
		}
	}
	steps(3)
	for _, e := range []*Engine{fused, graph} {
		w := e.Store.GetVariable("/model/dense1/weights")
		values := tensors.MustCopyFlatData[float32](w.MustValue())
		r := rand.New(rand.NewPCG(3, 4)) // the same values for both
		for i := range values {
			values[i] = float32(r.NormFloat64() * 0.1)
		}
		w.MustSetValue(tensors.FromFlatDataAndDimensions(values, w.Shape().Dimensions...))
		if err := e.ResetLatentToSign([]binnet.Mode{binnet.Float, binnet.Binary, binnet.Float}); err != nil {
			t.Fatal(err)
		}
	}
	steps(3)
	assertSameVariables(t, "in-graph", graph, "fused", fused)
}

// checkSigns fails unless e's current stage reads want binary weight
// variables and each holds the signs of its latent weights.
func checkSigns(t *testing.T, e *Engine, want int) {
	t.Helper()
	n := 0
	for _, s := range e.stages {
		for _, c := range s.plan.signs {
			n++
			w := tensors.MustCopyFlatData[float32](c.latent.MustValue())
			b := tensors.MustCopyFlatData[float32](c.sign.MustValue())
			for i := range w {
				if (w[i] < 0 && b[i] != -1) || (w[i] >= 0 && b[i] != 1) {
					t.Fatalf("%s[%d] = %v, its binary weight %v", c.latent.Path(), i, w[i], b[i])
				}
			}
		}
	}
	if n != want {
		t.Fatalf("%d binary weight variables, want %d", n, want)
	}
}

// TestSGDUpdateStaysInGraph: SGD's few passes stay in the graph, where they
// overlap the backward pass.
func TestSGDUpdateStaysInGraph(t *testing.T) {
	e := newTestEngine(t, smallMLP, Optimizer{Name: "sgd", LearningRate: 0.1, Momentum: 0.9})
	if e.fusedUpdate() {
		t.Error("an SGD engine leaves its update to the host")
	}
	if e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.1}); !e.fusedUpdate() {
		t.Error("an Adam engine on the Go backend keeps its update in the graph")
	}
}

// TestAdamUpdateKernels: the SIMD kernel (where built) and the scalar one
// give the same bits, on lengths with and without a tail, and a handful of
// elements checked against the update written out in float64.
func TestAdamUpdateKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 15, 16, 37, 1000} {
		for _, a := range []adamStep{
			{beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: float32(1 - 0.999), eps: 1e-8, stepSize: 0.3, sqrtCorr2: 0.05},
			{beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: float32(1 - 0.999), eps: 1e-8, decay: 0.01, stepSize: 0.02, sqrtCorr2: 0.7, clip: true},
		} {
			w, g, m, s := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i], m[i], s[i] = float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()*0.1), float32(r.Float64()*0.01)
			}
			if n == 37 {
				w[3], g[3], m[3], s[3] = 0, 0, 0, 0 // stays 0: its sign is +1
			}
			w2, m2, s2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), s...)
			w0, m0, s0 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), s...)
			b, b2 := make([]float32, n), make([]float32, n)
			adamUpdate(w, g, m, s, b, a)
			adamScalar(w2, g, m2, s2, b2, a)
			for i := range w {
				if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) || math.Float32bits(s[i]) != math.Float32bits(s2[i]) {
					t.Fatalf("n=%d [%d]: kernel (%v, %v, %v), scalar (%v, %v, %v)", n, i, w[i], m[i], s[i], w2[i], m2[i], s2[i])
				}
				if want := float32(1); (w[i] < 0 && b[i] != -1) || (w[i] >= 0 && b[i] != want) || b2[i] != b[i] {
					t.Fatalf("n=%d [%d]: w %v, binary weight %v (kernel), %v (scalar)", n, i, w[i], b[i], b2[i])
				}
				gi := float64(g[i]) + float64(w0[i])*float64(a.decay)
				mi := float64(m0[i])*0.9 + 0.1*gi
				si := float64(s0[i])*0.999 + 0.001*gi*gi
				wi := float64(w0[i]) - float64(a.stepSize)*mi/(math.Sqrt(si)/float64(a.sqrtCorr2)+1e-8)
				if a.clip {
					wi = math.Max(-1, math.Min(1, wi))
				}
				if math.Abs(wi-float64(w[i])) > 1e-5*(1+math.Abs(wi)) || math.Abs(mi-float64(m[i])) > 1e-6 {
					t.Fatalf("n=%d [%d]: w %v m %v, float64 %v %v", n, i, w[i], m[i], wi, mi)
				}
			}
		}
	}
}

// TestResetLatentToSign: the latent weights of binary layers become -1 where
// negative and +1 elsewhere (zero, negative zero and NaN included: the sign
// the binary forward pass and the fused update's binary weights use), and a
// float layer's weights stay as they are.
func TestResetLatentToSign(t *testing.T) {
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.05})
	data := smallData(t)
	x, y := stepBatch(data, 0)
	modes := []binnet.Mode{binnet.Binary, binnet.Float, binnet.Float}
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.05); err != nil { // creates the variables
		t.Fatal(err)
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -0.25, 0.25, float32(math.Inf(-1))}
	want := []float32{1, 1, 1, -1, 1, -1}
	w1, w2 := e.Store.GetVariable("/model/dense1/weights"), e.Store.GetVariable("/model/dense2/weights")
	v1 := tensors.MustCopyFlatData[float32](w1.MustValue())
	copy(v1, special)
	w1.MustSetValue(tensors.FromFlatDataAndDimensions(v1, w1.Shape().Dimensions...))
	before2 := tensors.MustCopyFlatData[float32](w2.MustValue())
	if err := e.ResetLatentToSign(modes); err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](w1.MustValue())
	for i := range got {
		exp := sign1(v1[i])
		if i < len(want) {
			exp = want[i]
		}
		if got[i] != exp {
			t.Errorf("binary layer weight %d: %v became %v, want %v", i, v1[i], got[i], exp)
		}
	}
	if after2 := tensors.MustCopyFlatData[float32](w2.MustValue()); !slices.Equal(after2, before2) {
		t.Error("ResetLatentToSign changed the float layer's weights")
	}
}
