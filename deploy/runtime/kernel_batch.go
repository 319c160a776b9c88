package runtime

import (
	"math"
	"math/bits"

	"github.com/binnet/binnet/deploy/bnn"
)

// Batch-blocked binary dense kernel (kernel_batch*.go).
//
// The per-example dense kernel (binarySums) walks the sign rows of a layer
// once per example, so a batch of 64 streams the packed weights 64 times.
// This kernel works on column blocks (denseColumns): block k holds, for each
// input i, one 64-bit word whose bit j is the sign of the weight from input i
// to output 64k+j, the conv kernels' layout with a single tap. For a group of
// examples, each word is turned into lane masks once and those masks are
// applied to every example of the group: for each input, x_i of each example
// is broadcast and added under the mask to the 64 outputs' sums (AVX-512:
// VADDPS with merge masking, one instruction per 16 weights and example;
// portable: x's bits ANDed with the all-ones or all-zeros word of the bit and
// added). No weight multiplies anything. With P_o the sum of the inputs whose
// weight to output o is +1 and T the sum of all inputs,
//
//	z_o = P_o - (T - P_o) = (P_o + P_o) - T.
//
// Summation order, the same in every variant (AVX-512 or portable, one
// example or a group, any batch), so all give the same bits. The inputs are
// cut into chunks of 64 (the last one shorter), summed in float32, and the
// chunks' sums are added in float64, which keeps the rounding of long sums of
// same-sign inputs (ReLU outputs: P and T grow like the fan-in, z like its
// square root) close to that of the per-example kernel's signed sums:
//   - P_o: a chunk's sum p (float32) starts at +0 and adds the chunk's
//     selected inputs in order; P_o (float64) starts at +0 and adds the
//     chunks' sums in order.
//   - T: per chunk, 16 lane sums (float32, from +0), lane l adding the
//     chunk's inputs i with i mod 16 = l in order; 16 running lane sums
//     (float64, from +0) add them chunk after chunk; T is the float64 tree
//     of binaryTree16 over the 16 running sums.
//   - z_o = float32((P_o + P_o) - T), computed in float64.
// Adding nothing (a cleared bit, SIMD merge masking) and adding +0 (the
// portable kernel's AND, a zero-filled SIMD tail) are the same: a sum that
// starts at +0 is never -0, and s + (+0) = s for every other s.
//
// TestBatchKernelsAreAddOnly checks that no function of these files whose
// name starts with "binary" multiplies or divides.

// denseChunk is the number of inputs summed before a chunk's sum is added to
// the running sum of an output.
const denseChunk = 64

// denseBatchGroup is the number of examples the SIMD kernel runs per pass
// over a column block.
const denseBatchGroup = 3

// denseRun is the number of sums of a group: 64 per example.
const denseRun = denseBatchGroup * 64

// denseScratch is binaryDenseBatch's working memory: the running sums P of
// a group (float64), its sums z before they are copied to the outputs, and
// T per example.
type denseScratch struct {
	run [denseRun]float64
	z   [denseRun]float32
	tot []float64
}

// newDenseScratch returns the scratch of binaryDenseBatch for batches of at
// most batch examples.
func newDenseScratch(batch int) *denseScratch { return &denseScratch{tot: make([]float64, batch)} }

// denseColumns transposes a binary dense layer's sign rows (the .bnn layout:
// out rows of words uint64, bit i%64 of word i/64 of row o set when the
// weight from input i to output o is +1) into column blocks: block k
// (outputs 64k..64k+63) is cols[k*in:(k+1)*in], word i of which has bit j set
// when the weight from input i to output 64k+j is +1 (0 past the outputs).
// It runs once, when a network is prepared. The blocks take ceil(out/64)*in
// words, the rows out*ceil(in/64): the same when in and out are multiples of
// 64. (It is also the layout of prepareConv's blocks for a conv layer, whose
// inputs are its window's taps.)
func denseColumns(rows []uint64, words, in, out int) []uint64 {
	blocks := (out + 63) / 64
	cols := make([]uint64, blocks*in)
	for o := 0; o < out; o++ {
		row := rows[o*words : (o+1)*words]
		col := cols[(o/64)*in : (o/64+1)*in]
		bit := uint64(1) << uint(o%64)
		for wi, w := range row {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				col[wi*64+b] |= bit
				w &= w - 1
			}
		}
	}
	return cols
}

// compactColumns returns the column blocks of a binary dense layer
// (denseColumns) when they take at most 1/8 more memory than its sign rows,
// and nil otherwise: layers with few outputs (a 10-class classifier: 64
// lanes per block for 10 outputs) keep their rows and the per-example
// kernel (binarySums), so that a network holds each layer's signs once, in
// about the file's bytes.
func compactColumns(rows []uint64, words, in, out int) []uint64 {
	blocks := (out + 63) / 64
	if blocks*in > len(rows)+len(rows)/8 {
		return nil
	}
	return denseColumns(rows, words, in, out)
}

// denseRows is the inverse of denseColumns: it rebuilds the sign rows (the
// .bnn layout) of a layer from its column blocks, so that a network needs to
// keep only the blocks.
func denseRows(cols []uint64, in, out int) []uint64 {
	words := (in + 63) / 64
	rows := make([]uint64, out*words)
	for o := 0; o < out; o++ {
		col := cols[(o/64)*in : (o/64+1)*in]
		row := rows[o*words : (o+1)*words]
		sh := uint(o % 64)
		for i, w := range col {
			row[i/64] |= (w >> sh & 1) << uint(i%64)
		}
	}
	return rows
}

// Layer helpers for runtime.go. They live here because the sign bits of a
// layer are the kernels' business: TestBinaryKernelsAreAddOnly fails if a
// function of runtime.go other than binaryLayer, binaryConvLayer and
// prepareConv names a layer's bits or cbits. None of these indexes them.

// prepareDense holds a binary dense layer's signs as column blocks when they
// are compact (compactColumns), dropping the rows; other layers keep theirs.
func prepareDense(ly *layer, l *bnn.Layer) {
	if !ly.binary {
		return
	}
	if ly.cbits = compactColumns(l.Bits, ly.words, ly.in, ly.out); ly.cbits != nil {
		ly.bits = nil
	}
}

// heldAsColumns reports whether a layer holds its signs as column blocks
// (binary conv2d layers, and dense layers prepareDense transposed).
func heldAsColumns(l *layer) bool { return l.cbits != nil }

// signRows rebuilds the sign rows (the .bnn layout) of a layer held as
// column blocks.
func signRows(l *layer) []uint64 { return denseRows(l.cbits, l.in, l.out) }

// denseBatchLayer runs a binary dense layer held as column blocks on nb
// examples (inputs x[e*xStride:], outputs out[e*outStride:]):
// act(scale*z + offset) with z from binaryDenseBatch; ds is a
// newDenseScratch of at least nb examples.
func denseBatchLayer(l *layer, x []float32, xStride, nb int, out []float32, outStride int, ds *denseScratch) {
	binaryDenseBatch(l.cbits, l.in, l.out, x, xStride, nb, out, outStride, ds)
	for e := 0; e < nb; e++ {
		row := out[e*outStride : e*outStride+l.out]
		finishVec(row, row, l.scale, l.offset, l.relu)
	}
}

// binaryDenseBatch computes the signed sums z_o = sum_i s_oi*x_i of a binary
// dense layer for batch examples: example e's in inputs are
// x[e*xStride : e*xStride+in], its outs sums go to out[e*outStride :
// e*outStride+outs]. cols holds the layer's column blocks (denseColumns), ds
// is a newDenseScratch of at least batch examples. Weights are read once per
// group of denseBatchGroup examples; the results are those of batch 1, bit
// for bit (see the summation order above).
func binaryDenseBatch(cols []uint64, in, outs int, x []float32, xStride, batch int, out []float32, outStride int, ds *denseScratch) {
	run, zs, tot := ds.run[:], ds.z[:], ds.tot[:batch]
	xo := 0
	for e := range tot {
		tot[e] = binaryTotal(x[xo : xo+in])
		xo += xStride
	}
	cb, ob := 0, 0 // first word and first output of block k
	for ob < outs {
		col := cols[cb : cb+in]
		lanes := min(64, outs-ob)
		binaryDenseBlock(col, x, xStride, in, tot, out[ob:], outStride, lanes, run, zs)
		cb += in
		ob += 64
	}
}

// binaryDenseBlockGeneric computes one column block (its first lanes
// outputs) for every example, one example at a time.
func binaryDenseBlockGeneric(col []uint64, x []float32, xStride, in int, tot []float64, out []float32, outStride, lanes int, run []float64, zs []float32) {
	xo, oo := 0, 0
	for _, t := range tot {
		binaryDenseGeneric(col, x[xo:xo+in], t, run[:64], zs[:64])
		copy(out[oo:oo+lanes], zs[:lanes])
		xo += xStride
		oo += outStride
	}
}

// binaryDenseGeneric is the portable kernel of one example and one column
// block: z[j] receives float32((P_j + P_j) - t) for the block's 64 outputs.
func binaryDenseGeneric(col []uint64, x []float32, t float64, run []float64, z []float32) {
	run = run[:64]
	clear(run)
	var p [64]float32
	for c := 0; c < len(col); c += denseChunk {
		ws := col[c:min(c+denseChunk, len(col))]
		xs := x[c : c+len(ws)]
		clear(p[:])
		for i, w := range ws {
			xb := math.Float32bits(xs[i])
			for j := range p {
				keep := -uint32(w >> uint(j) & 1) // all ones where the weight is +1
				p[j] += math.Float32frombits(xb & keep)
			}
		}
		for j, v := range p {
			run[j] += float64(v)
		}
	}
	for j, v := range run {
		z[j] = float32((v + v) - t)
	}
}

// binaryTotalGeneric returns T, the sum of x in the order described above.
func binaryTotalGeneric(x []float32) float64 {
	var run [16]float64
	for c := 0; c < len(x); c += denseChunk {
		var lanes [16]float32
		for i, v := range x[c:min(c+denseChunk, len(x))] {
			lanes[i&15] += v
		}
		for l, v := range lanes {
			run[l] += float64(v)
		}
	}
	return binaryTree16(&run)
}

// binaryTree16 adds 16 lane sums pairwise.
func binaryTree16(t *[16]float64) float64 {
	return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7])) +
		(((t[8] + t[9]) + (t[10] + t[11])) + ((t[12] + t[13]) + (t[14] + t[15])))
}
