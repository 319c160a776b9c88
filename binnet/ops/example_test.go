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
