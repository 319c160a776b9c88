package ops

import (
	"fmt"
	"os"
	"runtime"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// ConvOutputSize is the output length of a convolution or pooling window of
// size k with the given stride and symmetric padding over an input of length n.
func ConvOutputSize(n, k, stride, pad int) int { return (n+2*pad-k)/stride + 1 }

// Conv2D convolves x, shaped [batch, height, width, in], with the kernel w,
// shaped [kh, kw, in, out], with the same stride on both spatial axes and
// pad zeros on each side (pad = (k-1)/2 keeps the size at stride 1). It
// returns [batch, outHeight, outWidth, out].
//
// The convolution is computed as im2col followed by a matrix product
// [batch*outHeight*outWidth, kh*kw*in] x [kh*kw*in, out]. The columns are
// gathered a window at a time (see [Im2Col]); when they are wider than the
// output and would exceed a few megabytes, they are gathered, multiplied
// and sent back a few images at a time, each chunk while it is in the
// processor's cache (BINNET_CONV_CHUNKS=off turns this off). The product's
// gradients are written by hand: the kernel's, colᵀ·dY with one transpose
// of the smaller of dY and the column matrix (dY for most layers, the
// columns for a first convolution with few taps x inputs; GoMLX's own
// gradient would transpose both and the result), and the
// columns', dY·wᵀ, without the identity-permutation transpose (a full copy
// of the column matrix on the pure-Go backend) that GoMLX's rule adds; the
// columns' gradient then reaches the input through GoMLX's own scatter-add
// of the windows back into the input. On the pure-Go backend this is 20 to
// 50 times faster than GoMLX's generic convolution.
//
// A 3x3 convolution at stride 1 that keeps the size (padding 1), of at
// least 16 input channels, whose output the 4x4 tiles cover with at most
// 1.5x its outputs (see useWinograd; all but the first and the strided
// convolutions of VGG-5/9, the cnn and the ResNets on their images), is
// computed instead with Winograd's F(4x4, 3x3), which needs a quarter of
// the multiplications (see winogradConv.winograd).
//
// On other backends (XLA on GPUs or CPUs), whose native convolution is fast,
// Conv2D uses GoMLX's Convolve. The environment variable BINNET_CONV=im2col
// (im2col only, no Winograd, on any backend) or BINNET_CONV=native (GoMLX's
// Convolve) forces one formulation (for benchmarks and tests).
func Conv2D(x, w *Node, stride, pad int) *Node { return Conv2DBias(x, w, nil, stride, pad) }

// Conv2DBias is Conv2D plus bias, shaped [out], added to every output
// position (nil: none). In the im2col formulation the bias is added to the
// product's [positions, out] matrix before it is shaped as an image, so
// that the gradient arriving at the image reaches the bias's sum and both
// of the product's gradients as that one matrix (added to the image, the
// gradient would be read by the bias's sum and by the product's reshape,
// and the backend would copy it for the reshape).
func Conv2DBias(x, w, bias *Node, stride, pad int) *Node {
	checkBias(w, bias)
	if !useIm2Col(x.Graph()) {
		return convolve(x, w, bias, stride, pad)
	}
	if c := newIm2colConv(x, w, stride, pad); useWinograd(c) {
		return newWinogradConv(c).winograd(w, bias)
	}
	return conv2DIm2Col(x, w, bias, stride, pad)
}

// Conv2DForward is Conv2DBias without a hand-written gradient, for
// evaluation graphs: on the pure-Go backend the im2col gather and one
// product, or the Winograd transforms and products where Conv2DBias uses
// them, with no identity to carry a gradient; elsewhere GoMLX's Convolve.
// bias may be nil.
func Conv2DForward(x, w, bias *Node, stride, pad int) *Node {
	checkBias(w, bias)
	if !useIm2Col(x.Graph()) {
		return convolve(x, w, bias, stride, pad)
	}
	c := newIm2colConv(x, w, stride, pad)
	if useWinograd(c) {
		return c.image(newWinogradConv(c).forward(x, w), bias)
	}
	w2 := Reshape(w, c.k, c.out)
	if per := c.chunkImages(); per > 0 {
		_, y := c.chunkProducts(c.padded(x), w2, c.chunks(per))
		return c.image(y, bias)
	}
	return c.image(MatMul(c.columns(), w2), bias)
}

// checkBias panics unless bias is nil or shaped [out] for the kernel w.
func checkBias(w, bias *Node) {
	if bias != nil && (bias.Rank() != 1 || w.Rank() != 4 || bias.Shape().Dimensions[0] != w.Shape().Dimensions[3]) {
		panic(fmt.Sprintf("ops.Conv2DBias: want a bias [out] for the kernel %s, got %s", w.Shape(), bias.Shape()))
	}
}

// convolve is GoMLX's Convolve plus bias (nil: none), for backends whose
// native convolution is fast.
func convolve(x, w, bias *Node, stride, pad int) *Node {
	y := Convolve(x, w).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	if bias != nil {
		y = Add(y, ExpandLeftToRank(bias, y.Rank()))
	}
	return y
}

// useIm2Col reports whether g's backend wants the im2col formulation.
func useIm2Col(g *Graph) bool {
	switch os.Getenv("BINNET_CONV") {
	case "im2col":
		return true
	case "native":
		return false
	}
	return goBackend(g)
}

// Conv2DIm2Col is Conv2D's im2col formulation, on any backend.
func Conv2DIm2Col(x, w *Node, stride, pad int) *Node { return conv2DIm2Col(x, w, nil, stride, pad) }

// conv2DIm2Col is Conv2DBias's im2col formulation.
func conv2DIm2Col(x, w, bias *Node, stride, pad int) *Node {
	c := newIm2colConv(x, w, stride, pad)
	if per := c.chunkImages(); per > 0 {
		return c.chunked(w, bias, per)
	}
	col := c.columns()
	// The kernel as a matrix, built by the forward product and read by the
	// columns' gradient: the backend copies a reshaped buffer that is still
	// read elsewhere, so it is reshaped only once. The product's output,
	// and so the gradient v that arrives at it, is the matrix [n, out].
	var w2 *Node
	forward := func(tcol, tw *Node) *Node {
		w2 = Reshape(tw, c.k, c.out)
		return MatMul(tcol, w2)
	}
	gradCol := func(_, _, v *Node) *Node {
		// dY·wᵀ, [n,out]·[out,k], with the kernel matrix transposed first
		// (as a transposed right operand the backend would pack it with its
		// generic, not vectorized, code).
		return MatMul(v, Transpose(w2, 0, 1))
	}
	gradW := func(tcol, _, v *Node) *Node {
		// colᵀ·dY, transposing whichever of col and dY is smaller (dY for
		// most layers, col when the kernel has fewer taps x inputs than
		// outputs, as a first convolution does).
		return Reshape(weightGrad(tcol, v), c.kh, c.kw, c.in, c.out)
	}
	y, _ := withProductGradient(col, w, forward, gradCol, gradW, false)
	return c.image(y, bias)
}

// im2colConv is the geometry of an im2col convolution of x by a kernel.
type im2colConv struct {
	x                                       *Node
	b, ho, wo, kh, kw, in, out, stride, pad int
	n, k                                    int // rows and columns of the column matrix
}

func newIm2colConv(x, w *Node, stride, pad int) im2colConv {
	if x.Rank() != 4 || w.Rank() != 4 {
		panic(fmt.Sprintf("ops.Conv2D: want x [b,h,w,c] and w [kh,kw,c,o], got %s and %s", x.Shape(), w.Shape()))
	}
	kh, kw, in, out := w.Shape().Dimensions[0], w.Shape().Dimensions[1], w.Shape().Dimensions[2], w.Shape().Dimensions[3]
	if x.Shape().Dimensions[3] != in {
		panic(fmt.Sprintf("ops.Conv2D: x has %d channels, the kernel %s wants %d", x.Shape().Dimensions[3], w.Shape(), in))
	}
	b, h, wd := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2]
	ho, wo := ConvOutputSize(h, kh, stride, pad), ConvOutputSize(wd, kw, stride, pad)
	if ho <= 0 || wo <= 0 {
		panic(fmt.Sprintf("ops.Conv2D: kernel %dx%d stride %d pad %d does not fit input %s", kh, kw, stride, pad, x.Shape()))
	}
	return im2colConv{x: x, b: b, ho: ho, wo: wo, kh: kh, kw: kw, in: in, out: out, stride: stride, pad: pad,
		n: b * ho * wo, k: kh * kw * in}
}

// chunkBytes is the size of the column matrix of one chunk of images that
// the chunked formulation aims at (see im2colConv.chunked); a variable so
// that tests can chunk small images.
var chunkBytes = 2 << 20

// chunkImages returns the number of images per chunk of the chunked
// formulation, about chunkBytes of columns each, or 0 when the convolution
// has no padding (the chunked product's gradient is tied to the padded
// input, a fresh tensor; tied to the input itself, which the previous
// layer's gradient may also read, it would cost a copy of the input), the
// columns would be a single chunk, or they are narrower than the output (a
// first convolution of one or three channels: little to gain, and its
// kernel's gradient would transpose every chunk's columns).
func (c im2colConv) chunkImages() int {
	if os.Getenv("BINNET_CONV_CHUNKS") == "off" || c.pad == 0 || c.k <= c.out {
		return 0
	}
	per := max(1, chunkBytes/(c.ho*c.wo*c.k*c.x.DType().Size()))
	if per >= c.b {
		return 0
	}
	return per
}

// chunks splits the batch into ranges [first, end) of per images.
func (c im2colConv) chunks(per int) [][2]int {
	var r [][2]int
	for i := 0; i < c.b; i += per {
		r = append(r, [2]int{i, min(i+per, c.b)})
	}
	return r
}

// padded returns x with pad zeros on both sides of its spatial axes.
func (c im2colConv) padded(x *Node) *Node { return padSpatial(x, c.pad, 0) }

// padSpatial returns x, [batch, height, width, channels], with pad values
// fill on both sides of its height and width (x itself when pad is 0).
func padSpatial(x *Node, pad int, fill float64) *Node { return padEdges(x, pad, pad, pad, pad, fill) }

// padEdges returns x, [batch, height, width, channels], with top, bottom,
// left and right values fill on its spatial axes (negative: removed; x
// itself when all are 0).
func padEdges(x *Node, top, bottom, left, right int, fill float64) *Node {
	if top == 0 && bottom == 0 && left == 0 && right == 0 {
		return x
	}
	return Pad(x, Scalar(x.Graph(), x.DType(), fill), PadAxis{}, PadAxis{Start: top, End: bottom}, PadAxis{Start: left, End: right}, PadAxis{})
}

// windowStarts returns the top-left corners (image, row, column) in the
// padded input of the windows of images first to end-1, as a constant
// [(end-first)*ho*wo, 3] int32.
func (c im2colConv) windowStarts(g *Graph, first, end int) *Node {
	return Const(g, pixelCoords(first, end-first, c.ho, c.wo, c.stride, c.stride, 0))
}

// chunkColumns returns the column matrix of images first to end-1 of the
// padded input xp, [(end-first)*ho*wo, k], shaped [groups, rows/groups, k]
// with the groups of rowGroups: the kernel gradient reads it as a batch of
// row groups, and the forward product as one matrix (reshaped later, while
// the forward product still reads it, the backend would copy it).
func (c im2colConv) chunkColumns(xp *Node, first, end int) *Node {
	g := xp.Graph()
	win := GatherSlices(xp, []int{0, 1, 2}, c.windowStarts(g, first, end), []int{1, c.kh, c.kw}, true)
	rows := (end - first) * c.ho * c.wo
	groups := rowGroups(rows, groupThreads())
	return Reshape(win, groups, rows/groups, c.k)
}

// scatterWindows adds the rows of dcol, the columns' gradient of images
// first to end-1, [(end-first)*ho*wo, k], into their windows of dxp, the
// gradient of the padded input (the transpose of chunkColumns). The backend
// adds in place into dxp when nothing else reads it.
func (c im2colConv) scatterWindows(dxp, dcol *Node, first, end int) *Node {
	updates := Reshape(dcol, (end-first)*c.ho*c.wo, 1, c.kh, c.kw, c.in)
	return BackendScatterSum(dxp, c.windowStarts(dxp.Graph(), first, end), updates, 1, []int{1, 2, 3, 4}, nil, []int{0, 1, 2}, true, false)
}

// chunkProducts returns the column matrix of each range of images of the
// padded input xp (see chunkColumns) and the product of all of them by the
// kernel matrix w2, [n, out], concatenated.
func (c im2colConv) chunkProducts(xp, w2 *Node, ranges [][2]int) (cols []*Node, y *Node) {
	ys := make([]*Node, len(ranges))
	for i, r := range ranges {
		cols = append(cols, c.chunkColumns(xp, r[0], r[1]))
		p := DotGeneral(cols[i], []int{2}, nil, w2, []int{0}, nil) // [groups, rows/groups, out]
		ys[i] = Reshape(p, (r[1]-r[0])*c.ho*c.wo, c.out)
	}
	return cols, Concatenate(ys, 0)
}

// chunked is the im2col convolution computed per chunk of per images: the
// columns of a chunk are gathered and multiplied by the kernel at once, and
// the gradients go back chunk by chunk (the columns' gradient of a chunk,
// dY·wᵀ, scattered into its windows of the padded input's gradient; the
// kernel's, the sum of the chunks' (dYᵀ·col)ᵀ). Each chunk's column matrix
// (about chunkBytes) is read by its product while it is still in the
// processor's cache, instead of a whole column matrix (90 MB for the cnn's
// second convolution at batch 100, 236 MB for VGG-5's) written to memory by
// the gather and read back by the product's packing, and the same for the
// columns' gradient and the scatter. On the pure-Go backend this made the
// training steps of the cnn, VGG-5 and ResNet-20 10-15 % faster (binnet
// speed, 2 threads, 3 alternating rounds: 124-131 against 109-112 ms,
// 296-304 against 265-272 ms, 571-604 against 498-514 ms), although a
// chunk's rows of the output gradient are then copies and there are a few
// hundred more operations per step.
func (c im2colConv) chunked(w, bias *Node, per int) *Node {
	ranges := c.chunks(per)
	var w2 *Node
	var cols []*Node
	rows := func(r [2]int) [2]int { return [2]int{r[0] * c.ho * c.wo, r[1] * c.ho * c.wo} } // a chunk's rows of the product
	forward := func(txp, tw *Node) *Node {
		w2 = Reshape(tw, c.k, c.out)
		var y *Node
		cols, y = c.chunkProducts(txp, w2, ranges)
		return y
	}
	// The gradient of the padded input, from which padCropGradient crops
	// the input's.
	gradXP := func(txp, _, v *Node) *Node {
		dxp := ZerosLike(txp)
		// dY·wᵀ with wᵀ transposed once, [rows,out]·[out,k]: read as a
		// transposed right operand, the kernel matrix would be repacked for
		// every chunk by the backend's generic (not vectorized) packing.
		wt := Transpose(w2, 0, 1)
		for _, r := range ranges {
			span := rows(r)
			dxp = c.scatterWindows(dxp, MatMul(batchRows(v, span[0], span[1]-span[0]), wt), r[0], r[1])
		}
		return dxp
	}
	gradW := func(_, _, v *Node) *Node {
		// (dYᵀ·col)ᵀ summed over the chunks, with dY transposed once (k >
		// out: the columns are the wider operand, as in weightGrad). Each
		// chunk's product is split along its rows into a batch of as many
		// products as threads (see rowGroups), summed after.
		vt := transposeRows(v) // [out, n]
		var sum *Node
		for i, r := range ranges {
			groups, per := cols[i].Shape().Dimensions[0], cols[i].Shape().Dimensions[1]
			lhs := spans(vt, 1, rows(r)[0], per, groups)                          // [groups, out, per]
			p := DotGeneral(lhs, []int{2}, []int{0}, cols[i], []int{1}, []int{0}) // [groups, out, k]
			p = ReduceSum(p, 0)
			if sum == nil {
				sum = p
			} else {
				sum = Add(sum, p)
			}
		}
		return Reshape(Transpose(sum, 0, 1), c.kh, c.kw, c.in, c.out)
	}
	y, _ := withProductGradient(padCropGradient(c.x, c.pad), w, forward, gradXP, gradW, false)
	return c.image(y, bias)
}

// padCropGradient is padSpatial(x, pad, 0) whose gradient is written by hand
// as a negative Pad, which the pure-Go backend copies in rows: GoMLX's
// gradient of Pad is a Slice, which it copies value by value (VGG-5's
// [100, 32, 32, 64] in 12 ms against 4.5 ms, one executor). The identity
// that carries the gradient copies x if something else still reads it: not
// when x is an ops.ReLU (whose gradient reads ReLU's input, not its
// output); a ResNet block's output that its shortcut also reads is copied
// (a copy in one block, still cheaper than the Slice). VGG-5's training
// step ~1.5 % faster, ResNet-20's ~1.5 %, the cnn's the same (binnet speed,
// 2 threads, 5 alternating rounds, with ops.ReLU).
func padCropGradient(x *Node, pad int) *Node { return padEdgesCropGradient(x, pad, pad, pad, pad) }

// padEdgesCropGradient is padCropGradient with zeros added top, bottom,
// left and right of x's spatial axes.
func padEdgesCropGradient(x *Node, top, bottom, left, right int) *Node {
	return withGradient([]*Node{x},
		func(in []*Node) *Node { return padEdges(in[0], top, bottom, left, right, 0) },
		func(_ []*Node, v *Node) []*Node { return []*Node{padEdges(v, -top, -bottom, -left, -right, 0)} }, false)
}

// rowGroups returns the number of equal groups of at least 64 rows, at most
// threads (and 8), into which a chunk's kernel gradient dYᵀ·col, [out, rows]
// x [rows, k], is split as a batch of products. The pure-Go backend splits a
// single product along its output rows, out (64 for VGG-5's second
// convolution), and every thread then packs all of the columns, the large
// operand; split along the contracted rows, each thread packs only its own
// rows of the columns, and the partial products, [groups, out, k], are
// summed after (VGG-5's training step ~3 % faster, binnet speed, 2 threads,
// 5 alternating rounds).
func rowGroups(rows, threads int) int {
	for g := min(threads, 8); g > 1; g-- {
		if rows%g == 0 && rows/g >= 64 {
			return g
		}
	}
	return 1
}

// groupThreads is the number of threads that rowGroups splits for: the
// threads the backend runs on (a variable so that tests can set it).
var groupThreads = func() int { return runtime.GOMAXPROCS(0) }

// spans returns count consecutive spans of size indices of m along axis,
// the first starting at first, copied by one gather: for a matrix
// [count, size, cols] (axis 0, rows) or [count, rows, size] (axis 1,
// columns); along the first axis of any tensor, [count, size, ...] (see
// batchRows). The pure-Go backend's Slice copies value by value: with Slice
// for these blocks, the cnn's and VGG-5's training steps were 7-10 % slower.
func spans(m *Node, axis, first, size, count int) *Node {
	starts := make([][]int32, count)
	for j := range starts {
		starts[j] = []int32{int32(first + j*size)}
	}
	return GatherSlices(m, []int{axis}, Const(m.Graph(), starts), []int{size}, true)
}

// columns returns the column matrix [n, k]: x itself for a 1x1 kernel at
// stride 1 without padding, else the gathered windows (see [Im2Col]).
func (c im2colConv) columns() *Node {
	if c.kh == 1 && c.kw == 1 && c.pad == 0 && c.stride == 1 {
		return Reshape(c.x, c.n, c.k)
	}
	return Reshape(windows(c.x, c.kh, c.kw, c.stride, c.pad, 0), c.n, c.k)
}

// image adds bias (nil: none) to the product's matrix y, [n, out], and
// shapes it [b, ho, wo, out].
func (c im2colConv) image(y, bias *Node) *Node {
	if bias != nil {
		y = Add(y, ExpandLeftToRank(bias, 2))
	}
	return Reshape(y, c.b, c.ho, c.wo, c.out)
}

// Im2Col returns the columns of a kh x kw window over x, shaped [batch,
// outHeight, outWidth, kh*kw*channels], ordered (dy, dx, channel) so that a
// kernel [kh, kw, in, out] reshaped to [kh*kw*in, out] multiplies it. Padding
// is zeros. It is one GatherSlices that copies each window of x (padded first
// when pad > 0) as a slice [1, kh, kw, channels], whose rows of kw*channels
// values are contiguous in x: the backend copies kh blocks per window. Its
// gradient is GoMLX's, the matching scatter-add of the windows (and the
// padding's slice).
//
// The earlier formulation gathered every tap as its own row of channels
// (kh*kw rows per window, from x viewed as [positions, channels]) with a
// ScatterSum of rows as gradient; on the pure-Go backend it made the cnn's
// training step ~14 % and VGG-5's ~11 % slower (its first convolution, with
// a single input channel, copied rows of one value).
func Im2Col(x *Node, kh, kw, stride, pad int) *Node {
	return windows(x, kh, kw, stride, pad, 0)
}

// windows is Im2Col with fill as the padding value.
func windows(x *Node, kh, kw, stride, pad int, fill float64) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	ho, wo := ConvOutputSize(h, kh, stride, pad), ConvOutputSize(w, kw, stride, pad)
	starts := Const(x.Graph(), pixelCoords(0, b, ho, wo, stride, stride, 0))
	return Reshape(GatherSlices(padSpatial(x, pad, fill), []int{0, 1, 2}, starts, []int{1, kh, kw}, true), b, ho, wo, kh*kw*c)
}

// pixelCoords returns, as an int32 tensor [b*rows*cols, 3], the (image, row,
// column) coordinates (n, i*rowStep, j*colStep+colOffset) for the b images
// first <= n < first+b, i < rows and j < cols, in (n, i, j) order: the
// top-left corners of windows moving by a stride (rowStep = colStep =
// stride), or one column of every tile of a row (rowStep 1, colStep the tile
// width).
func pixelCoords(first, b, rows, cols, rowStep, colStep, colOffset int) *tensors.Tensor {
	idx := make([]int32, 0, 3*b*rows*cols)
	for n := first; n < first+b; n++ {
		for i := range rows {
			for j := range cols {
				idx = append(idx, int32(n), int32(i*rowStep), int32(j*colStep+colOffset))
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(idx, b*rows*cols, 3)
}

// MaxPool2D takes the maximum over k x k windows of x, [batch, height, width,
// channels], moving by stride, with pad positions (on each side) that never
// win.
//
// When the windows tile the image (k equals stride, no padding, the sizes
// divide by k) it is maxPoolTiled: element-wise maxima of gathered rows of
// channels, along the width and then along the height, with a hand-written
// gradient that goes to the first maximal entry of each window in row-major
// order, as in PyTorch's max pooling (GoMLX's ReduceMax gradient gives it to
// every tied entry, which multiplies the gradient of a window of equal values,
// such as the uniform borders of MNIST digits). On the pure-Go backend this
// also avoids the generic reduction over the window axes and the broadcasts of
// its gradient (MaxPool2DReduce is that form, for comparisons). Otherwise
// (the 3x3 stride-2 pooling of ResNet stems) it is the maximum of the
// window's gathered copies, whose gradient goes to every maximal entry.
func MaxPool2D(x *Node, k, stride, pad int) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if k == stride && pad == 0 && h%k == 0 && w%k == 0 {
		if k == 1 {
			return x
		}
		if os.Getenv("BINNET_MAXPOOL") == "reduce" {
			return MaxPool2DReduce(x, k)
		}
		return maxPoolTiled(x, k)
	}
	lowest := x.DType().LowestValue()
	cols := windows(x, k, k, stride, pad, toFloat(lowest))
	ho, wo := ConvOutputSize(h, k, stride, pad), ConvOutputSize(w, k, stride, pad)
	return ReduceMax(Reshape(cols, b, ho, wo, k*k, c), 3)
}

// MaxPool2DReduce is MaxPool2D for windows that tile the image (k equals
// stride, no padding, the sizes divide by k) as GoMLX's ReduceMax over the
// window axes of a reshape, with GoMLX's gradient (to every tied maximal
// entry): the formulation MaxPool2D used before, kept for comparisons
// (BINNET_MAXPOOL=reduce selects it inside MaxPool2D).
func MaxPool2DReduce(x *Node, k int) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if h%k != 0 || w%k != 0 {
		panic(fmt.Sprintf("ops.MaxPool2DReduce: %dx%d windows do not tile %s", k, k, x.Shape()))
	}
	return ReduceMax(Reshape(x, b, h/k, k, w/k, k, c), 2, 4)
}

// maxPoolTiled is MaxPool2D for k x k windows that tile x, [b, h, w, c]:
// the maximum along the width, then along the height, each the element-wise
// maximum of k blocks of rows of channels that one Gather each copies out
// (from x by (image, row, column) coordinates, so that x is not reshaped,
// which would copy it: batch norm's gradient still reads it). The gradient
// goes to the first maximal entry of each window in row-major order, as in
// PyTorch; it is written with selects and concatenations of whole rows, and
// reshapes only fresh intermediates (moved, not copied).
func maxPoolTiled(x *Node, k int) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	ho, wo := h/k, w/k
	n1, n2 := b*h*wo, b*ho*wo // rows of the width maxima and of the output
	g := x.Graph()
	var cols, rows []*Node // the forward's blocks, read again by the gradient
	var y1, y2 *Node
	return withGradient([]*Node{x},
		func(in []*Node) *Node {
			cols, rows = make([]*Node, k), make([]*Node, k)
			for d := range k {
				cols[d] = Gather(in[0], Const(g, pixelCoords(0, b, h, wo, 1, k, d)), true) // column j*k+d of every row: [n1, c]
			}
			y1 = maxOf(cols)
			for d := range k {
				rows[d] = Gather(y1, Const(g, tileRowIndices(b, ho, wo, k, d)), true) // [n2, c]
			}
			y2 = maxOf(rows)
			return Reshape(y2, b, ho, wo, c)
		},
		func(_ []*Node, v *Node) []*Node {
			// Along the height: block d of output row (n, i) came from row
			// i*k+d of the width maxima, whose rows are ordered (n, row, j).
			d2 := firstMaxGrads(rows, y2, Reshape(v, n2, c))
			for d := range d2 {
				d2[d] = Reshape(d2[d], b*ho, 1, wo*c)
			}
			dy1 := Reshape(Concatenate(d2, 1), n1, c)
			// Along the width: block d of (n, row, j) came from column j*k+d.
			d1 := firstMaxGrads(cols, y1, dy1)
			for d := range d1 {
				d1[d] = Reshape(d1[d], n1, 1, c)
			}
			return []*Node{Reshape(Concatenate(d1, 1), b, h, w, c)}
		}, false)
}

// maxOf is the element-wise maximum of blocks, folded from the first.
func maxOf(blocks []*Node) *Node {
	y := blocks[0]
	for _, p := range blocks[1:] {
		y = Max(y, p)
	}
	return y
}

// firstMaxGrads returns the gradients of y = maxOf(blocks) for the gradient
// v of y: v where a block holds the first maximum (the lowest block index on
// ties), zero elsewhere. Two blocks are compared with each other, so that y
// is not read again (reading it would make its reshape a copy).
func firstMaxGrads(blocks []*Node, y, v *Node) []*Node {
	zero := ScalarZero(v.Graph(), v.DType())
	k := len(blocks)
	grads := make([]*Node, k)
	var taken *Node // where an earlier block holds the first maximum
	for j := range blocks {
		if j == k-1 {
			// The last block holds the first maximum wherever no earlier
			// block does: a select with the operands swapped, rather than
			// a pass to negate taken.
			grads[j] = Where(taken, zero, v)
			break
		}
		var first *Node
		switch {
		case k == 2:
			first = GreaterOrEqual(blocks[0], blocks[1])
		case j == 0:
			first = Equal(blocks[0], y)
		default:
			first = LogicalAnd(Equal(blocks[j], y), LogicalNot(taken))
		}
		grads[j] = Where(first, v, zero)
		if j == 0 {
			taken = first
		} else {
			taken = LogicalOr(taken, first)
		}
	}
	return grads
}

// tileRowIndices returns, as a constant int32 tensor [b*ho*wo, 1], the rows
// of a matrix whose rows are ordered (image, row, j) for b images of ho*k
// rows and wo windows per row, that hold row i*k+d of every window (n, i, j),
// in (n, i, j) order.
func tileRowIndices(b, ho, wo, k, d int) *tensors.Tensor {
	idx := make([]int32, 0, b*ho*wo)
	for n := range b {
		for i := range ho {
			for j := range wo {
				idx = append(idx, int32((n*ho*k+i*k+d)*wo+j))
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(idx, b*ho*wo, 1)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	default:
		panic(fmt.Sprintf("ops: unsupported dtype value %T", v))
	}
}
