package quant

import (
	"math"
	"testing"

	"github.com/binnet/binnet/binnet/backend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// run evaluates op on x and returns op(x) and d/dx sum(coef * op(x)).
func run(t *testing.T, x, coef []float64, op func(x *Node) *Node) (y, grad []float64) {
	t.Helper()
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExec(b, func(x, c *Node) (*Node, *Node) {
		y := op(x)
		loss := ReduceAllSum(Mul(y, c))
		return y, Gradient(loss, x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, len(x)), tensors.FromFlatDataAndDimensions(coef, len(coef)))
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1])
}

func near(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

var (
	xs   = []float64{-2, -1, -0.5, -1e-8, 0, 1e-8, 0.25, 0.999, 1, 1.5}
	coef = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	sgn  = []float64{-1, -1, -1, -1, 1, 1, 1, 1, 1, 1}
)

func TestSignSTE(t *testing.T) {
	y, g := run(t, xs, coef, SignSTE)
	if !near(y, sgn, 0) {
		t.Errorf("SignSTE forward = %v, want %v (exactly, sign(0)=+1)", y, sgn)
	}
	if !near(g, coef, 0) {
		t.Errorf("SignSTE gradient = %v, want the identity %v", g, coef)
	}
}

func TestSignSTECancel(t *testing.T) {
	y, g := run(t, xs, coef, SignSTECancel)
	if !near(y, sgn, 0) {
		t.Errorf("forward = %v, want %v", y, sgn)
	}
	want := []float64{0, 2, 3, 4, 5, 6, 7, 8, 9, 0} // cancelled where |x| > 1
	if !near(g, want, 0) {
		t.Errorf("gradient = %v, want %v", g, want)
	}
}

func TestApproxSign(t *testing.T) {
	y, g := run(t, xs, coef, ApproxSign)
	if !near(y, sgn, 0) {
		t.Errorf("forward = %v, want %v", y, sgn)
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		if math.Abs(x) < 1 {
			want[i] = coef[i] * (2 - 2*math.Abs(x))
		}
	}
	if !near(g, want, 1e-12) {
		t.Errorf("gradient = %v, want %v", g, want)
	}
}

func TestStochastic(t *testing.T) {
	b, _ := backend.Shared()
	// Hard sigmoid probabilities against fixed noise: +1 exactly where u < clip((x+1)/2).
	x := []float64{-2, -0.5, 0, 0.5, 2, 0.5}
	u := []float64{0, 0.2, 0.49, 0.76, 0.999, 0.74}
	want := []float64{-1, 1, 1, -1, 1, 1}
	exec := MustNewExec(b, func(x, u *Node) (*Node, *Node) {
		y := Stochastic(x, u)
		return y, Gradient(ReduceAllSum(MulScalar(y, 3)), x)[0]
	})
	out := exec.MustExec(x, u)
	if got := tensors.MustCopyFlatData[float64](out[0]); !near(got, want, 0) {
		t.Errorf("Stochastic = %v, want %v", got, want)
	}
	if got := tensors.MustCopyFlatData[float64](out[1]); !near(got, []float64{3, 3, 3, 3, 3, 3}, 0) {
		t.Errorf("Stochastic gradient = %v, want identity", got)
	}
	// Frequencies: with many uniform samples the mean of the output is 2p-1.
	const n = 200000
	xsN := make([]float64, n)
	us := make([]float64, n)
	for i := range xsN {
		xsN[i] = 0.3 // p = 0.65
		us[i] = (float64(i) + 0.5) / n
	}
	mean := MustNewExec(b, func(x, u *Node) *Node { return ReduceAllMean(Stochastic(x, u)) }).MustExec(xsN, us)[0]
	if got := mean.Value().(float64); math.Abs(got-0.3) > 1e-3 {
		t.Errorf("mean of stochastic binarization at x=0.3 = %v, want 2*0.65-1 = 0.3", got)
	}
}

func TestScaledSign(t *testing.T) {
	b, _ := backend.Shared()
	// w has 2 input rows and 3 output channels (axis 1).
	w := [][]float64{{0.5, -2, 0}, {-1.5, 1, -0.25}}
	c := [][]float64{{1, 2, 3}, {4, 5, 6}}
	exec := MustNewExec(b, func(w, c *Node) (*Node, *Node) {
		y := ScaledSign(w, 1)
		return y, Gradient(ReduceAllSum(Mul(y, c)), w)[0]
	})
	out := exec.MustExec(w, c)
	alpha := []float64{1.0, 1.5, 0.125} // mean |w| per column
	s := [][]float64{{1, -1, 1}, {-1, 1, -1}}
	wantY := make([]float64, 0, 6)
	wantG := make([]float64, 0, 6)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			wantY = append(wantY, alpha[j]*s[i][j])
			// d/dw_ij [alpha_j * sum_k c_kj s_kj] = alpha_j*c_ij (STE) + s_ij/2 * sum_k c_kj s_kj
			sum := c[0][j]*s[0][j] + c[1][j]*s[1][j]
			wantG = append(wantG, alpha[j]*c[i][j]+s[i][j]/2*sum)
		}
	}
	if got := tensors.MustCopyFlatData[float64](out[0]); !near(got, wantY, 1e-12) {
		t.Errorf("ScaledSign = %v, want %v", got, wantY)
	}
	if got := tensors.MustCopyFlatData[float64](out[1]); !near(got, wantG, 1e-12) {
		t.Errorf("ScaledSign gradient = %v, want %v", got, wantG)
	}
}

// TestScaledSignScaleGradientFD checks the alpha part of ScaledSign's gradient
// against central finite differences: away from 0, sign(w) is locally constant,
// so the true derivative of alpha(w)*sign(w) is the alpha term alone.
func TestScaledSignScaleGradientFD(t *testing.T) {
	b, _ := backend.Shared()
	w := []float64{0.3, -0.7, 1.2, -0.1}
	c := []float64{1, -2, 0.5, 3}
	f := MustNewExec(b, func(w, c *Node) *Node {
		// Remove the STE part: use alpha * StopGradient-free sign (zero gradient).
		return ReduceAllSum(Mul(Mul(ChannelMeanAbs(w, 0), Sign(w)), c))
	})
	grad := MustNewExec(b, func(w, c *Node) *Node {
		return Gradient(ReduceAllSum(Mul(Mul(ChannelMeanAbs(w, 0), Sign(w)), c)), w)[0]
	})
	_ = grad
	// ChannelMeanAbs over axis 0 of a vector keeps each element: alpha = |w_i|.
	// So alpha*sign = w, derivative = c.
	got := tensors.MustCopyFlatData[float64](grad.MustExec(w, c)[0])
	const h = 1e-6
	for i := range w {
		wp := append([]float64(nil), w...)
		wm := append([]float64(nil), w...)
		wp[i] += h
		wm[i] -= h
		fd := (f.MustExec(wp, c)[0].Value().(float64) - f.MustExec(wm, c)[0].Value().(float64)) / (2 * h)
		if math.Abs(fd-got[i]) > 1e-6 {
			t.Errorf("d/dw[%d]: autodiff %v, finite difference %v", i, got[i], fd)
		}
	}
}

func TestParse(t *testing.T) {
	for _, q := range All() {
		p, err := Parse(q.Name())
		if err != nil || p.Name() != q.Name() {
			t.Errorf("Parse(%q) = %v, %v", q.Name(), p, err)
		}
	}
	if _, err := Parse("nope"); err == nil {
		t.Error("Parse(nope) did not fail")
	}
}
