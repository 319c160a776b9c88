// Package runtime runs binary-weight networks exported by binnet (.bnn files,
// see deploy/bnn) in pure Go, without GoMLX: it can be linked into a small
// binary or a WASM module. It runs MLPs, convolutional networks (dense,
// conv2d, max pooling and flatten layers) and residual networks (residual
// adds reading earlier activations, with option-A shortcuts or downsampling
// convolutions, and global average pooling).
//
// In binarized layers no input is multiplied by a weight: output o is
// sum_i s_oi*x_i with s_oi in {-1,+1} given by one bit. Dense layers of 64
// outputs or more (at any batch size) add each input to the sums of the
// outputs whose weight bit is 1 and subtract the total once: with P_o that
// sum and T the sum of all inputs, z_o = 2*P_o - T (with GOEXPERIMENT=simd on
// AVX-512 CPUs a merge-masked add to 64 outputs at a time; portable: the
// input's bits ANDed with the bit's all-ones or all-zeros mask). Smaller
// dense layers (a 10-class classifier) flip the sign of x_i where the bit is
// 0 and add (XOR of the float's sign bit, or on AVX-512 a masked select of x
// or -x, 16 lanes at a time), vectorized over the inputs of one output.
// Convolutions vectorize over 64 (or 16) output channels of one output
// position. The
// folded batch norm then applies one multiply and one add per output (scale
// and offset), and ReLU on hidden layers. Float layers are plain dot
// products.
//
// A Network is immutable and safe for concurrent use.
package runtime

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/binnet/binnet/deploy/bnn"
)

// layer is one prepared layer.
type layer struct {
	name          string
	kind          bnn.Kind
	binary, relu  bool
	in, out       int // fan-in and outputs of one position (dense: features; conv: kh*kw*cin and channels)
	words         int // 64-bit words per sign row (binary dense)
	bits          []uint64
	w             []float32 // float dense weights, out rows of in
	scale, offset []float32
	size          int // values of the layer's output
	src, res      int // activations read (0: the model's input, k: layer k's output): the input, and an add's residual

	// Windows (conv2d, maxpool2d): input [inH, inW, inC], output [outH, outW, out or inC].
	kh, kw, stride, ph, pw int
	inH, inW, inC          int
	outH, outW             int
	// Binary dense and conv2d weights, transposed for the kernels
	// (denseColumns): blocks of 64 outputs; block k holds, for each input or
	// tap t (0..in-1, a conv's in the file's order (dy*kw+dx)*inC + c), one
	// word whose bit j is the sign of the weight from t to output 64k+j
	// (cbits[k*in+t]); dense layers with few outputs keep their rows (bits,
	// cbits nil: see compactColumns). Float conv2d: the weights [tap][out]
	// (cw[t*out+o]).
	cbits  []uint64
	blocks int
	cw     []float32

	// Add: the residual [resH, resW, resC], subsampled by stride, enters
	// channels chOff..chOff+resC-1 of the output [outH, outW, inC]; same
	// marks inputs of the same shape (stride 1, offset 0).
	resH, resW, resC, chOff int
	same                    bool
}

// Network is a loaded model ready to run.
type Network struct {
	model     *bnn.Model // the model without the sign bits the layers hold as column blocks (see Model)
	layers    []layer
	width     int   // widest activation, padded to 64
	accLen    int   // accumulator values a conv layer needs
	taps      int   // most window taps of a conv or pool layer
	slotOf    []int // activation number -> activation buffer (see assignSlots)
	slots     int   // activation buffers per example
	first     int   // the first layer LogitsBatch runs layer by layer (see prepareBatch)
	batch     int   // examples LogitsBatch runs layer by layer at once
	bwidth    int   // values per example of its buffers, padded to 64
	pool      sync.Pool
	batchPool sync.Pool
}

// scratch holds one example's activations: slots buffers (two for
// sequential networks) padded to a multiple of 64 with zeros past the live
// values (LogitsBatch: two buffers of n.batch examples, n.bwidth values
// each), the negated input for the SIMD per-example dense kernel, the batch
// dense kernel's scratch, the accumulators and window taps of conv layers.
type scratch struct {
	bufs  [][]float32
	neg   []float32
	dense *denseScratch
	acc   []float32
	taps  []tap
}

// tap is an in-bounds position of a window: x is the offset of its first
// channel in the input, w the index of its first weight (tap number).
type tap struct{ x, w int }

// Load reads, verifies and prepares a .bnn file.
func Load(path string) (*Network, error) {
	m, err := bnn.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return New(m)
}

// New prepares a model: dense, conv2d, maxpool2d, flatten, add and
// globalavgpool layers, each reading the activations the model names.
func New(m *bnn.Model) (*Network, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	shapes, err := m.Shapes()
	if err != nil {
		return nil, err
	}
	n := &Network{model: m}
	width := m.InputSize()
	for i := range m.Layers {
		l := &m.Layers[i]
		reads := m.Reads(i)
		in, outShape := shapes[reads[0]], shapes[i+1]
		ly := layer{name: l.Name, kind: l.Kind, binary: l.Encoding == bnn.SignBits, relu: l.Activation == bnn.ReLU,
			in: l.Inputs, out: l.Outputs, words: l.WordsPerRow(), bits: l.Bits, w: l.Weights, scale: l.Scale, offset: l.Offset,
			size: 1, src: reads[0]}
		for _, d := range outShape {
			ly.size *= d
		}
		switch l.Kind {
		case bnn.Flatten:
		case bnn.Dense:
			prepareDense(&ly, l) // binary: column blocks, or the rows where blocks would be larger (few outputs)
		case bnn.Add:
			prepareAdd(&ly, l, in, shapes[reads[1]], reads[1])
		case bnn.GlobalAvgPool:
			ly.inH, ly.inW, ly.inC = in[0], in[1], in[2]
		case bnn.Conv2D, bnn.MaxPool2D:
			ly.kh, ly.kw, ly.stride = l.KernelH, l.KernelW, l.Stride
			ly.ph, ly.pw = l.Pads()
			ly.inH, ly.inW, ly.inC = in[0], in[1], in[2]
			ly.outH, ly.outW = outShape[0], outShape[1]
			n.taps = max(n.taps, min(ly.kh, ly.inH)*min(ly.kw, ly.inW)) // in-bounds taps of a window (windowTaps)
			if l.Kind == bnn.Conv2D {
				prepareConv(&ly, l)
				n.accLen = max(n.accLen, 2*64*ly.blocks) // two positions at once
			}
		default:
			return nil, fmt.Errorf("runtime: layer %d (%s) is %s: this runtime does not run it", i+1, l.Name, l.Kind)
		}
		n.layers = append(n.layers, ly)
		width = max(width, ly.size)
	}
	if len(n.layers) == 0 {
		return nil, errors.New("runtime: model has no layers")
	}
	n.width = pad64(width)
	n.assignSlots()
	n.prepareBatch()
	n.pool.New = func() any { return n.newScratch(n.slots, 1, n.width) }
	n.batchPool.New = func() any { return n.newScratch(2, n.batch, n.bwidth) }
	// Keep the model without the sign rows of the layers held as column
	// blocks: the network holds each layer's signs once (Model rebuilds the
	// rows).
	mm := *m
	mm.Layers = slices.Clone(m.Layers)
	for i := range mm.Layers {
		if heldAsColumns(&n.layers[i]) {
			mm.Layers[i].Bits = nil
		}
	}
	n.model = &mm
	return n, nil
}

// newScratch allocates a scratch with bufs buffers of examples*width values.
func (n *Network) newScratch(bufs, examples, width int) *scratch {
	s := &scratch{neg: make([]float32, n.width), dense: newDenseScratch(examples),
		acc: make([]float32, n.accLen), taps: make([]tap, 0, n.taps)}
	for range bufs {
		s.bufs = append(s.bufs, make([]float32, examples*width))
	}
	return s
}

// prepareBatch chooses how LogitsBatch runs: from n.first on, layer by
// layer over blocks of n.batch examples, where n.first is the first binary
// dense layer held as column blocks such that every layer from it on reads
// the previous layer's output (no residual add); the layers before it, and
// every layer when there is no such layer (n.first = len(n.layers)), one
// example at a time. Blocks have up to 48 examples (a multiple of the batch
// kernel's group of 3), fewer for wide activations (at most 2^18 values per
// buffer).
func (n *Network) prepareBatch() {
	n.first = len(n.layers)
	for i := len(n.layers) - 1; i >= 0; i-- {
		l := &n.layers[i]
		if l.src != i || l.kind == bnn.Add {
			break
		}
		if l.kind == bnn.Dense && heldAsColumns(l) {
			n.first = i
		}
	}
	n.bwidth = 64
	if n.first < len(n.layers) {
		n.bwidth = pad64(n.model.InputSize())
		if n.first > 0 {
			n.bwidth = pad64(n.layers[n.first-1].size)
		}
		for _, l := range n.layers[n.first:] {
			n.bwidth = max(n.bwidth, pad64(l.size))
		}
	}
	n.batch = max(denseBatchGroup, min(48, 1<<18/n.bwidth)/denseBatchGroup*denseBatchGroup)
}

// assignSlots gives each activation a buffer: the model's input and each
// layer's output but the last (which goes to the caller's logits), a flatten
// layer's output sharing its input's buffer. A buffer is reused once every
// activation it holds has been read by its last reader, and never holds an
// activation its writer reads: a sequential network alternates two buffers;
// a residual block keeps its input in a third until its add.
func (n *Network) assignSlots() {
	last := len(n.layers)
	lastUse := make([]int, last+1) // the last layer reading each activation, -1 for none
	for a := range lastUse {
		lastUse[a] = -1
	}
	for i := range n.layers {
		l := &n.layers[i]
		lastUse[l.src] = max(lastUse[l.src], i)
		if l.kind == bnn.Add {
			lastUse[l.res] = max(lastUse[l.res], i)
		}
	}
	n.slotOf = make([]int, last+1)
	var busyUntil []int // per buffer: the last layer reading what it holds
	take := func(a, from int) {
		for s, until := range busyUntil {
			if until < from {
				n.slotOf[a], busyUntil[s] = s, lastUse[a]
				return
			}
		}
		n.slotOf[a] = len(busyUntil)
		busyUntil = append(busyUntil, lastUse[a])
	}
	take(0, 0)
	for i := range n.layers[:last-1] {
		if l := &n.layers[i]; l.kind == bnn.Flatten {
			s := n.slotOf[l.src]
			n.slotOf[i+1], busyUntil[s] = s, max(busyUntil[s], lastUse[i+1])
		} else {
			take(i+1, i)
		}
	}
	n.slotOf[last] = -1
	n.slots = len(busyUntil)
}

// prepareConv transposes a conv layer's weights into the kernels' layout.
func prepareConv(ly *layer, l *bnn.Layer) {
	ly.blocks = (ly.out + 63) / 64
	if ly.binary {
		ly.cbits, ly.bits = denseColumns(l.Bits, ly.words, ly.in, ly.out), nil
		return
	}
	ly.cw = make([]float32, ly.in*ly.out)
	for o := 0; o < ly.out; o++ {
		for t := 0; t < ly.in; t++ {
			ly.cw[t*ly.out+o] = l.Weights[o*ly.in+t]
		}
	}
	ly.w = nil
}

func pad64(n int) int { return (n + 63) &^ 63 }

// Model returns the model the network runs (a copy: the sign rows of the
// layers held as column blocks are rebuilt from them).
func (n *Network) Model() *bnn.Model {
	m := *n.model
	m.Layers = slices.Clone(n.model.Layers)
	for i := range m.Layers {
		if l := &n.layers[i]; heldAsColumns(l) {
			m.Layers[i].Bits = signRows(l)
		}
	}
	return &m
}

// InputSize returns the input values of one example.
func (n *Network) InputSize() int { return n.model.InputSize() }

// InputShape returns the shape of one example, e.g. [28, 28, 1] (channels last).
func (n *Network) InputShape() []int { return append([]int(nil), n.model.InputShape...) }

// NumClasses returns the number of logits.
func (n *Network) NumClasses() int { return n.layers[len(n.layers)-1].size }

// Normalize converts raw 8-bit pixels (one or more examples of InputShape,
// channels last) into the network's inputs, (p/255 - mean[c])/std[c] with
// the normalization recorded in the model, into dst (allocated when nil or
// short).
func (n *Network) Normalize(pixels []uint8, dst []float32) []float32 {
	if cap(dst) < len(pixels) {
		dst = make([]float32, len(pixels))
	}
	dst = dst[:len(pixels)]
	channels := len(n.model.InputMean)
	luts := make([][256]float32, channels)
	for c := range luts {
		mean, std := n.model.Normalization(c)
		for p := range luts[c] {
			luts[c][p] = (float32(p)/255 - mean) / std
		}
	}
	if channels == 1 {
		for i, p := range pixels {
			dst[i] = luts[0][p]
		}
		return dst
	}
	c := 0
	for i, p := range pixels {
		dst[i] = luts[c][p]
		if c++; c == channels {
			c = 0
		}
	}
	return dst
}

// Logits runs one example x (InputSize values) and writes its logits into
// out, allocated when nil or short; it returns out.
func (n *Network) Logits(x []float32, out []float32) []float32 {
	if len(x) != n.InputSize() {
		panic(fmt.Sprintf("runtime: input of %d values, the network wants %d", len(x), n.InputSize()))
	}
	if cap(out) < n.NumClasses() {
		out = make([]float32, n.NumClasses())
	}
	out = out[:n.NumClasses()]
	s := n.pool.Get().(*scratch)
	n.forward(s, x, out)
	n.pool.Put(s)
	return out
}

// Predict returns the class with the largest logit (Argmax of the logits):
// the first on ties; a NaN logit never wins, and when every logit is NaN
// (a NaN input, or a model that overflows on this input) Predict returns
// -1, no class.
func (n *Network) Predict(x []float32) int {
	var buf [64]float32
	return Argmax(n.Logits(x, buf[:0]))
}

// Argmax returns the index of the largest value of v, the first on ties
// (+Inf beats every finite value; -Inf wins only over NaN values). NaN
// values compare below every number: they never win. It returns -1 when v
// is empty or every value is NaN.
func Argmax(v []float32) int {
	best := -1
	for i, f := range v {
		if f == f && (best < 0 || f > v[best]) { // f == f: not NaN
			best = i
		}
	}
	return best
}

// forward runs one example through every layer into out. Activations live
// in the buffers assignSlots chose, zero past their values up to a multiple
// of 64 (the dense kernels read whole 64-value words).
func (n *Network) forward(s *scratch, x, out []float32) { n.forwardN(s, x, len(n.layers), out) }

// forwardN runs one example through the first k layers and writes the k-th
// layer's output into out.
func (n *Network) forwardN(s *scratch, x []float32, k int, out []float32) {
	in := s.bufs[n.slotOf[0]]
	copy(in, x)
	clear(in[len(x):pad64(len(x))])
	last := k - 1
	for li := range n.layers[:k] {
		l := &n.layers[li]
		cur := s.bufs[n.slotOf[l.src]]
		if l.kind == bnn.Flatten { // channels-last activations are already flat
			if li == last {
				copy(out, cur[:l.size])
			}
			continue
		}
		var next, res []float32
		dst := out
		if li < last {
			next = s.bufs[n.slotOf[li+1]]
			dst = next[:l.size]
		}
		if l.kind == bnn.Add {
			res = s.bufs[n.slotOf[l.res]]
		}
		layerForward(l, s, cur, res, dst)
		if li < last {
			clear(next[l.size:pad64(l.size)])
		}
	}
}

// layerForward runs layer l (not a flatten) on one example: input cur,
// residual res (add layers), output dst.
func layerForward(l *layer, s *scratch, cur, res, dst []float32) {
	switch {
	case l.kind == bnn.Conv2D && l.binary:
		binaryConvLayer(l, s, cur, dst)
	case l.kind == bnn.Conv2D:
		floatConvLayer(l, s, cur, dst)
	case l.kind == bnn.MaxPool2D:
		maxPoolLayer(l, s, cur, dst)
	case l.kind == bnn.Add:
		addLayer(l, cur, res, dst)
	case l.kind == bnn.GlobalAvgPool:
		avgPoolLayer(l, cur, dst)
	case l.binary:
		binaryLayer(l, cur, s, dst)
	default:
		floatLayer(l, cur, dst)
	}
}

// forwardBatch runs nb <= n.batch examples (x: nb*InputSize values) into out
// (nb*NumClasses values): the layers before n.first one example at a time,
// as in forward (their activations stay in cache); from n.first on, layer
// by layer over the nb examples (s's two buffers, n.bwidth values per
// example): binary dense layers held as column blocks with the batch
// kernel, which reads each weight word once per group of 3 examples, the
// others one example at a time. Same results as forward, bit for bit.
func (n *Network) forwardBatch(s, one *scratch, x []float32, nb int, out []float32) {
	in, classes := n.InputSize(), n.NumClasses()
	if n.first == len(n.layers) {
		for e := 0; e < nb; e++ {
			n.forward(one, x[e*in:(e+1)*in], out[e*classes:(e+1)*classes])
		}
		return
	}
	w := n.bwidth
	cur, next := s.bufs[0][:nb*w], s.bufs[1][:nb*w]
	size := in // values of the first batched layer's input
	if n.first > 0 {
		size = n.layers[n.first-1].size
	}
	for e := 0; e < nb; e++ {
		row := cur[e*w : (e+1)*w]
		if n.first > 0 {
			n.forwardN(one, x[e*in:(e+1)*in], n.first, row[:size])
		} else {
			copy(row, x[e*in:(e+1)*in])
		}
		clear(row[size:pad64(size)])
	}
	last := len(n.layers) - 1
	for li := n.first; li <= last; li++ {
		l := &n.layers[li]
		if l.kind == bnn.Flatten {
			if li == last {
				for e := 0; e < nb; e++ {
					copy(out[e*classes:(e+1)*classes], cur[e*w:e*w+l.size])
				}
			}
			continue
		}
		dst, stride := next, w
		if li == last {
			dst, stride = out, classes
		}
		if l.kind == bnn.Dense && heldAsColumns(l) {
			denseBatchLayer(l, cur, w, nb, dst, stride, s.dense)
		} else {
			for e := 0; e < nb; e++ {
				layerForward(l, s, cur[e*w:(e+1)*w], nil, dst[e*stride:e*stride+l.size])
			}
		}
		if li < last {
			for e := 0; e < nb; e++ {
				clear(next[e*w+l.size : e*w+pad64(l.size)])
			}
		}
		cur, next = next, cur
	}
}

// floatLayer: out[o] = act(scale[o]*dot(w[o], x) + offset[o]).
func floatLayer(l *layer, x, out []float32) {
	x = x[:l.in]
	for o := range out {
		row := l.w[o*l.in : (o+1)*l.in]
		var a0, a1, a2, a3 float32
		i := 0
		for ; i+4 <= len(row); i += 4 {
			a0 += row[i] * x[i]
			a1 += row[i+1] * x[i+1]
			a2 += row[i+2] * x[i+2]
			a3 += row[i+3] * x[i+3]
		}
		for ; i < len(row); i++ {
			a0 += row[i] * x[i]
		}
		out[o] = finish(l, o, (a0+a1)+(a2+a3))
	}
}

// finish applies the folded scale and offset and the activation.
func finish(l *layer, o int, z float32) float32 {
	y := l.scale[o]*z + l.offset[o]
	if l.relu && !(y > 0) {
		y = 0
	}
	return y
}

// binaryLayer: out[o] = act(scale[o]*z[o] + offset[o]) with z[o] the
// add-only signed sum of a dense kernel: the column kernel
// (binaryDenseBatch, one example) or, for layers kept as rows, binarySums
// (x padded with zeros to 64*words).
func binaryLayer(l *layer, x []float32, s *scratch, out []float32) {
	switch {
	case l.cbits != nil:
		binaryDenseBatch(l.cbits, l.in, l.out, x, l.in, 1, out, l.out, s.dense)
	case useSIMD:
		binarySums(l.bits, l.words, x[:64*l.words], s.neg[:64*l.words], out)
	default:
		binarySumsGeneric(l.bits, l.words, x[:64*l.words], out)
	}
	finishVec(out, out, l.scale, l.offset, l.relu)
}

// windowTaps lists the in-bounds positions of the window of output (oy, ox):
// zero padding adds nothing to a convolution and never wins a max pooling,
// so padded positions are left out.
func windowTaps(l *layer, oy, ox int, taps []tap) []tap {
	taps = taps[:0]
	// Only the rows and columns of the window inside the input: at most
	// min(kh, inH) x min(kw, inW) taps, whatever the window's size.
	y0, x0 := oy*l.stride-l.ph, ox*l.stride-l.pw
	for dy := max(0, -y0); dy < min(l.kh, l.inH-y0); dy++ {
		yy := y0 + dy
		for dx := max(0, -x0); dx < min(l.kw, l.inW-x0); dx++ {
			xx := x0 + dx
			taps = append(taps, tap{x: (yy*l.inW + xx) * l.inC, w: (dy*l.kw + dx) * l.inC})
		}
	}
	return taps
}

// binaryConvLayer runs a sign-bit convolution: for each output position, the
// add-only kernels accumulate the window's inputs into 64 (or 16, 32) output
// channels at a time, two neighbouring positions at once where both windows
// lie inside the input; then scale, offset and activation per channel.
func binaryConvLayer(l *layer, s *scratch, x, out []float32) {
	blk := 64 * l.blocks
	acc0, acc1 := s.acc[:blk], s.acc[blk:2*blk]
	dx := l.stride * l.inC
	for oy := 0; oy < l.outH; oy++ {
		for ox := 0; ox < l.outW; {
			s.taps = windowTaps(l, oy, ox, s.taps)
			pair := ox+1 < l.outW && windowInside(l, oy, ox) && windowInside(l, oy, ox+1)
			for k := 0; k < l.blocks; k++ {
				bits := l.cbits[k*l.in : (k+1)*l.in]
				lanes := min(64, l.out-64*k)
				if pair {
					binaryConvBlock2(bits, x, s.taps, l.inC, lanes, dx, acc0[64*k:64*k+64], acc1[64*k:64*k+64])
				} else {
					binaryConvBlock(bits, x, s.taps, l.inC, lanes, acc0[64*k:64*k+64])
				}
			}
			finishRow(l, out, oy, ox, acc0)
			if pair {
				finishRow(l, out, oy, ox+1, acc1)
				ox += 2
			} else {
				ox++
			}
		}
	}
}

// windowInside reports whether the window of output (oy, ox) lies inside
// the input (no padding).
func windowInside(l *layer, oy, ox int) bool {
	y0, x0 := oy*l.stride-l.ph, ox*l.stride-l.pw
	return y0 >= 0 && y0+l.kh <= l.inH && x0 >= 0 && x0+l.kw <= l.inW
}

// finishRow writes the channels of output (oy, ox) from their sums.
func finishRow(l *layer, out []float32, oy, ox int, acc []float32) {
	finishVec(out[(oy*l.outW+ox)*l.out:(oy*l.outW+ox+1)*l.out], acc, l.scale, l.offset, l.relu)
}

// floatConvLayer runs a float32 convolution with the same loops.
func floatConvLayer(l *layer, s *scratch, x, out []float32) {
	acc := s.acc[:l.out]
	for oy := 0; oy < l.outH; oy++ {
		for ox := 0; ox < l.outW; ox++ {
			s.taps = windowTaps(l, oy, ox, s.taps)
			clear(acc)
			for _, t := range s.taps {
				xs := x[t.x : t.x+l.inC]
				for c, v := range xs {
					axpy(acc, l.cw[(t.w+c)*l.out:(t.w+c+1)*l.out], v)
				}
			}
			finishRow(l, out, oy, ox, acc)
		}
	}
}

// maxPoolLayer takes the maximum of each channel over each window.
func maxPoolLayer(l *layer, s *scratch, x, out []float32) {
	c := l.inC
	for oy := 0; oy < l.outH; oy++ {
		for ox := 0; ox < l.outW; ox++ {
			s.taps = windowTaps(l, oy, ox, s.taps)
			row := out[(oy*l.outW+ox)*c : (oy*l.outW+ox+1)*c]
			copy(row, x[s.taps[0].x:s.taps[0].x+c])
			for _, t := range s.taps[1:] {
				maxInto(row, x[t.x:t.x+c])
			}
		}
	}
}

// LogitsBatch runs batch examples stored one after the other in x and writes
// their logits, one row of NumClasses() per example, into out (allocated when
// nil or short). Examples are spread over GOMAXPROCS goroutines.
func (n *Network) LogitsBatch(x []float32, batch int, out []float32) []float32 {
	return n.LogitsBatchWorkers(x, batch, out, runtime.GOMAXPROCS(0))
}

// LogitsBatchWorkers is LogitsBatch with at most workers goroutines (1: run
// in the calling goroutine).
func (n *Network) LogitsBatchWorkers(x []float32, batch int, out []float32, workers int) []float32 {
	in, classes := n.InputSize(), n.NumClasses()
	if len(x) != batch*in {
		panic(fmt.Sprintf("runtime: batch of %d examples needs %d input values, got %d", batch, batch*in, len(x)))
	}
	if cap(out) < batch*classes {
		out = make([]float32, batch*classes)
	}
	out = out[:batch*classes]
	run := func(from, to int) {
		s, one := n.batchPool.Get().(*scratch), n.pool.Get().(*scratch)
		for e := from; e < to; e += n.batch {
			nb := min(n.batch, to-e)
			n.forwardBatch(s, one, x[e*in:(e+nb)*in], nb, out[e*classes:(e+nb)*classes])
		}
		n.batchPool.Put(s)
		n.pool.Put(one)
	}
	workers = min(max(workers, 1), batch)
	if workers <= 1 {
		run(0, batch)
		return out
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		from, to := w*batch/workers, (w+1)*batch/workers
		wg.Go(func() { run(from, to) })
	}
	wg.Wait()
	return out
}

// PredictBatch returns the predicted class of each example of the batch,
// appended to classes[:0]: Argmax of its logits, as Predict (-1 for an
// example whose logits are all NaN).
func (n *Network) PredictBatch(x []float32, batch int, classes []int) []int {
	logits := n.LogitsBatch(x, batch, nil)
	k := n.NumClasses()
	classes = classes[:0]
	for e := 0; e < batch; e++ {
		classes = append(classes, Argmax(logits[e*k:(e+1)*k]))
	}
	return classes
}
