package ops

import (
	"os"
	"runtime"
	"strconv"

	. "github.com/gomlx/gomlx/core/graph"
)

// SplitBatch splits the batch x along its first axis into the parts in
// which the backend wants a convolutional network's activations carried
// (see layers.Conv2DParts): on the pure-Go backend, twice as many parts as
// threads, of at least 8 examples each; elsewhere (XLA fuses the
// element-wise passes itself) x alone. The parts differ in size by at most
// one example.
//
// The pure-Go backend runs each element-wise operation, reduction, gather,
// scatter and concatenation on one thread; only its matrix products split
// their work. A batch carried as parts from layer to layer (the batch
// norms' statistics summed over the parts) turns each chain of those
// passes into independent chains, which its executors run at the same
// time: VGG-5's training step 11 % faster on 2 threads, the cnn's and
// ResNet-20's faster in every round (binnet speed, 4 alternating rounds;
// 4 parts a little faster than 2, 10 the same as 4).
// The environment variable BINNET_PARTS=N forces N parts (1: none), for
// comparisons.
func SplitBatch(x *Node) []*Node {
	b := x.Shape().Dimensions[0]
	p := 1
	if goBackend(x.Graph()) {
		p = min(2*runtime.GOMAXPROCS(0), b/8)
	}
	if v, err := strconv.Atoi(os.Getenv("BINNET_PARTS")); err == nil {
		p = min(v, b)
	}
	if p < 2 {
		return []*Node{x}
	}
	parts := make([]*Node, p)
	first := 0
	for i := range parts {
		size := b / p
		if i < b%p {
			size++
		}
		parts[i] = batchRows(x, first, size)
		first += size
	}
	return parts
}

// batchRows returns entries first to first+size-1 of x along its first
// axis (examples of a batch, rows of a matrix), copied by one gather of a
// contiguous block (see spans).
func batchRows(x *Node, first, size int) *Node {
	dims := append([]int{size}, x.Shape().Dimensions[1:]...)
	return Reshape(spans(x, 0, first, size, 1), dims...)
}

// JoinBatch concatenates parts of a batch along the first axis (the
// inverse of SplitBatch; a single part is returned as it is). On the
// pure-Go backend the gradient of each part is a gather of its rows of the
// joined gradient (batchRows) rather than GoMLX's Slice, which that
// backend copies value by value (VGG-5's four [25, 16, 16, 64] parts: 2.8
// ms a step).
func JoinBatch(parts []*Node) *Node {
	if len(parts) == 1 {
		return parts[0]
	}
	if !goBackend(parts[0].Graph()) {
		return Concatenate(parts, 0)
	}
	return withGradient(parts,
		func(in []*Node) *Node { return Concatenate(in, 0) },
		func(in []*Node, v *Node) []*Node {
			grads := make([]*Node, len(in))
			first := 0
			for i, p := range in {
				size := p.Shape().Dimensions[0]
				grads[i] = batchRows(v, first, size)
				first += size
			}
			return grads
		}, false)
}
