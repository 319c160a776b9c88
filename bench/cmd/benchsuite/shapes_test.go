package main

// BenchmarkConvShapes times the single operations that a binary VGG-5
// training step (batch 100, 32x32x3) is made of on GoMLX's pure-Go backend,
// at the step's shapes: the matrix products of the second convolution
// (forward, input gradient, weight gradient), the first convolution's
// product (K = 27), the first dense layer, the im2col gather and the
// transpose of the weight gradient's operand, plus a square sgemm for
// reference. It reports GFLOP/s (or GB/s written) of wall time and per
// CPU-second of the process (less sensitive to other load), and the kernel's
// share of that CPU time (%sys: page faults of freshly mapped buffers). Run
// it alone:
//
//	go test -run '^$' -bench ConvShapes -benchtime 5x ./bench/cmd/benchsuite

import (
	"math/rand/v2"
	"testing"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/ops"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(x, dims...)
}

func BenchmarkConvShapes(b *testing.B) {
	be, err := backend.Shared()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100 * 32 * 32 // output positions of a 32x32 convolution at batch 100
	type binop = func(x, y *Node) *Node
	matmul := func(x, y *Node) *Node { return MatMul(x, y) }
	cases := []struct {
		name   string
		flops  float64 // 0: report GB/s of the output instead
		outB   float64
		fn     binop
		dx, dy []int
	}{
		{"vgg5-conv2-fwd-[102400x576]x[576x64]", 2 * n * 576 * 64, 0, matmul, []int{n, 576}, []int{576, 64}},
		{"vgg5-conv2-fwd-transposed-rhs-[102400x576]x[64x576]T", 2 * n * 576 * 64, 0,
			func(c, wt *Node) *Node { return DotGeneral(c, []int{1}, nil, wt, []int{1}, nil) }, []int{n, 576}, []int{64, 576}},
		{"vgg5-conv2-dx-[102400x64]x[576x64]T", 2 * n * 576 * 64, 0,
			func(v, w *Node) *Node { return DotGeneral(v, []int{1}, nil, w, []int{1}, nil) }, []int{n, 64}, []int{576, 64}},
		{"vgg5-conv2-dw-T([102400x64])x[102400x576]", 2 * n * 576 * 64, 0,
			func(v, c *Node) *Node { return DotGeneral(Transpose(v, 0, 1), []int{1}, nil, c, []int{0}, nil) }, []int{n, 64}, []int{n, 576}},
		{"vgg5-conv2-dw-contract-axis0", 2 * n * 576 * 64, 0,
			func(v, c *Node) *Node { return DotGeneral(v, []int{0}, nil, c, []int{0}, nil) }, []int{n, 64}, []int{n, 576}},
		{"vgg5-conv1-fwd-[102400x27]x[27x64]", 2 * n * 27 * 64, 0, matmul, []int{n, 27}, []int{27, 64}},
		{"vgg5-dense1-fwd-[100x16384]x[16384x256]", 2 * 100 * 16384 * 256, 0, matmul, []int{100, 16384}, []int{16384, 256}},
		{"square-2048", 2 * 2048 * 2048 * 2048, 0, matmul, []int{2048, 2048}, []int{2048, 2048}},
		{"vgg5-conv2-im2col-gather", 0, 4 * n * 576,
			func(x, _ *Node) *Node { return ops.Im2Col(x, 3, 3, 1, 1) }, []int{100, 32, 32, 64}, []int{1}},
		{"vgg5-conv1-im2col-gather", 0, 4 * n * 27,
			func(x, _ *Node) *Node { return ops.Im2Col(x, 3, 3, 1, 1) }, []int{100, 32, 32, 3}, []int{1}},
		{"transpose-[102400x64]", 0, 4 * n * 64, func(v, _ *Node) *Node { return Transpose(v, 0, 1) }, []int{n, 64}, []int{1}},
		{"add-[102400x64]", 0, 4 * n * 64, func(x, y *Node) *Node { return Add(x, y) }, []int{n, 64}, []int{n, 64}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e, err := NewExec(be, c.fn)
			if err != nil {
				b.Fatal(err)
			}
			x, y := randTensor(rng, c.dx...), randTensor(rng, c.dy...)
			for range 2 { // compile, then one warm call
				out, err := e.Exec(x, y)
				if err != nil {
					b.Fatal(err)
				}
				out[0].FinalizeAll()
			}
			u0, s0 := cpuSeconds()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := e.Exec(x, y)
				if err != nil {
					b.Fatal(err)
				}
				out[0].FinalizeAll()
			}
			b.StopTimer()
			u1, s1 := cpuSeconds()
			wall, cpu := b.Elapsed().Seconds(), (u1-u0)+(s1-s0)
			b.ReportMetric(100*(s1-s0)/cpu, "%sys")
			if c.flops > 0 {
				b.ReportMetric(c.flops*float64(b.N)/wall/1e9, "GFLOP/s")
				b.ReportMetric(c.flops*float64(b.N)/cpu/1e9, "GFLOP/cpu-s")
			} else {
				b.ReportMetric(c.outB*float64(b.N)/wall/1e9, "GB/s")
				b.ReportMetric(c.outB*float64(b.N)/cpu/1e9, "GB/cpu-s")
			}
		})
	}
}
