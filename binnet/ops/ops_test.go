package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func testBackend(t testing.TB) compute.Backend {
	b, err := backend.Shared()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomData(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

func prod(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}

// lossOf is sum(f(x,w) * r) for a fixed random r, so that every output
// element's gradient differs.
func lossOf(f func(x, w *Node) *Node, r *Node) func(x, w *Node) *Node {
	return func(x, w *Node) *Node { return ReduceAllSum(Mul(f(x, w), r)) }
}

type convCase struct {
	b, h, w, c, o, k, stride, pad int
}

func (cc convCase) String() string {
	return fmt.Sprintf("b%d_%dx%dx%d_o%d_k%d_s%d_p%d", cc.b, cc.h, cc.w, cc.c, cc.o, cc.k, cc.stride, cc.pad)
}

// tensors returns random inputs of the case: x [b,h,w,c], the kernel
// [k,k,c,o], a bias [o] and the weights r [b,ho,wo,o] of a loss sum(y*r).
func (cc convCase) tensors() (x, w, bias, r *tensors.Tensor) {
	ho, wo := ConvOutputSize(cc.h, cc.k, cc.stride, cc.pad), ConvOutputSize(cc.w, cc.k, cc.stride, cc.pad)
	return tensors.FromFlatDataAndDimensions(randomData(1, cc.b*cc.h*cc.w*cc.c), cc.b, cc.h, cc.w, cc.c),
		tensors.FromFlatDataAndDimensions(randomData(2, cc.k*cc.k*cc.c*cc.o), cc.k, cc.k, cc.c, cc.o),
		tensors.FromFlatDataAndDimensions(randomData(8, cc.o), cc.o),
		tensors.FromFlatDataAndDimensions(randomData(3, cc.b*ho*wo*cc.o), cc.b, ho, wo, cc.o)
}

func gomlxConv(stride, pad int) func(x, w *Node) *Node {
	return func(x, w *Node) *Node {
		return Convolve(x, w).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
}

func oursConv(stride, pad int) func(x, w *Node) *Node {
	return func(x, w *Node) *Node { return Conv2DIm2Col(x, w, stride, pad) }
}

// assertClose fails unless got[i] equals want[i] within 1e-4 relative (plus
// 1e-4 absolute) for every named output; ref names where want comes from.
func assertClose(t *testing.T, names []string, want, got [][]float32, ref string) {
	t.Helper()
	for i, name := range names {
		if len(want[i]) != len(got[i]) {
			t.Fatalf("%s: %d values, want %d", name, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if d := math.Abs(float64(want[i][j] - got[i][j])); d > 1e-4*(1+math.Abs(float64(want[i][j]))) {
				t.Fatalf("%s[%d] = %v, %s gives %v", name, j, got[i][j], ref, want[i][j])
			}
		}
	}
}

// TestConv2DMatchesGoMLX compares values and both gradients with GoMLX's own
// convolution (whose gradients pass finite-difference checks on this backend).
func TestConv2DMatchesGoMLX(t *testing.T) {
	be := testBackend(t)
	cases := []convCase{
		{2, 6, 6, 3, 4, 3, 1, 1},
		{2, 7, 5, 2, 3, 3, 2, 1},
		{1, 8, 8, 4, 5, 1, 2, 0},
		{2, 9, 9, 3, 2, 7, 2, 3},
		{3, 5, 5, 2, 3, 3, 1, 0},
		{2, 4, 4, 3, 2, 1, 1, 0},
	}
	for _, cc := range cases {
		t.Run(cc.String(), func(t *testing.T) {
			ho, wo := ConvOutputSize(cc.h, cc.k, cc.stride, cc.pad), ConvOutputSize(cc.w, cc.k, cc.stride, cc.pad)
			xt := tensors.FromFlatDataAndDimensions(randomData(1, cc.b*cc.h*cc.w*cc.c), cc.b, cc.h, cc.w, cc.c)
			wt := tensors.FromFlatDataAndDimensions(randomData(2, cc.k*cc.k*cc.c*cc.o), cc.k, cc.k, cc.c, cc.o)
			rt := tensors.FromFlatDataAndDimensions(randomData(3, cc.b*ho*wo*cc.o), cc.b, ho, wo, cc.o)
			run := func(f func(x, w *Node) *Node) [][]float32 {
				exec := MustNewExec(be, func(x, w, r *Node) []*Node {
					y := f(x, w)
					loss := ReduceAllSum(Mul(y, r))
					g := Gradient(loss, x, w)
					return []*Node{y, g[0], g[1]}
				})
				out := exec.MustExec(xt, wt, rt)
				var res [][]float32
				for _, o := range out {
					res = append(res, tensors.MustCopyFlatData[float32](o))
				}
				return res
			}
			want, got := run(gomlxConv(cc.stride, cc.pad)), run(oursConv(cc.stride, cc.pad))
			assertClose(t, []string{"output", "dx", "dw"}, want, got, "GoMLX's convolution")
		})
	}
}

// TestConv2DBiasMatchesGoMLX compares Conv2DBias's value and its gradients
// with respect to the input, the kernel and the bias with GoMLX's
// convolution plus a broadcast bias.
func TestConv2DBiasMatchesGoMLX(t *testing.T) {
	be := testBackend(t)
	for _, cc := range []convCase{{2, 6, 6, 3, 4, 3, 1, 1}, {2, 7, 5, 2, 3, 3, 2, 1}, {3, 5, 5, 2, 3, 3, 1, 0}} {
		t.Run(cc.String(), func(t *testing.T) {
			xt, wt, bt, rt := cc.tensors()
			run := func(f func(x, w, b *Node) *Node) [][]float32 {
				exec := MustNewExec(be, func(x, w, b, r *Node) []*Node {
					y := f(x, w, b)
					return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, r)), x, w, b)...)
				})
				var res [][]float32
				for _, o := range exec.MustExec(xt, wt, bt, rt) {
					res = append(res, tensors.MustCopyFlatData[float32](o))
				}
				return res
			}
			want := run(func(x, w, b *Node) *Node {
				y := gomlxConv(cc.stride, cc.pad)(x, w)
				return Add(y, ExpandLeftToRank(b, 4))
			})
			got := run(func(x, w, b *Node) *Node { return conv2DIm2Col(x, w, b, cc.stride, cc.pad) })
			assertClose(t, []string{"output", "dx", "dw", "dbias"}, want, got, "GoMLX's convolution plus bias")
		})
	}
}

// TestConv2DBiasRejectsWrongShape checks that a bias that does not match the
// kernel's output channels is refused, while the graph is built, with a
// message naming both shapes.
func TestConv2DBiasRejectsWrongShape(t *testing.T) {
	be := testBackend(t)
	for _, dims := range [][]int{{3}, {4, 1}} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			MustNewExec(be, func(x, w, b *Node) *Node { return Conv2DBias(x, w, b, 1, 1) }).
				MustExec(tensors.FromFlatDataAndDimensions(make([]float32, 2*5*5*2), 2, 5, 5, 2),
					tensors.FromFlatDataAndDimensions(make([]float32, 3*3*2*4), 3, 3, 2, 4),
					tensors.FromFlatDataAndDimensions(make([]float32, prod(dims)), dims...))
			return ""
		}()
		if !strings.Contains(msg, "ops.Conv2DBias: want a bias [out] for the kernel") {
			t.Errorf("bias %v: got %q, want the shape check's panic", dims, msg)
		}
	}
}

// TestConv2DFiniteDifferences checks the hand-written gradient against
// central differences of the loss in float64.
func TestConv2DFiniteDifferences(t *testing.T) {
	be := testBackend(t)
	for _, cc := range []convCase{{2, 5, 5, 2, 3, 3, 1, 1}, {1, 7, 6, 2, 2, 3, 2, 1}} {
		t.Run(cc.String(), func(t *testing.T) {
			ho, wo := ConvOutputSize(cc.h, cc.k, cc.stride, cc.pad), ConvOutputSize(cc.w, cc.k, cc.stride, cc.pad)
			to64 := func(v []float32) []float64 {
				out := make([]float64, len(v))
				for i, x := range v {
					out[i] = float64(x)
				}
				return out
			}
			xs := to64(randomData(4, cc.b*cc.h*cc.w*cc.c))
			ws := to64(randomData(5, cc.k*cc.k*cc.c*cc.o))
			rs := to64(randomData(6, cc.b*ho*wo*cc.o))
			rt := tensors.FromFlatDataAndDimensions(rs, cc.b, ho, wo, cc.o)
			lossExec := MustNewExec(be, func(x, w, r *Node) *Node { return ReduceAllSum(Mul(Conv2DIm2Col(x, w, cc.stride, cc.pad), r)) })
			gradExec := MustNewExec(be, func(x, w, r *Node) []*Node {
				return Gradient(ReduceAllSum(Mul(Conv2DIm2Col(x, w, cc.stride, cc.pad), r)), x, w)
			})
			loss := func(x, w []float64) float64 {
				out := lossExec.MustExec(tensors.FromFlatDataAndDimensions(x, cc.b, cc.h, cc.w, cc.c),
					tensors.FromFlatDataAndDimensions(w, cc.k, cc.k, cc.c, cc.o), rt)
				return out[0].Value().(float64)
			}
			grads := gradExec.MustExec(tensors.FromFlatDataAndDimensions(xs, cc.b, cc.h, cc.w, cc.c),
				tensors.FromFlatDataAndDimensions(ws, cc.k, cc.k, cc.c, cc.o), rt)
			dx, dw := tensors.MustCopyFlatData[float64](grads[0]), tensors.MustCopyFlatData[float64](grads[1])
			const eps = 1e-5
			check := func(name string, v []float64, g []float64, other []float64, isX bool) {
				for i := range v {
					old := v[i]
					v[i] = old + eps
					var up, down float64
					if isX {
						up = loss(v, other)
					} else {
						up = loss(other, v)
					}
					v[i] = old - eps
					if isX {
						down = loss(v, other)
					} else {
						down = loss(other, v)
					}
					v[i] = old
					fd := (up - down) / (2 * eps)
					if math.Abs(fd-g[i]) > 1e-6*(1+math.Abs(fd)) {
						t.Fatalf("%s[%d]: gradient %v, finite difference %v", name, i, g[i], fd)
					}
				}
			}
			check("dx", xs, dx, ws, true)
			check("dw", ws, dw, xs, false)
		})
	}
}

func TestMaxPool2D(t *testing.T) {
	be := testBackend(t)
	for _, c := range []struct{ k, s, p int }{{2, 2, 0}, {3, 2, 1}} {
		t.Run(fmt.Sprintf("k%d_s%d_p%d", c.k, c.s, c.p), func(t *testing.T) {
			b, h, w, ch := 2, 6, 6, 3
			xs := randomData(8, b*h*w*ch)
			exec := MustNewExec(be, func(x *Node) []*Node {
				y := MaxPool2D(x, c.k, c.s, c.p)
				r := Iota(x.Graph(), y.Shape(), 3)
				return []*Node{y, Gradient(ReduceAllSum(Mul(y, AddScalar(r, 1))), x)[0]}
			})
			out := exec.MustExec(tensors.FromFlatDataAndDimensions(xs, b, h, w, ch))
			y, dx := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			ho := ConvOutputSize(h, c.k, c.s, c.p)
			wantDx := make([]float32, len(xs))
			for n := 0; n < b; n++ {
				for i := 0; i < ho; i++ {
					for j := 0; j < ho; j++ {
						for cc := 0; cc < ch; cc++ {
							best, at := float32(math.Inf(-1)), -1
							for dy := 0; dy < c.k; dy++ {
								for dx := 0; dx < c.k; dx++ {
									yy, xx := i*c.s+dy-c.p, j*c.s+dx-c.p
									if yy < 0 || xx < 0 || yy >= h || xx >= w {
										continue
									}
									idx := ((n*h+yy)*w+xx)*ch + cc
									if xs[idx] > best {
										best, at = xs[idx], idx
									}
								}
							}
							if got := y[((n*ho+i)*ho+j)*ch+cc]; got != best {
								t.Fatalf("max at (%d,%d,%d,%d) = %v, want %v", n, i, j, cc, got, best)
							}
							wantDx[at] += float32(cc + 1)
						}
					}
				}
			}
			for i := range wantDx {
				if dx[i] != wantDx[i] {
					t.Fatalf("dx[%d] = %v, want %v", i, dx[i], wantDx[i])
				}
			}
		})
	}
}

// TestMaxPool2DTies: with tied maxima the gradient goes to the first
// maximal entry of each window in row-major order, as PyTorch's max pooling
// gives it (GoMLX's ReduceMax gives it to every tied entry), for 2x2 and
// 3x3 windows that tile the image; the maxima are those of the ReduceMax form.
func TestMaxPool2DTies(t *testing.T) {
	be := testBackend(t)
	for _, c := range []struct {
		k    int
		x    []float32 // one image, one channel, 2k x 2k
		want []float32 // its gradient for an output gradient of 1, 2, 3, 4
	}{
		{2, []float32{
			0, 0, 5, 1,
			0, 0, 1, 5, // windows: all tied; 5 at (0,0) and (1,1) of the second
			2, 7, 3, 3,
			7, 1, 3, 3, // 7 at (0,1) and (1,0): the first in row-major order is (0,1)
		}, []float32{
			1, 0, 2, 0,
			0, 0, 0, 0,
			0, 3, 4, 0,
			0, 0, 0, 0,
		}},
		{3, []float32{
			1, 1, 1, 0, 0, 0,
			1, 1, 1, 0, 0, 9,
			1, 1, 1, 9, 0, 0,
			2, 2, 2, 2, 2, 2,
			2, 2, 2, 2, 2, 2,
			2, 2, 2, 2, 2, 2,
		}, []float32{
			1, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 2,
			0, 0, 0, 0, 0, 0,
			3, 0, 0, 4, 0, 0,
			0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0,
		}},
	} {
		n := 2 * c.k
		exec := MustNewExec(be, func(x *Node) []*Node {
			y := MaxPool2D(x, c.k, c.k, 0)
			r := AddScalar(Iota(x.Graph(), y.Shape(), 1), 1) // 1, 2 in row 0; 3, 4 in row 1
			r = Add(MulScalar(r, 2), Iota(x.Graph(), y.Shape(), 2))
			r = AddScalar(r, -1)
			return []*Node{y, MaxPool2DReduce(x, c.k), Gradient(ReduceAllSum(Mul(y, r)), x)[0]}
		})
		out := exec.MustExec(tensors.FromFlatDataAndDimensions(c.x, 1, n, n, 1))
		y, ref, dx := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[float32](out[2])
		if fmt.Sprint(y) != fmt.Sprint(ref) {
			t.Errorf("k %d: maxima %v, ReduceMax gives %v", c.k, y, ref)
		}
		if fmt.Sprint(dx) != fmt.Sprint(c.want) {
			t.Errorf("k %d: gradient %v, want %v", c.k, dx, c.want)
		}
	}
}

// BenchmarkMaxPool2D times max pooling 2x2 of cnn's [100,28,28,64]
// activations, forward and gradient, in MaxPool2D's block formulation and in
// the ReduceMax one (MaxPool2DReduce).
func BenchmarkMaxPool2D(b *testing.B) {
	be := testBackend(b)
	x := tensors.FromFlatDataAndDimensions(randomData(3, 100*28*28*64), 100, 28, 28, 64)
	for _, c := range []struct {
		name string
		pool func(x *Node) *Node
	}{
		{"blocks", func(x *Node) *Node { return MaxPool2D(x, 2, 2, 0) }},
		{"reduce", func(x *Node) *Node { return MaxPool2DReduce(x, 2) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			exec := MustNewExec(be, func(x *Node) []*Node {
				// Pooled as in a network: the input is a fresh intermediate
				// that nothing else reads.
				y := c.pool(AddScalar(x, 0.5))
				return []*Node{Gradient(ReduceAllSum(Mul(y, y)), x)[0]}
			})
			exec.MustExec(x)[0].FinalizeAll()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exec.MustExec(x)[0].FinalizeAll()
			}
		})
	}
}

// TestBatchNormTraining compares BatchNormTraining's values, statistics and
// the gradients of x, gamma and beta with GoMLX's derivative of the same
// expression, in float64, for features on the last and on a middle axis.
func TestBatchNormTraining(t *testing.T) {
	be := testBackend(t)
	for _, axis := range []int{-1, 1} {
		t.Run(fmt.Sprintf("axis%d", axis), func(t *testing.T) {
			dims := []int{3, 4, 5, 6}
			f := dims[(axis+4)%4]
			x := tensors.FromFlatDataAndDimensions(float64s(randomData(11, 3*4*5*6)), dims...)
			gm := tensors.FromFlatDataAndDimensions(float64s(randomData(12, f)), f)
			bt := tensors.FromFlatDataAndDimensions(float64s(randomData(13, f)), f)
			r := tensors.FromFlatDataAndDimensions(float64s(randomData(14, 3*4*5*6)), dims...)
			build := func(ours bool) func(x, gm, bt, r *Node) []*Node {
				return func(x, gm, bt, r *Node) []*Node {
					var y, mean, variance *Node
					if ours {
						y, mean, variance = BatchNormTraining(x, gm, bt, axis, 1e-5)
					} else {
						a := (axis + 4) % 4
						var axes []int
						bd := []int{1, 1, 1, 1}
						bd[a] = f
						for i := range 4 {
							if i != a {
								axes = append(axes, i)
							}
						}
						mean = ReduceMean(x, axes...)
						c := Sub(x, Reshape(mean, bd...))
						variance = ReduceMean(Square(c), axes...)
						y = Add(Mul(Mul(c, Reshape(Reciprocal(Sqrt(AddScalar(variance, 1e-5))), bd...)), Reshape(gm, bd...)), Reshape(bt, bd...))
					}
					// A loss whose gradient reaches y unevenly.
					loss := ReduceAllSum(Mul(Mul(y, y), r))
					grads := Gradient(loss, x, gm, bt)
					return append([]*Node{y, mean, variance}, grads...)
				}
			}
			want := MustExecOnceN(be, build(false), x, gm, bt, r)
			got := MustExecOnceN(be, build(true), x, gm, bt, r)
			compareBatchNorm(t, want, got, "GoMLX's derivative")
		})
	}
}

// compareBatchNorm compares got with want, float64 batch norm outputs (y,
// mean, variance and the gradients of x, gamma and beta), to 1e-9
// relative; ref names what want was computed by.
func compareBatchNorm(t *testing.T, want, got []*tensors.Tensor, ref string) {
	t.Helper()
	for i, name := range []string{"y", "mean", "variance", "dx", "dgamma", "dbeta"} {
		w, g := tensors.MustCopyFlatData[float64](want[i]), tensors.MustCopyFlatData[float64](got[i])
		for j := range w {
			if math.Abs(w[j]-g[j]) > 1e-9*(1+math.Abs(w[j])) {
				t.Fatalf("%s[%d] = %v, %s gives %v", name, j, g[j], ref, w[j])
			}
		}
	}
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestConv2DChunkedMatchesGoMLX compares the chunked im2col formulation
// (columns gathered, multiplied and sent back a few images at a time) with
// GoMLX's convolution: values, and the gradients of the input, the kernel
// and the bias, with batches that split into uneven chunks, strides and
// paddings; and the evaluation form (Conv2DForward). The input reaches the
// convolution through an addition, as in a network, so that its gradient
// is the hand-written one (an input that is a graph parameter gets GoMLX's).
func TestConv2DChunkedMatchesGoMLX(t *testing.T) {
	be := testBackend(t)
	defer func(b int, threads func() int) { chunkBytes, groupThreads = b, threads }(chunkBytes, groupThreads)
	// Three threads: the 12x12 case's kernel gradient is then split into 3
	// groups of 96 rows for its chunks of two images and 2 groups of 72
	// for its last chunk of one (see TestRowGroups); the smaller cases'
	// chunks are single groups.
	groupThreads = func() int { return 3 }
	for _, cc := range []convCase{{5, 6, 6, 3, 4, 3, 1, 1}, {5, 7, 5, 2, 3, 3, 2, 1}, {4, 9, 9, 3, 2, 5, 2, 2}, {3, 5, 5, 2, 3, 3, 1, 0}, {5, 6, 6, 1, 12, 3, 1, 1}, {5, 12, 12, 3, 4, 3, 1, 1}} {
		t.Run(cc.String(), func(t *testing.T) {
			ho, wo := ConvOutputSize(cc.h, cc.k, cc.stride, cc.pad), ConvOutputSize(cc.w, cc.k, cc.stride, cc.pad)
			chunkBytes = 2 * ho * wo * cc.k * cc.k * cc.c * 4 // two images per chunk
			xt, wt, bt, rt := cc.tensors()
			run := func(f func(x, w, b *Node) *Node) [][]float32 {
				exec := MustNewExec(be, func(x, w, b, r *Node) []*Node {
					xs := AddScalar(x, 0.25)
					y := f(xs, w, b)
					return append([]*Node{y, Conv2DForward(xs, w, b, cc.stride, cc.pad)}, Gradient(ReduceAllSum(Mul(y, r)), x, w, b)...)
				})
				var res [][]float32
				for _, o := range exec.MustExec(xt, wt, bt, rt) {
					res = append(res, tensors.MustCopyFlatData[float32](o))
				}
				return res
			}
			var per int
			got := run(func(x, w, b *Node) *Node {
				per = newIm2colConv(x, w, cc.stride, cc.pad).chunkImages()
				return conv2DIm2Col(x, w, b, cc.stride, cc.pad)
			})
			if want := 2; cc.k*cc.k*cc.c <= cc.o || cc.pad == 0 {
				if per != 0 { // a first convolution, narrower than its output, or no padding: not chunked
					t.Fatalf("%d images per chunk, want none for %d columns, %d outputs, padding %d", per, cc.k*cc.k*cc.c, cc.o, cc.pad)
				}
			} else if per != want {
				t.Fatalf("%d images per chunk, want %d", per, want)
			}
			want := run(func(x, w, b *Node) *Node {
				return Add(gomlxConv(cc.stride, cc.pad)(x, w), ExpandLeftToRank(b, 4))
			})
			want[1] = want[0] // the evaluation form against the same convolution
			assertClose(t, []string{"output", "evaluation output", "dx", "dw", "dbias"}, want, got, "GoMLX's convolution plus bias")
		})
	}
}

func TestRowGroups(t *testing.T) {
	for _, c := range []struct{ rows, threads, want int }{
		{288, 3, 3}, {144, 3, 2}, {72, 3, 1}, {1024, 2, 2}, {1024, 1, 1}, {1024, 16, 8}, {1568, 2, 2}, {49, 4, 1}, {490, 4, 2},
	} {
		if got := rowGroups(c.rows, c.threads); got != c.want {
			t.Errorf("rowGroups(%d rows, %d threads) = %d, want %d", c.rows, c.threads, got, c.want)
		}
	}
}

// TestReLU: ReLU's values and gradient against hand-computed ones, on
// negative, zero and positive inputs (the derivative at 0 is 0, as GoMLX's),
// with x a fresh intermediate (as in a network) and the gradient weighted so
// that every position's value shows.
func TestReLU(t *testing.T) {
	be := testBackend(t)
	x := []float32{-2, -0.5, 0, 0.25, 3, -1e-7, 1e-7, 0}
	w := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	wantY := []float32{0, 0, 0, 0.25, 3, 0, 1e-7, 0}
	wantDx := []float32{0, 0, 0, 4, 5, 0, 7, 0}
	exec := MustNewExec(be, func(x, w *Node) []*Node {
		in := AddScalar(x, 0) // a fresh intermediate, moved into ReLU's identity
		y := ReLU(in)
		return []*Node{y, Gradient(ReduceAllSum(Mul(y, w)), x)[0]}
	})
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(x, 2, 4), tensors.FromFlatDataAndDimensions(w, 2, 4))
	y, dx := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	if fmt.Sprint(y) != fmt.Sprint(wantY) {
		t.Errorf("ReLU %v, want %v", y, wantY)
	}
	if fmt.Sprint(dx) != fmt.Sprint(wantDx) {
		t.Errorf("gradient %v, want %v", dx, wantDx)
	}
}

// TestBatchNormTrainingParts compares batch norm of a batch held as uneven
// parts (4, 3 and 2 of 9 images) with BatchNormTraining of the whole batch,
// in float64: each part's output, the batch's mean and variance, and the
// gradients of every part, gamma and beta, for a loss that reaches the
// parts unevenly. The parts come from SplitBatch (BINNET_PARTS=3), and
// JoinBatch puts them back in order.
func TestBatchNormTrainingParts(t *testing.T) {
	be := testBackend(t)
	t.Setenv("BINNET_PARTS", "3")
	dims := []int{9, 4, 5, 6}
	x := tensors.FromFlatDataAndDimensions(float64s(randomData(21, prod(dims))), dims...)
	gm := tensors.FromFlatDataAndDimensions(float64s(randomData(22, 6)), 6)
	bt := tensors.FromFlatDataAndDimensions(float64s(randomData(23, 6)), 6)
	r := tensors.FromFlatDataAndDimensions(float64s(randomData(24, prod(dims))), dims...)
	build := func(parts bool) func(x, gm, bt, r *Node) []*Node {
		return func(x, gm, bt, r *Node) []*Node {
			in := AddScalar(x, 0.5) // a fresh intermediate, as in a network
			var y, mean, variance *Node
			if parts {
				xs := SplitBatch(in)
				if len(xs) != 3 || xs[0].Shape().Dimensions[0] != 3 || xs[2].Shape().Dimensions[0] != 3 {
					t.Fatalf("SplitBatch of 9 images in 3: %d parts, shapes %s ... %s", len(xs), xs[0].Shape(), xs[len(xs)-1].Shape())
				}
				// Uneven parts: 4, 3 and 2 images, rejoined from the three.
				whole := JoinBatch(xs)
				xs = []*Node{Slice(whole, AxisRange(0, 4)), Slice(whole, AxisRange(4, 7)), Slice(whole, AxisRange(7, 9))}
				var ys []*Node
				ys, mean, variance = BatchNormTrainingParts(xs, gm, bt, -1, 1e-5)
				y = JoinBatch(ys)
			} else {
				y, mean, variance = BatchNormTraining(in, gm, bt, -1, 1e-5)
			}
			loss := ReduceAllSum(Mul(Mul(y, y), r))
			return append([]*Node{y, mean, variance}, Gradient(loss, x, gm, bt)...)
		}
	}
	want := MustExecOnceN(be, build(false), x, gm, bt, r)
	got := MustExecOnceN(be, build(true), x, gm, bt, r)
	compareBatchNorm(t, want, got, "whole")
}

// TestSplitBatch checks the parts SplitBatch makes: 2 per thread of at
// least 8 examples each on the pure-Go backend, sizes differing by at most
// one, in order (JoinBatch restores the batch), and BINNET_PARTS.
func TestSplitBatch(t *testing.T) {
	be := testBackend(t)
	threads := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		env   string
		batch int
		want  []int
	}{
		{"", 16 * threads, slices.Repeat([]int{8}, 2*threads)},
		{"", 7, []int{7}},
		{"", 8*threads + 1, append([]int{9}, slices.Repeat([]int{8}, threads-1)...)},
		{"1", 100, []int{100}},
		{"3", 10, []int{4, 3, 3}},
		{"20", 3, []int{1, 1, 1}},
	} {
		t.Setenv("BINNET_PARTS", c.env)
		data := make([]float32, c.batch*2)
		for i := range data {
			data[i] = float32(i)
		}
		var sizes []int
		out := MustExecOnce(be, func(x *Node) *Node {
			xs := SplitBatch(x)
			for _, p := range xs {
				sizes = append(sizes, p.Shape().Dimensions[0])
			}
			return JoinBatch(xs)
		}, tensors.FromFlatDataAndDimensions(data, c.batch, 2))
		if fmt.Sprint(sizes) != fmt.Sprint(c.want) {
			t.Errorf("BINNET_PARTS=%q, batch %d: parts %v, want %v", c.env, c.batch, sizes, c.want)
		}
		if got := tensors.MustCopyFlatData[float32](out); fmt.Sprint(got) != fmt.Sprint(data) {
			t.Errorf("BINNET_PARTS=%q, batch %d: joined %v, want %v", c.env, c.batch, got, data)
		}
	}
}
