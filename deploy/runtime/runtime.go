// Package runtime runs binary-weight networks exported by binnet (.bnn files,
// see deploy/bnn) in pure Go, without GoMLX: it can be linked into a small
// binary or a WASM module.
//
// In binarized layers no input is multiplied by a weight: output o is
// sum_i s_oi*x_i with s_oi in {-1,+1} given by one bit, computed by flipping
// the sign of x_i where the bit is 0 and adding (XOR of the float's sign bit,
// or, with GOEXPERIMENT=simd on AVX-512 CPUs, a masked select of x or -x, 16
// lanes at a time). The folded batch norm then applies one multiply and one
// add per output (scale and offset), and ReLU on hidden layers. Float layers
// are plain dot products.
//
// A Network is immutable and safe for concurrent use.
package runtime

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/binnet/binnet/deploy/bnn"
)

// layer is one prepared layer.
type layer struct {
	name          string
	binary, relu  bool
	in, out       int
	words         int // 64-bit words per sign row (binary)
	bits          []uint64
	w             []float32 // float weights, out rows of in
	scale, offset []float32
}

// Network is a loaded model ready to run.
type Network struct {
	model  *bnn.Model
	layers []layer
	width  int // widest activation, padded to 64
	pool   sync.Pool
}

// scratch holds one example's activations: two buffers padded to a multiple
// of 64 with zeros past the live values, and the negated input for the SIMD
// kernel.
type scratch struct {
	a, b, neg []float32
}

// Load reads, verifies and prepares a .bnn file.
func Load(path string) (*Network, error) {
	m, err := bnn.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return New(m)
}

// New prepares a model. It supports dense layers (MLPs); convolutional layers
// are part of the format but not of this runtime yet.
func New(m *bnn.Model) (*Network, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	n := &Network{model: m}
	width := m.InputSize()
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Kind != bnn.Dense {
			return nil, fmt.Errorf("runtime: layer %d (%s) is %s: this runtime runs dense layers only", i+1, l.Name, l.Kind)
		}
		n.layers = append(n.layers, layer{name: l.Name, binary: l.Encoding == bnn.SignBits, relu: l.Activation == bnn.ReLU,
			in: l.Inputs, out: l.Outputs, words: l.WordsPerRow(), bits: l.Bits, w: l.Weights, scale: l.Scale, offset: l.Offset})
		width = max(width, l.Outputs)
	}
	if len(n.layers) == 0 {
		return nil, errors.New("runtime: model has no layers")
	}
	n.width = pad64(width)
	n.pool.New = func() any {
		return &scratch{a: make([]float32, n.width), b: make([]float32, n.width), neg: make([]float32, n.width)}
	}
	return n, nil
}

func pad64(n int) int { return (n + 63) &^ 63 }

// Model returns the model the network runs.
func (n *Network) Model() *bnn.Model { return n.model }

// InputSize returns the input values of one example.
func (n *Network) InputSize() int { return n.model.InputSize() }

// NumClasses returns the number of logits.
func (n *Network) NumClasses() int { return n.layers[len(n.layers)-1].out }

// Normalize converts raw 8-bit pixels into the network's inputs,
// (p/255 - mean)/std with the normalization recorded in the model, into dst
// (allocated when nil or short).
func (n *Network) Normalize(pixels []uint8, dst []float32) []float32 {
	if cap(dst) < len(pixels) {
		dst = make([]float32, len(pixels))
	}
	dst = dst[:len(pixels)]
	var lut [256]float32
	for p := range lut {
		lut[p] = (float32(p)/255 - n.model.InputMean) / n.model.InputStd
	}
	for i, p := range pixels {
		dst[i] = lut[p]
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

// Predict returns the class with the largest logit (the first on ties).
func (n *Network) Predict(x []float32) int {
	var buf [64]float32
	return argmax(n.Logits(x, buf[:0]))
}

func argmax(v []float32) int {
	best := 0
	for i, f := range v {
		if f > v[best] {
			best = i
		}
	}
	return best
}

// forward runs one example through every layer into out.
func (n *Network) forward(s *scratch, x, out []float32) {
	cur, next := s.a, s.b
	copy(cur, x)
	clear(cur[len(x):pad64(len(x))])
	for li := range n.layers {
		l := &n.layers[li]
		dst := next[:l.out]
		if li == len(n.layers)-1 {
			dst = out
		}
		if l.binary {
			binaryLayer(l, cur, s.neg, dst)
		} else {
			floatLayer(l, cur, dst)
		}
		if li < len(n.layers)-1 {
			clear(next[l.out:pad64(l.out)])
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
// add-only signed sum of binaryDot. x is padded with zeros to 64*words.
func binaryLayer(l *layer, x, neg, out []float32) {
	if useSIMD {
		binarySums(l.bits, l.words, x[:64*l.words], neg[:64*l.words], out)
	} else {
		binarySumsGeneric(l.bits, l.words, x[:64*l.words], out)
	}
	for o := range out {
		out[o] = finish(l, o, out[o])
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
		s := n.pool.Get().(*scratch)
		for e := from; e < to; e++ {
			n.forward(s, x[e*in:(e+1)*in], out[e*classes:(e+1)*classes])
		}
		n.pool.Put(s)
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

// PredictBatch returns the predicted class of each example of the batch.
func (n *Network) PredictBatch(x []float32, batch int, classes []int) []int {
	logits := n.LogitsBatch(x, batch, nil)
	k := n.NumClasses()
	classes = classes[:0]
	for e := 0; e < batch; e++ {
		classes = append(classes, argmax(logits[e*k:(e+1)*k]))
	}
	return classes
}
