package ops

import (
	"os"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", CVPR 2016): a 6x6 tile d
// of the padded input and a 3x3 kernel g give the 4x4 outputs of their
// correlation as
//
//	Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
//
// so that, summed over the input channels, a layer costs 36 products per
// tile and channel pair instead of the 144 of a direct (im2col)
// convolution: 36 independent matrix products [tiles, in] x [in, out].
// The matrices are those of the interpolation points 0, ±1, ±2 and ∞.
var (
	winogradBT = [][]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winogradG = [][]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	winogradAT = [][]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
)

const (
	winoIn   = 6  // side of an input tile
	winoOut  = 4  // side of an output tile
	winoFreq = 36 // entries of a transformed tile, winoIn²
	// winoMinChannels is the fewest input channels for which Conv2D uses
	// the Winograd formulation: the first convolution of an image (1 or 3
	// channels) multiplies too little per tile to pay for the transforms.
	winoMinChannels = 16
)

// useWinograd reports whether the im2col convolution c is computed as
// winogradConv instead: a 3x3 kernel at stride 1 with padding 1 (the size
// kept), at least winoMinChannels input channels, and an output that the
// 4x4 tiles cover with at most half as many outputs again as it has (all
// sides that are multiples of 4; 7x7 and 14x14, 1.31x; not 6x6, 1.78x, or
// smaller), unless BINNET_CONV=im2col.
func useWinograd(c im2colConv) bool {
	if os.Getenv("BINNET_CONV") == "im2col" || c.kh != 3 || c.kw != 3 || c.stride != 1 || c.pad != 1 || c.in < winoMinChannels {
		return false
	}
	covered := winoOut * ceilDiv(c.ho, winoOut) * winoOut * ceilDiv(c.wo, winoOut)
	return 2*covered <= 3*c.ho*c.wo
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// kron returns the Kronecker product m ⊗ m of an [r][c] matrix, [r*r, c*c],
// as a constant of dtype like x: the 2D transform (m on rows and columns) of
// a tile flattened in row-major order.
func kron(x *Node, m [][]float64) *Node {
	r, c := len(m), len(m[0])
	flat := make([]float64, 0, r*r*c*c)
	for a := range r {
		for b := range r {
			for u := range c {
				for v := range c {
					flat = append(flat, m[a][u]*m[b][v])
				}
			}
		}
	}
	return ConvertDType(Const(x.Graph(), tensors.FromFlatDataAndDimensions(flat, r*r, c*c)), x.DType())
}

// winogradConv is the geometry of a Winograd convolution: the im2col
// geometry plus the tiles, th x tw per image, t in all, whose outputs
// exceed the image's by eh rows and ew columns (sides not multiples of 4:
// the input gets as many more zeros at the bottom and right, and the
// surplus outputs are dropped).
type winogradConv struct {
	im2colConv
	th, tw, t int
	eh, ew    int
}

func newWinogradConv(c im2colConv) winogradConv {
	th, tw := ceilDiv(c.ho, winoOut), ceilDiv(c.wo, winoOut)
	return winogradConv{im2colConv: c, th: th, tw: tw, t: c.b * th * tw, eh: winoOut*th - c.ho, ew: winoOut*tw - c.wo}
}

// exact reports whether the tiles' outputs are exactly the image's.
func (c winogradConv) exact() bool { return c.eh == 0 && c.ew == 0 }

// tilePadding returns the padded input of x for the tiles, with its
// gradient the crop (see padEdgesCropGradient) when withGrad is set.
func (c winogradConv) tilePadding(x *Node, withGrad bool) *Node {
	if withGrad {
		return padEdgesCropGradient(x, 1, 1+c.eh, 1, 1+c.ew)
	}
	return padEdges(x, 1, 1+c.eh, 1, 1+c.ew, 0)
}

// tileStarts returns the rows of the padded input, read as a matrix [b*hp*wp,
// in] (hp x wp its padded sides), of every entry (r, s) of every tile (n, i,
// j), the position (n, 4i+r, 4j+s), ordered with (r, s) outermost, as a
// constant [36*t, 1] int32: a gather of these rows gives the tiles as the
// matrix [36, t*in] that the input transform multiplies. (Rows of one index
// rather than positions of three: the backend's gather and scatter spend
// most of their time per row on the index.)
func (c winogradConv) tileStarts(g *Graph) *Node {
	hp, wp := c.paddedSides()
	idx := make([]int32, 0, winoFreq*c.t)
	for r := range winoIn {
		for s := range winoIn {
			for n := range c.b {
				for i := range c.th {
					for j := range c.tw {
						idx = append(idx, int32((n*hp+winoOut*i+r)*wp+winoOut*j+s))
					}
				}
			}
		}
	}
	return Const(g, tensors.FromFlatDataAndDimensions(idx, winoFreq*c.t, 1))
}

// paddedSides returns the sides of the input padded for the tiles (see
// tilePadding).
func (c winogradConv) paddedSides() (hp, wp int) {
	return winoOut*c.th + 2, winoOut*c.tw + 2
}

// rows returns the padded input xp as the matrix [b*hp*wp, in].
func (c winogradConv) rows(xp *Node) *Node {
	hp, wp := c.paddedSides()
	return Reshape(xp, c.b*hp*wp, c.in)
}

// outputRows returns the rows of the output matrix [b*ho*wo, out] of the
// entry (o1, o2) of every tile (n, i, j), ordered with (o1, o2) outermost,
// as a constant [16*t, 1] int32; an entry outside the image gets row
// b*ho*wo (a row of zeros appended to the matrix).
func (c winogradConv) outputRows(g *Graph) *Node {
	idx := make([]int32, 0, winoOut*winoOut*c.t)
	for o1 := range winoOut {
		for o2 := range winoOut {
			for n := range c.b {
				for i := range c.th {
					for j := range c.tw {
						y, x := winoOut*i+o1, winoOut*j+o2
						if y < c.ho && x < c.wo {
							idx = append(idx, int32((n*c.ho+y)*c.wo+x))
						} else {
							idx = append(idx, int32(c.b*c.ho*c.wo))
						}
					}
				}
			}
		}
	}
	return Const(g, tensors.FromFlatDataAndDimensions(idx, winoOut*winoOut*c.t, 1))
}

// tileRows returns, for every output (n, y, x) of the image in row-major
// order, its row in the tiles' outputs [16*t, out] (the inverse of
// outputRows), as a constant [b*ho*wo, 1] int32.
func (c winogradConv) tileRows(g *Graph) *Node {
	idx := make([]int32, 0, c.b*c.ho*c.wo)
	for n := range c.b {
		for y := range c.ho {
			for x := range c.wo {
				o := (y%winoOut)*winoOut + x%winoOut
				idx = append(idx, int32(o*c.t+(n*c.th+y/winoOut)*c.tw+x/winoOut))
			}
		}
	}
	return Const(g, tensors.FromFlatDataAndDimensions(idx, c.b*c.ho*c.wo, 1))
}

// inputTransform returns Bᵀ d B of every tile of the padded input xp, as
// [36, t, in].
func (c winogradConv) inputTransform(xp, starts *Node) *Node {
	tiles := Reshape(GatherSlices(c.rows(xp), []int{0}, starts, []int{1}, false), winoFreq, c.t*c.in)
	return Reshape(MatMul(kron(xp, winogradBT), tiles), winoFreq, c.t, c.in)
}

// kernelTransform returns G g Gᵀ of the kernel w, [3, 3, in, out], as
// [36, in, out].
func (c winogradConv) kernelTransform(w *Node) *Node {
	return Reshape(MatMul(kron(w, winogradG), Reshape(w, 9, c.in*c.out)), winoFreq, c.in, c.out)
}

// output returns the convolution's matrix [b*ho*wo, out] from the
// transformed tiles v and kernel u: their 36 products, the output
// transform Aᵀ m A of every tile, and the tiles' 4x4 outputs put in place.
func (c winogradConv) output(v, u *Node) *Node {
	m := DotGeneral(v, []int{2}, []int{0}, u, []int{1}, []int{0}) // [36, t, out]
	y := MatMul(kron(v, winogradAT), Reshape(m, winoFreq, c.t*c.out))
	if !c.exact() {
		// Only the image's outputs, gathered as rows.
		y = GatherSlices(Reshape(y, winoOut*winoOut*c.t, c.out), []int{0}, c.tileRows(v.Graph()), []int{1}, false)
		return Reshape(y, c.b*c.ho*c.wo, c.out)
	}
	y = Reshape(y, winoOut, winoOut, c.b, c.th, c.tw, c.out)
	return Reshape(TransposeAllDims(y, 2, 3, 0, 4, 1, 5), c.b*c.ho*c.wo, c.out)
}

// forward is the convolution of x (not padded) by w, as [b*ho*wo, out],
// for evaluation graphs.
func (c winogradConv) forward(x, w *Node) *Node {
	return c.output(c.inputTransform(c.tilePadding(x, false), c.tileStarts(x.Graph())), c.kernelTransform(w))
}

// winograd is the convolution c (see useWinograd) computed as F(4x4, 3x3),
// with its gradients written by hand in the same transformed space. With
// dM = A dY Aᵀ per tile (the output transform's transpose applied to the
// output's gradient):
//
//	dV = dM·Uᵀ, then the input's gradient is B dV Bᵀ scattered back into the tiles' windows,
//	dU = Vᵀ·dM, then the kernel's gradient is Gᵀ dU G,
//
// each again 36 products. Vᵀ, [36, in, t], is made by a batched product
// with the identity (the backend's kernels read the contracted axis of a
// left operand only as its last; its Transpose of [36, t, in] took 28 ms
// for one of VGG-5's four parts). On the pure-Go backend VGG-5's training
// step is ~23 % faster than the chunked im2col convolution, the cnn's ~19
// % (binnet speed, 2 threads, alternating rounds), ResNet-20's 5-15 %
// (its sum of node times, one executor).
//
// The results differ from a direct convolution's by rounding that grows
// with the transform's entries (up to 8 and 1/24): about 1e-5 of the
// outputs' root mean square for 64 channels (the largest difference from a
// float64 convolution, TestConv2DWinograd), against about 1e-6 for im2col.
// Training is unaffected at the scale of its noise (the cnn on 5,000 MNIST
// images, 2 float epochs: test accuracy 0.9494 against im2col's 0.9492;
// VGG-5 binary on 2,000, 2 epochs: 0.9036 against 0.9022).
// BINNET_CONV=im2col turns it off.
func (c winogradConv) winograd(w, bias *Node) *Node {
	g := c.x.Graph()
	starts := c.tileStarts(g)
	var v, u, dm *Node
	forward := func(txp, tw *Node) *Node {
		v, u = c.inputTransform(txp, starts), c.kernelTransform(tw)
		return c.output(v, u)
	}
	// outputGrad returns dM, [36, t, out], from the output's gradient vy.
	outputGrad := func(vy *Node) *Node {
		if dm == nil {
			// The output's rows in the order of the tiles' outputs, gathered
			// (a Reshape of vy, which the bias's gradient also reads,
			// would be a copy before the Transpose).
			// Tile entries outside the image read an appended row of zeros.
			rows := vy
			if !c.exact() {
				rows = Concatenate([]*Node{vy, Zeros(vy.Graph(), shapes.Make(vy.DType(), 1, c.out))}, 0)
			}
			dy := Reshape(GatherSlices(rows, []int{0}, c.outputRows(vy.Graph()), []int{1}, false), winoOut*winoOut, c.t*c.out)
			dm = MatMul(Transpose(kron(vy, winogradAT), 0, 1), dy)
			dm = Reshape(dm, winoFreq, c.t, c.out)
		}
		return dm
	}
	gradXP := func(txp, _, vy *Node) *Node {
		dv := DotGeneral(outputGrad(vy), []int{2}, []int{0}, Transpose(u, 1, 2), []int{1}, []int{0}) // [36, t, in]
		dtiles := MatMul(Transpose(kron(vy, winogradBT), 0, 1), Reshape(dv, winoFreq, c.t*c.in))
		dtiles = Reshape(dtiles, winoFreq*c.t, 1, c.in)
		return Reshape(BackendScatterSum(ZerosLike(c.rows(txp)), starts, dtiles, 1, []int{1, 2}, nil, []int{0}, false, false), txp.Shape().Dimensions...)
	}
	gradW := func(_, _, vy *Node) *Node {
		vt := DotGeneral(identity(v, c.in, winoFreq), []int{2}, []int{0}, v, []int{2}, []int{0}) // [36, in, t]
		du := DotGeneral(vt, []int{2}, []int{0}, outputGrad(vy), []int{1}, []int{0})             // [36, in, out]
		return Reshape(MatMul(Transpose(kron(vy, winogradG), 0, 1), Reshape(du, winoFreq, c.in*c.out)), 3, 3, c.in, c.out)
	}
	y, _ := withProductGradient(c.tilePadding(c.x, true), w, forward, gradXP, gradW, false)
	return c.image(y, bias)
}
