package ops_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/ops"
	. "github.com/gomlx/gomlx/core/graph"
)

// A 2x2 kernel of ones over a 3x3 image with one channel, stride 1, no
// padding: each output is the sum of a 2x2 window. On the pure-Go backend it
// runs as im2col plus one matrix product; the 2x2 max pooling of the same
// image, stride 1, takes each window's maximum.
func ExampleConv2D() {
	b, err := backend.Shared()
	if err != nil {
		panic(err)
	}
	exec := MustNewExec(b, func(x, w *Node) (*Node, *Node) {
		return ops.Conv2D(x, w, 1, 0), ops.MaxPool2D(x, 2, 1, 0)
	})
	image := [][][][]float32{{{{1}, {2}, {3}}, {{4}, {5}, {6}}, {{7}, {8}, {9}}}} // [1, 3, 3, 1]
	kernel := [][][][]float32{{{{1}}, {{1}}}, {{{1}}, {{1}}}}                     // [2, 2, 1, 1]
	out := exec.MustExec(image, kernel)
	fmt.Println("conv:", out[0].Value())
	fmt.Println("max pool:", out[1].Value())
	// Output:
	// conv: [[[[12] [16]] [[24] [28]]]]
	// max pool: [[[[5] [6]] [[8] [9]]]]
}

// A 3x3 convolution at stride 1 with padding 1 of 16 input channels takes
// Winograd's F(4x4, 3x3) on the pure-Go backend (im2col elsewhere, and for
// fewer channels). Here only channel 0 of the 4x4 image is non-zero: output
// 0 copies it (the kernel's centre tap) and output 1 sums its 3x3
// neighbourhoods (zeros beyond the border). Winograd's transforms round
// differently from a direct sum (about 1e-5 of the outputs' scale), so the
// values are printed rounded.
func ExampleConv2D_winograd() {
	b, err := backend.Shared()
	if err != nil {
		panic(err)
	}
	image := make([]float32, 4*4*16) // [1, 4, 4, 16]
	for p := range 16 {
		image[p*16] = float32(p + 1)
	}
	kernel := make([]float32, 3*3*16*2) // [3, 3, 16, 2]
	for tap := range 9 {
		kernel[tap*16*2+1] = 1 // every tap of channel 0 into output 1
	}
	kernel[4*16*2] = 1 // the centre tap of channel 0 into output 0
	exec := MustNewExec(b, func(x, w *Node) *Node {
		return ops.Conv2D(Reshape(x, 1, 4, 4, 16), Reshape(w, 3, 3, 16, 2), 1, 1)
	})
	y := exec.MustExec(image, kernel)[0].Value().([][][][]float32)[0]
	for out := range 2 {
		for _, row := range y {
			for _, v := range row {
				fmt.Printf("%4.0f", v[out])
			}
			fmt.Println()
		}
		fmt.Println()
	}
	// Output:
	//    1   2   3   4
	//    5   6   7   8
	//    9  10  11  12
	//   13  14  15  16
	//
	//   14  24  30  22
	//   33  54  63  45
	//   57  90  99  69
	//   46  72  78  54
}

// Batch norm of four values of one feature, with scale 2 and offset 1: the
// batch mean is 2.5 and the variance 1.25, so the normalized values are
// ±1.342 and ±0.447 (epsilon 0 here), then doubled and shifted by 1. The
// gradient of the sum of the outputs is zero for every input: the
// normalization removes any shift.
func ExampleBatchNormTraining() {
	b, err := backend.Shared()
	if err != nil {
		panic(err)
	}
	exec := MustNewExec(b, func(x *Node) []*Node {
		g := x.Graph()
		gamma, beta := Const(g, []float32{2}), Const(g, []float32{1})
		y, mean, variance := ops.BatchNormTraining(x, gamma, beta, -1, 0)
		return []*Node{y, mean, variance, Gradient(ReduceAllSum(y), x)[0]}
	})
	out := exec.MustExec([][]float32{{1}, {2}, {3}, {4}})
	fmt.Printf("y: %.3f\nmean %v, variance %v\ngradient: %.3f\n",
		out[0].Value(), out[1].Value(), out[2].Value(), out[3].Value())
	// Output:
	// y: [[-1.683] [0.106] [1.894] [3.683]]
	// mean [2.5], variance [1.25]
	// gradient: [[0.000] [0.000] [0.000] [0.000]]
}

// The same four values held as two parts of a batch (in a network
// SplitBatch makes the parts; here they are given): batch norm over
// the parts uses the statistics of the whole batch, so each part comes out
// as the same rows of the whole batch's output above, and JoinBatch puts
// the batch back together.
func ExampleBatchNormTrainingParts() {
	b, err := backend.Shared()
	if err != nil {
		panic(err)
	}
	exec := MustNewExec(b, func(x1, x2 *Node) []*Node {
		g := x1.Graph()
		gamma, beta := Const(g, []float32{2}), Const(g, []float32{1})
		ys, mean, variance := ops.BatchNormTrainingParts([]*Node{x1, x2}, gamma, beta, -1, 0)
		return []*Node{ys[0], ys[1], mean, variance, ops.JoinBatch(ys)}
	})
	out := exec.MustExec([][]float32{{1}, {2}, {3}}, [][]float32{{4}})
	fmt.Printf("parts: %.3f and %.3f\nmean %v, variance %v\njoined: %.3f\n",
		out[0].Value(), out[1].Value(), out[2].Value(), out[3].Value(), out[4].Value())
	// Output:
	// parts: [[-1.683] [0.106] [1.894]] and [[3.683]]
	// mean [2.5], variance [1.25]
	// joined: [[-1.683] [0.106] [1.894] [3.683]]
}
