package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func testBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randFloats(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// TestBatchNormGradientFiniteDifferences checks the training-mode batch norm
// gradient (with respect to its input and to gamma) against central finite
// differences, in float64. GoMLX's pure-Go batch norm fails this test because it
// stops the gradient through the batch statistics.
func TestBatchNormGradientFiniteDifferences(t *testing.T) {
	b := testBackend(t)
	const batch, feat = 5, 3
	r := rand.New(rand.NewPCG(1, 2))
	x := randFloats(r, batch*feat)
	coef := randFloats(r, batch*feat) // loss = sum(coef * BN(x)) is not invariant to the normalization
	for i := range coef {
		coef[i] = coef[i] * float64(1+i%4)
	}
	gammaVal := []float64{0.5, 2, -1.5}
	build := func(store *model.Store) *model.Exec {
		return model.MustNewExec(b, store, func(scope *model.Scope, x, c, gamma *Node) (*Node, *Node, *Node) {
			ctl := NewControl(true)
			y := BatchNorm(scope.In("bn"), ctl, x).Done()
			// Use gamma as a graph input (instead of the variable) to differentiate against it.
			y = Mul(y, ExpandLeftToRank(gamma, 2))
			loss := ReduceAllSum(Mul(y, c))
			grads := Gradient(loss, x, gamma)
			return loss, grads[0], grads[1]
		})
	}
	store := model.NewStore()
	exec := build(store)
	xt := func(v []float64) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, batch, feat) }
	ct := xt(coef)
	out := exec.MustExec(xt(x), ct, gammaVal)
	gx := tensors.MustCopyFlatData[float64](out[1])
	gg := tensors.MustCopyFlatData[float64](out[2])
	loss := func(xv, gv []float64) float64 {
		return exec.MustExec(xt(xv), ct, gv)[0].Value().(float64)
	}
	const h = 1e-6
	for i := range x {
		xp := append([]float64(nil), x...)
		xm := append([]float64(nil), x...)
		xp[i] += h
		xm[i] -= h
		fd := (loss(xp, gammaVal) - loss(xm, gammaVal)) / (2 * h)
		if math.Abs(fd-gx[i]) > 1e-5*math.Max(1, math.Abs(fd)) {
			t.Errorf("dL/dx[%d]: autodiff %.8f, finite differences %.8f", i, gx[i], fd)
		}
	}
	for i := range gammaVal {
		gp := append([]float64(nil), gammaVal...)
		gm := append([]float64(nil), gammaVal...)
		gp[i] += h
		gm[i] -= h
		fd := (loss(x, gp) - loss(x, gm)) / (2 * h)
		if math.Abs(fd-gg[i]) > 1e-5*math.Max(1, math.Abs(fd)) {
			t.Errorf("dL/dgamma[%d]: autodiff %.8f, finite differences %.8f", i, gg[i], fd)
		}
	}
	// The gradient with respect to x of a batch norm sums to 0 over the batch, per feature.
	for f := 0; f < feat; f++ {
		s := 0.0
		for i := 0; i < batch; i++ {
			s += gx[i*feat+f]
		}
		if math.Abs(s) > 1e-9 {
			t.Errorf("feature %d: sum of dL/dx over the batch = %g, want 0", f, s)
		}
	}
}

// TestBatchNormRunningAverages checks PyTorch's running-average rule
// (momentum 0.1, unbiased variance) and that evaluation uses the running values.
func TestBatchNormRunningAverages(t *testing.T) {
	b := testBackend(t)
	store := model.NewStore()
	train := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return BatchNorm(scope.In("bn"), NewControl(true), x).Done()
	})
	eval := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		LiveVariables(scope, x.Graph())
		return BatchNorm(scope.In("bn"), NewControl(false), x).Done()
	})
	x := [][]float32{{1, 10}, {2, 20}, {3, 30}, {6, 60}} // mean 3, 30; biased var 3.5, 350; unbiased 14/3, 1400/3
	y := train.MustExec(x)[0].Value().([][]float32)
	if d := float64(y[0][0]) - (1-3)/math.Sqrt(3.5+1e-5); math.Abs(d) > 1e-5 {
		t.Errorf("training output[0][0] = %v, want %v", y[0][0], (1-3)/math.Sqrt(3.5+1e-5))
	}
	mean := store.GetVariable("/bn/running_mean").MustValue().Value().([]float32)
	variance := store.GetVariable("/bn/running_var").MustValue().Value().([]float32)
	wantMean := []float64{0.3, 3}
	wantVar := []float64{0.9 + 0.1*14.0/3, 0.9 + 0.1*1400.0/3}
	for i := range 2 {
		if math.Abs(float64(mean[i])-wantMean[i]) > 1e-5 || math.Abs(float64(variance[i])-wantVar[i]) > 1e-4 {
			t.Errorf("running stats[%d] = (%v, %v), want (%v, %v)", i, mean[i], variance[i], wantMean[i], wantVar[i])
		}
	}
	e := eval.MustExec([][]float32{{0.3, 3}})[0].Value().([][]float32)
	if math.Abs(float64(e[0][0])) > 1e-6 || math.Abs(float64(e[0][1])) > 1e-6 {
		t.Errorf("eval of the running mean = %v, want 0s", e)
	}
	// A second training step moves the running averages again; a fresh evaluation sees it.
	train.MustExec(x)
	e2 := eval.MustExec([][]float32{{0.3, 3}})[0].Value().([][]float32)
	if e2[0][0] == e[0][0] {
		t.Errorf("evaluation did not see the updated running averages: %v", e2)
	}
}

// TestDenseBinaryGateSwitch checks that a gate switch really changes the
// computation: with the gate on, the effective weights are exactly sign(w) in
// {-1,+1}; with it off they are the latent weights; the latent weights are
// untouched either way.
func TestDenseBinaryGateSwitch(t *testing.T) {
	b := testBackend(t)
	store := model.NewStore()
	exec := model.MustNewExec(b, store, func(scope *model.Scope, x, gates *Node) *Node {
		ctl := NewControl(false).WithGates(gates)
		return Dense(scope.In("dense"), ctl, x, 3).Bias(false).Done()
	})
	eye := [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	floatOut := exec.MustExec(eye, []float32{0})[0].Value().([][]float32)
	latent := store.GetVariable("/dense/weights").MustValue().Value().([][]float32)
	binOut := exec.MustExec(eye, []float32{1})[0].Value().([][]float32)
	latentAfter := store.GetVariable("/dense/weights").MustValue().Value().([][]float32)
	for i := range latent {
		for j := range latent[i] {
			if floatOut[i][j] != latent[i][j] {
				t.Errorf("float gate: effective w[%d][%d] = %v, want latent %v", i, j, floatOut[i][j], latent[i][j])
			}
			want := float32(1)
			if latent[i][j] < 0 {
				want = -1
			}
			if binOut[i][j] != want {
				t.Errorf("binary gate: effective w[%d][%d] = %v, want exactly %v", i, j, binOut[i][j], want)
			}
			if latentAfter[i][j] != latent[i][j] {
				t.Errorf("latent w[%d][%d] changed from %v to %v", i, j, latent[i][j], latentAfter[i][j])
			}
		}
	}
}

func TestDenseStaticModesAndInfo(t *testing.T) {
	b := testBackend(t)
	store := model.NewStore()
	var infos []Info
	exec := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		ctl := NewControl(false).WithModes(binnet.Float, binnet.Frozen)
		h := Dense(scope.In("d1"), ctl, x, 4).Done()
		y := Dense(scope.In("d2"), ctl, h, 2).Bias(false).Done()
		infos = ctl.Layers()
		return y
	})
	exec.MustExec([][]float32{{1, 2, 3}})
	if len(infos) != 2 || infos[0].Params() != 12 || infos[1].Params() != 8 || infos[1].Index != 1 || infos[1].Kind != KindDense {
		t.Fatalf("layer infos = %+v", infos)
	}
	if infos[0].MACs() != 12 || infos[1].Scope != "/d2" {
		t.Errorf("MACs %d scope %q", infos[0].MACs(), infos[1].Scope)
	}
	// Initialization follows PyTorch: |w| <= 1/sqrt(fan_in).
	w := store.GetVariable("/d1/weights").MustValue().Value().([][]float32)
	for _, row := range w {
		for _, v := range row {
			if math.Abs(float64(v)) > 1/math.Sqrt(3) {
				t.Errorf("initial weight %v outside ±1/sqrt(3)", v)
			}
		}
	}
}

// TestConv2DGradientFiniteDifferences checks a binarizable Conv2D in float mode
// against finite differences, and in binary mode the straight-through gradient:
// the gradient for the latent weights equals the float gradient evaluated at
// sign(w).
func TestConv2DGradientFiniteDifferences(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewPCG(3, 4))
	x := randFloats(r, 2*5*5*2)
	store := model.NewStore()
	var wVar *model.Variable
	exec := model.MustNewExec(b, store, func(scope *model.Scope, x, gates *Node) (*Node, *Node) {
		ctl := NewControl(false).WithGates(gates)
		y := Conv2D(scope.In("conv"), ctl, x, 3).Stride(2).Bias(false).Done()
		wVar = ctl.Layers()[0].Weights
		loss := ReduceAllSum(Mul(y, y))
		return loss, Gradient(loss, wVar.ValueGraph(x.Graph()))[0]
	})
	xt := tensors.FromFlatDataAndDimensions(x, 2, 5, 5, 2)
	out := exec.MustExec(xt, []float64{0})
	grad := tensors.MustCopyFlatData[float64](out[1])
	w0 := tensors.MustCopyFlatData[float64](wVar.MustValue())
	lossAt := func(w []float64, gate float64) float64 {
		wVar.MustSetValue(tensors.FromFlatDataAndDimensions(append([]float64(nil), w...), 3, 3, 2, 3))
		return exec.MustExec(xt, []float64{gate})[0].Value().(float64)
	}
	const h = 1e-6
	for i := 0; i < len(w0); i += 5 {
		wp := append([]float64(nil), w0...)
		wm := append([]float64(nil), w0...)
		wp[i] += h
		wm[i] -= h
		fd := (lossAt(wp, 0) - lossAt(wm, 0)) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-5*math.Max(1, math.Abs(fd)) {
			t.Errorf("float conv dL/dw[%d]: autodiff %v, finite differences %v", i, grad[i], fd)
		}
	}
	// Binary: STE gradient at w == float gradient at sign(w).
	signs := make([]float64, len(w0))
	for i, v := range w0 {
		signs[i] = 1
		if v < 0 {
			signs[i] = -1
		}
	}
	wVar.MustSetValue(tensors.FromFlatDataAndDimensions(append([]float64(nil), w0...), 3, 3, 2, 3))
	gBin := tensors.MustCopyFlatData[float64](exec.MustExec(xt, []float64{1})[1])
	wVar.MustSetValue(tensors.FromFlatDataAndDimensions(signs, 3, 3, 2, 3))
	gAtSign := tensors.MustCopyFlatData[float64](exec.MustExec(xt, []float64{0})[1])
	for i := range gBin {
		if math.Abs(gBin[i]-gAtSign[i]) > 1e-9 {
			t.Fatalf("binary conv STE gradient[%d] = %v, want float gradient at sign(w) %v", i, gBin[i], gAtSign[i])
		}
	}
}
