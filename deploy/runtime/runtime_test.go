package runtime

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/deploy/bnn"
)

// normals returns n draws of a normal distribution of standard deviation s.
func normals(r *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * s)
	}
	return v
}

// setWeights stores the weights w, [l.Inputs, l.Outputs], in l: packed sign
// bits when binary, float32 otherwise.
func setWeights(l *bnn.Layer, w []float32, binary bool) {
	if binary {
		l.Encoding, l.Bits = bnn.SignBits, bnn.PackSigns(w, l.Inputs, l.Outputs)
	} else {
		l.Encoding, l.Weights = bnn.Float32, w
	}
}

// randomModel returns an MLP with the given widths; binary says which layers
// are sign-bit layers. Hidden layers have ReLU.
func randomModel(r *rand.Rand, widths []int, binary []bool) *bnn.Model {
	floats := func(n int, s float64) []float32 { return normals(r, n, s) }
	m := &bnn.Model{Name: "random", InputShape: []int{widths[0]}, InputMean: []float32{0.5}, InputStd: []float32{0.25}}
	for i := 0; i+1 < len(widths); i++ {
		in, out := widths[i], widths[i+1]
		l := bnn.Layer{Name: "dense", Kind: bnn.Dense, Inputs: in, Outputs: out, Scale: floats(out, 1/math.Sqrt(float64(in))), Offset: floats(out, 1)}
		w := floats(in*out, 1/math.Sqrt(float64(in)))
		setWeights(&l, w, binary[i])
		if i+2 < len(widths) {
			l.Activation = bnn.ReLU
		}
		m.Layers = append(m.Layers, l)
	}
	return m
}

// reference runs the model in float64 with explicit ±1 weights, straight
// from the definitions: NHWC activations, zero padding for convolutions,
// padded positions ignored by max pooling.
func reference(m *bnn.Model, x []float32) []float64 {
	cur := make([]float64, len(x))
	for i, v := range x {
		cur[i] = float64(v)
	}
	shapes, err := m.Shapes()
	if err != nil {
		panic(err)
	}
	weight := func(l *bnn.Layer, o, i int) float64 {
		if l.Encoding == bnn.SignBits {
			return float64(l.Sign(o, i))
		}
		return float64(l.Weights[o*l.Inputs+i])
	}
	act := func(l *bnn.Layer, o int, z float64) float64 {
		y := float64(l.Scale[o])*z + float64(l.Offset[o])
		if l.Activation == bnn.ReLU && y < 0 {
			y = 0
		}
		return y
	}
	acts := [][]float64{cur}
	for li := range m.Layers {
		l := &m.Layers[li]
		reads := m.Reads(li)
		cur = acts[reads[0]]
		in, out := shapes[reads[0]], shapes[li+1]
		var next []float64
		switch l.Kind {
		case bnn.Flatten:
			next = cur
		case bnn.GlobalAvgPool:
			next = make([]float64, in[2])
			for p := 0; p < in[0]*in[1]; p++ {
				for c := range next {
					next[c] += cur[p*in[2]+c] / float64(in[0]*in[1])
				}
			}
		case bnn.Add:
			// The residual, subsampled and moved to its channels (zero
			// elsewhere), added to the input; any shape when the same.
			res, rs := acts[reads[1]], shapes[reads[1]]
			next = make([]float64, len(cur))
			for i, v := range cur {
				var r float64
				if len(in) != 3 {
					r = res[i]
				} else if c, p := i%in[2], i/in[2]; c >= l.ChannelOffset && c < l.ChannelOffset+rs[2] {
					y, x := p/in[1], p%in[1]
					r = res[((y*l.Stride)*rs[1]+x*l.Stride)*rs[2]+c-l.ChannelOffset]
				}
				next[i] = v + r
				if l.Activation == bnn.ReLU && next[i] < 0 {
					next[i] = 0
				}
			}
		case bnn.Dense:
			next = make([]float64, l.Outputs)
			for o := range next {
				var z float64
				for i := 0; i < l.Inputs; i++ {
					z += weight(l, o, i) * cur[i]
				}
				next[o] = act(l, o, z)
			}
		case bnn.Conv2D, bnn.MaxPool2D:
			ph, pw := l.Pads()
			h, w, c := in[0], in[1], in[2]
			next = make([]float64, out[0]*out[1]*out[2])
			for oy := 0; oy < out[0]; oy++ {
				for ox := 0; ox < out[1]; ox++ {
					for o := 0; o < out[2]; o++ {
						z, best := 0.0, math.Inf(-1)
						for dy := 0; dy < l.KernelH; dy++ {
							for dx := 0; dx < l.KernelW; dx++ {
								yy, xx := oy*l.Stride+dy-ph, ox*l.Stride+dx-pw
								if yy < 0 || yy >= h || xx < 0 || xx >= w {
									continue // zero padding; never the maximum
								}
								if l.Kind == bnn.MaxPool2D {
									best = math.Max(best, cur[(yy*w+xx)*c+o])
									continue
								}
								for ci := 0; ci < c; ci++ {
									z += weight(l, o, (dy*l.KernelW+dx)*c+ci) * cur[(yy*w+xx)*c+ci]
								}
							}
						}
						if l.Kind == bnn.MaxPool2D {
							next[(oy*out[1]+ox)*out[2]+o] = best
						} else {
							next[(oy*out[1]+ox)*out[2]+o] = act(l, o, z)
						}
					}
				}
			}
		}
		acts = append(acts, next)
	}
	return acts[len(acts)-1]
}

// randomConvModel returns a conv network over [h, w, c] images: the
// given convolutions (binary or float, channels, kernel, stride, padding),
// a max pooling, a flatten and a dense classifier with 10 outputs.
type convSpec struct {
	binary          bool
	channels, k, st int
	pad             uint8
}

func randomConvModel(r *rand.Rand, input []int, convs []convSpec, pool [3]int, denseBinary bool) *bnn.Model {
	floats := func(n int, s float64) []float32 { return normals(r, n, s) }
	m := &bnn.Model{Name: "random conv", InputShape: input, InputMean: []float32{0.5}, InputStd: []float32{0.25}}
	c := input[2]
	for i, cs := range convs {
		in := cs.k * cs.k * c
		l := bnn.Layer{Name: "conv", Kind: bnn.Conv2D, Activation: bnn.ReLU, Inputs: in, Outputs: cs.channels,
			KernelH: cs.k, KernelW: cs.k, Stride: cs.st, Padding: cs.pad,
			Scale: floats(cs.channels, 1/math.Sqrt(float64(in))), Offset: floats(cs.channels, 1)}
		w := floats(in*cs.channels, 1/math.Sqrt(float64(in)))
		setWeights(&l, w, cs.binary)
		if i == 0 {
			l.Activation = bnn.None // negative values reach the pooling
		}
		m.Layers = append(m.Layers, l)
		c = cs.channels
	}
	m.Layers = append(m.Layers, bnn.Layer{Name: "pool", Kind: bnn.MaxPool2D, KernelH: pool[0], KernelW: pool[0], Stride: pool[1], Padding: uint8(pool[2])})
	in := 1
	for _, d := range lastShape(m) {
		in *= d
	}
	m.Layers = append(m.Layers, bnn.Layer{Name: "flatten", Kind: bnn.Flatten})
	l := bnn.Layer{Name: "dense", Kind: bnn.Dense, Inputs: in, Outputs: 10, Scale: floats(10, 1/math.Sqrt(float64(in))), Offset: floats(10, 1)}
	w := floats(in*10, 1)
	setWeights(&l, w, denseBinary)
	m.Layers = append(m.Layers, l)
	return m
}

// lastShape returns the output shape of the model's last layer (which may
// not be a vector).
func lastShape(m *bnn.Model) []int {
	cur := m.InputShape
	for i := range m.Layers {
		out, err := m.Layers[i].OutputShape(cur)
		if err != nil {
			panic(err)
		}
		cur = out
	}
	return cur
}

// checkBatchEqualsSingle checks that the logits of a batch of examples x,
// computed on 2 goroutines, are bit for bit those of each example alone.
func checkBatchEqualsSingle(t *testing.T, what string, net *Network, x []float32, batch int) {
	t.Helper()
	in := len(x) / batch
	out := net.LogitsBatchWorkers(x, batch, nil, 2)
	for e := 0; e < batch; e++ {
		one := net.Logits(x[e*in:(e+1)*in], nil)
		for j := range one {
			if one[j] != out[e*len(one)+j] {
				t.Fatalf("%s: example %d logit %d: batch %v, single %v", what, e, j, out[e*len(one)+j], one[j])
			}
		}
	}
}

// randomInput returns n standard normal inputs.
func randomInput(r *rand.Rand, n int) []float32 { return normals(r, n, 1) }

func checkClose(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*scale {
			t.Fatalf("%s: output %d is %v, want %v (|diff| %g)", what, i, got[i], want[i], d)
		}
	}
}

func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		widths []int
		binary []bool
	}{
		{[]int{784, 300, 100, 10}, []bool{true, true, true}},
		{[]int{784, 300, 100, 10}, []bool{true, false, true}},
		{[]int{70, 65, 9, 3}, []bool{true, true, true}},      // fan-ins not multiples of 64 or 16
		{[]int{130, 7, 5}, []bool{false, true}},              // few outputs: the one-row SIMD tail
		{[]int{1, 1}, []bool{true}},                          // smallest
		{[]int{784, 784, 784, 10}, []bool{true, true, true}}, // the paper's wide MLP
	} {
		m := randomModel(r, c.widths, c.binary)
		net, err := New(m)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 5; k++ {
			x := randomInput(r, c.widths[0])
			checkClose(t, "Logits", net.Logits(x, nil), reference(m, x))
		}
		// Batched, with several workers and with one, equals batch 1.
		const batch = 7
		x := randomInput(r, batch*c.widths[0])
		for _, workers := range []int{1, 3} {
			out := net.LogitsBatchWorkers(x, batch, nil, workers)
			k := net.NumClasses()
			for e := 0; e < batch; e++ {
				one := net.Logits(x[e*c.widths[0]:(e+1)*c.widths[0]], nil)
				for j := range one {
					if one[j] != out[e*k+j] {
						t.Fatalf("widths %v workers %d: example %d logit %d: batch %v, single %v", c.widths, workers, e, j, out[e*k+j], one[j])
					}
				}
			}
		}
	}
}

// TestConvAgainstReference runs conv networks (binary and float
// convolutions, same and valid padding, strides 1 and 2, channel counts
// that are not multiples of 16 or 64, max pooling with and without
// padding) against the float64 reference, batch 1 and batched.
func TestConvAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		name   string
		input  []int
		convs  []convSpec
		pool   [3]int // kernel, stride, padding
		binary bool
	}{
		{"cnn-like", []int{12, 12, 1}, []convSpec{{true, 32, 3, 1, bnn.PadSame}, {true, 64, 3, 1, bnn.PadSame}}, [3]int{2, 2, 0}, true},
		{"mixed", []int{10, 9, 3}, []convSpec{{false, 20, 3, 1, bnn.PadSame}, {true, 70, 3, 2, bnn.PadValid}, {true, 17, 1, 1, bnn.PadValid}}, [3]int{3, 2, 1}, false},
		{"wide", []int{6, 6, 130}, []convSpec{{true, 130, 3, 1, bnn.PadSame}, {false, 9, 5, 2, bnn.PadSame}}, [3]int{2, 1, 0}, true},
		{"lanes", []int{5, 7, 2}, []convSpec{{true, 1, 3, 1, bnn.PadSame}, {true, 16, 3, 1, bnn.PadSame}, {true, 33, 2, 1, bnn.PadValid}, {true, 48, 3, 1, bnn.PadSame}}, [3]int{3, 3, 1}, true},
		// Windows larger than their input (same padding of up to the input's size).
		{"big windows", []int{2, 3, 2}, []convSpec{{true, 8, 5, 1, bnn.PadSame}, {false, 4, 3, 2, bnn.PadSame}}, [3]int{3, 1, 1}, true},
	} {
		m := randomConvModel(r, c.input, c.convs, c.pool, c.binary)
		net, err := New(m)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		in := net.InputSize()
		for k := 0; k < 3; k++ {
			x := randomInput(r, in)
			checkClose(t, c.name, net.Logits(x, nil), reference(m, x))
		}
		checkBatchEqualsSingle(t, c.name, net, randomInput(r, 5*in), 5)
	}
}

// TestConvKernelsAgree checks the SIMD convolution kernels (one position and
// two positions at once) against the portable one, bit for bit (all sum taps
// in the same order), for every number of lanes, windows cut by the border
// and several input channels.
func TestConvKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, inC := range []int{1, 3, 17} {
		for lanes := 1; lanes <= 64; lanes++ {
			ntaps := 1 + r.IntN(9)
			bits := make([]uint64, 9*inC)
			for i := range bits {
				bits[i] = r.Uint64()
				if lanes < 64 {
					bits[i] &= 1<<uint(lanes) - 1 // as prepareConv builds them: 0 past the channels
				}
			}
			dx := 1 + r.IntN(2*inC)
			x := randomInput(r, 9*inC+dx)
			var taps []tap
			for _, k := range r.Perm(9)[:ntaps] {
				taps = append(taps, tap{x: k * inC, w: k * inC})
			}
			gen, gen2 := make([]float32, 64), make([]float32, 64)
			binaryConvGeneric(bits, x, taps, inC, lanes, gen)
			binaryConvGeneric(bits, x[dx:], taps, inC, lanes, gen2)
			simd := make([]float32, 64)
			binaryConvBlock(bits, x, taps, inC, lanes, simd)
			p0, p1 := make([]float32, 64), make([]float32, 64)
			binaryConvBlock2(bits, x, taps, inC, lanes, dx, p0, p1)
			for j := 0; j < lanes; j++ {
				for pos, g := range [][]float32{gen, gen2} {
					var want float64
					for _, tp := range taps {
						for c := 0; c < inC; c++ {
							v := float64(x[pos*dx+tp.x+c])
							if bits[tp.w+c]>>uint(j)&1 == 1 {
								want += v
							} else {
								want -= v
							}
						}
					}
					if math.Abs(float64(g[j])-want) > 1e-4 {
						t.Fatalf("inC %d lanes %d position %d channel %d: generic %v, want %v", inC, lanes, pos, j, g[j], want)
					}
				}
				if gen[j] != simd[j] || gen[j] != p0[j] || gen2[j] != p1[j] {
					t.Fatalf("inC %d lanes %d channel %d: generic %v %v, %s %v, two positions %v %v", inC, lanes, j, gen[j], gen2[j], Kernel(), simd[j], p0[j], p1[j])
				}
			}
		}
	}
}

// TestKernelsAgree checks the SIMD kernel (when this build and CPU have
// one) against the portable one, on rows with all bit patterns.
func TestKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, in := range []int{1, 15, 16, 17, 64, 100, 784, 1024} {
		out := 9
		words := (in + 63) / 64
		bits := make([]uint64, words*out)
		for i := range bits {
			bits[i] = r.Uint64()
		}
		// clear padding bits, as the format requires
		if in%64 != 0 {
			for o := 0; o < out; o++ {
				bits[o*words+words-1] &= 1<<uint(in%64) - 1
			}
		}
		x := make([]float32, 64*words)
		copy(x, randomInput(r, in))
		gen := make([]float32, out)
		binarySumsGeneric(bits, words, x, gen)
		simd := make([]float32, out)
		binarySums(bits, words, x, make([]float32, len(x)), simd)
		for o := 0; o < out; o++ {
			var want float64
			for i := 0; i < in; i++ {
				if bits[o*words+i/64]>>(uint(i)%64)&1 == 1 {
					want += float64(x[i])
				} else {
					want -= float64(x[i])
				}
			}
			for _, got := range []float32{gen[o], simd[o]} {
				if math.Abs(float64(got)-want) > 1e-4 {
					t.Fatalf("in %d row %d: generic %v, %s %v, want %v", in, o, gen[o], Kernel(), simd[o], want)
				}
			}
		}
	}
}

// TestBinaryKernelsAreAddOnly proves the add-only property of the binary
// kernels statically: in the kernel files, no function whose name starts with
// "binary" contains a multiplication or a division (of anything: weights,
// inputs or indices), and the only functions they call are bit
// reinterpretations, loads, stores, masks, selects and additions.
func TestBinaryKernelsAreAddOnly(t *testing.T) {
	allowed := map[string]bool{
		// math: reinterpret a float's bits (no arithmetic)
		"math.Float32bits": true, "math.Float32frombits": true,
		// archsimd: load/store, bits to lane mask, select, add
		"archsimd.LoadFloat32x16": true, "archsimd.Mask32x16FromBits": true,
		"IfElse": true, "Add": true, "Store": true,
		// Go built-ins and conversions
		"len": true, "uint16": true, "uint32": true, "uint": true,
		// convolutions: broadcast x (and -x) to 16 lanes, zero the accumulators
		"archsimd.BroadcastFloat32x16": true, "clear": true, "Merge": true, "Sub": true,
		// the kernels themselves
		"binaryRow": true, "binaryRows4": true, "binaryHsum": true, "binarySumsGeneric": true,
		"binaryConvGeneric": true, "binaryConv64": true, "binaryConv64x2": true, "binaryConv32": true, "binaryConv16": true,
		"binaryConvBlock": true,
	}
	files, _ := filepath.Glob("kernel_binary*.go")
	if len(files) < 2 {
		t.Fatalf("kernel files not found: %v", files)
	}
	fset := token.NewFileSet()
	kernels := 0
	found := map[string]bool{}
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "binary") || fn.Body == nil {
				continue
			}
			kernels++
			found[fn.Name.Name] = true
			checkAddOnly(t, fset, fn, allowed)
		}
	}
	for _, name := range []string{"binarySums", "binarySumsGeneric", "binaryConvBlock", "binaryConvBlock2", "binaryConvGeneric"} {
		if !found[name] {
			t.Errorf("kernel %s not found among the checked functions", name)
		}
	}
	if useSIMD {
		for _, name := range []string{"binaryRow", "binaryRows4", "binaryConv64", "binaryConv64x2", "binaryConv32", "binaryConv16"} {
			if !found[name] {
				t.Errorf("SIMD kernel %s not found among the checked functions", name)
			}
		}
	}
	// The layers call no other sign-bit arithmetic than these kernels: in
	// the other files of the package (runtime.go, the layer_*.go files of
	// the residual layers...), only binaryLayer and binaryConvLayer touch a
	// layer's sign bits, and only to hand them to the kernels (no indexing),
	// and prepareConv, which transposes them once at load time.
	all, _ := filepath.Glob("*.go")
	others := 0
	for _, file := range all {
		if strings.HasSuffix(file, "_test.go") || strings.HasPrefix(file, "kernel_") {
			continue
		}
		others++
		src, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range src.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Name.Name == "prepareConv" {
				continue
			}
			layerFn := fn.Name.Name == "binaryLayer" || fn.Name.Name == "binaryConvLayer"
			if layerFn {
				found[fn.Name.Name] = file == "runtime.go"
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch e := n.(type) {
				case *ast.IndexExpr:
					if sel, ok := e.X.(*ast.SelectorExpr); ok && (sel.Sel.Name == "bits" || sel.Sel.Name == "cbits") {
						t.Errorf("%s: %s reads sign bits itself", fset.Position(e.Pos()), fn.Name.Name)
					}
				case *ast.SelectorExpr:
					if (e.Sel.Name == "bits" || e.Sel.Name == "cbits") && !layerFn {
						t.Errorf("%s: %s uses sign bits (%s); only the kernels may", fset.Position(e.Pos()), fn.Name.Name, e.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if !found["binaryLayer"] || !found["binaryConvLayer"] || others < 2 {
		t.Errorf("binaryLayer or binaryConvLayer not found in runtime.go, or the layer files not found (%d files)", others)
	}
	// And the dispatch: binary layers call only these kernels before the
	// (per-output, not per-weight) scale and offset.
	t.Logf("kernel in use: %s; %d kernel functions checked", Kernel(), kernels)
}

func TestNormalizeAndErrors(t *testing.T) {
	m := randomModel(rand.New(rand.NewPCG(5, 6)), []int{3, 2}, []bool{true})
	net, _ := New(m)
	x := net.Normalize([]uint8{0, 255, 51}, nil)
	want := []float32{(0 - 0.5) / 0.25, (1 - 0.5) / 0.25, (0.2 - 0.5) / 0.25}
	for i := range want {
		if math.Abs(float64(x[i]-want[i])) > 1e-6 {
			t.Errorf("Normalize: %v, want %v", x, want)
		}
	}
	// Per-channel normalization: channel = index modulo the last axis.
	mc := randomConvModel(rand.New(rand.NewPCG(5, 6)), []int{2, 2, 3}, []convSpec{{true, 4, 3, 1, bnn.PadSame}}, [3]int{2, 2, 0}, true)
	mc.InputMean, mc.InputStd = []float32{0.1, 0.2, 0.3}, []float32{0.5, 0.25, 0.125}
	netc, err := New(mc)
	if err != nil {
		t.Fatal(err)
	}
	px := []uint8{0, 51, 255, 255, 0, 51, 0, 0, 0, 0, 0, 0}
	xc := netc.Normalize(px, nil)
	for i, p := range px {
		c := i % 3
		if want := (float32(p)/255 - mc.InputMean[c]) / mc.InputStd[c]; xc[i] != want {
			t.Errorf("per-channel Normalize: value %d is %v, want %v", i, xc[i], want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Logits with a short input did not panic")
		}
	}()
	net.Logits([]float32{1}, nil)
}

// TestVersion1File runs a file written by the version 1 writer.
func TestVersion1File(t *testing.T) {
	net, err := Load(filepath.Join("..", "bnn", "testdata", "v1-dense.bnn"))
	if err != nil {
		t.Fatal(err)
	}
	x := randomInput(rand.New(rand.NewPCG(1, 1)), net.InputSize())
	checkClose(t, "version 1", net.Logits(x, nil), reference(net.Model(), x))
}

// TestVersion2File runs a conv network written by the version 2 writer
// (every layer reading its predecessor).
func TestVersion2File(t *testing.T) {
	net, err := Load(filepath.Join("..", "bnn", "testdata", "v2-conv.bnn"))
	if err != nil {
		t.Fatal(err)
	}
	x := randomInput(rand.New(rand.NewPCG(2, 2)), net.InputSize())
	checkClose(t, "version 2", net.Logits(x, nil), reference(net.Model(), x))
	if net.slots != 2 {
		t.Errorf("%d activation buffers, want 2", net.slots)
	}
}

// BenchmarkConv runs the shape of binnet's cnn (28x28x1: binary conv 3x3-32,
// conv 3x3-64, max pooling 2x2, dense 10) at batch 1.
func BenchmarkConv(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	m := randomConvModel(r, []int{28, 28, 1}, []convSpec{{true, 32, 3, 1, bnn.PadSame}, {true, 64, 3, 1, bnn.PadSame}}, [3]int{2, 2, 0}, true)
	net, err := New(m)
	if err != nil {
		b.Fatal(err)
	}
	x := randomInput(r, net.InputSize())
	var out []float32
	for b.Loop() {
		out = net.Logits(x, out)
	}
}

// randomResidualModel returns a small residual network over input images:
// a stem conv, an identity block, an option-A block (stride 2, channels
// zero-padded on both sides), a block with a 1x1 stride-2 downsampling conv
// on its shortcut (read from the block's input), global average pooling and
// a dense classifier; the convs binary where binary says, ReLU after each
// add. With flatten, a flatten (sharing its input's buffer) and a vector add
// of the pooled features with the flattened ones replace the pooling.
func randomResidualModel(r *rand.Rand, input []int, binary bool, flatten bool) *bnn.Model {
	floats := func(n int, s float64) []float32 { return normals(r, n, s) }
	m := &bnn.Model{Name: "random residual", InputShape: input, InputMean: []float32{0.5}, InputStd: []float32{0.25}}
	conv := func(name string, k, stride, cin, cout int, relu bool, from int) {
		in := k * k * cin
		l := bnn.Layer{Name: name, Kind: bnn.Conv2D, Inputs: in, Outputs: cout, KernelH: k, KernelW: k, Stride: stride,
			Scale: floats(cout, 1/math.Sqrt(float64(in))), Offset: floats(cout, 0.5), From: from}
		if k > 1 {
			l.Padding = bnn.PadSame
		}
		if relu {
			l.Activation = bnn.ReLU
		}
		w := floats(in*cout, 1)
		setWeights(&l, w, binary && k != 7)
		m.Layers = append(m.Layers, l)
	}
	add := func(name string, from, res, stride, offset int) {
		m.Layers = append(m.Layers, bnn.Layer{Name: name, Kind: bnn.Add, Activation: bnn.ReLU, From: from, Residual: res, Stride: stride, ChannelOffset: offset})
	}
	conv("stem", 3, 1, input[2], 16, true, 0)                                     // 1
	conv("b1c1", 3, 1, 16, 16, true, 0)                                           // 2
	conv("b1c2", 3, 1, 16, 16, false, 0)                                          // 3
	add("add1", 0, 1, 1, 0)                                                       // 4: identity shortcut
	conv("b2c1", 3, 2, 16, 40, true, 0)                                           // 5
	conv("b2c2", 3, 1, 40, 40, false, 0)                                          // 6
	add("add2", 0, 4, 2, 12)                                                      // 7: option A, 12 zero channels before, 12 after
	conv("b3c1", 3, 2, 40, 70, true, 0)                                           // 8
	conv("b3c2", 3, 1, 70, 70, false, 0)                                          // 9
	conv("down", 1, 2, 40, 70, false, 7)                                          // 10: the shortcut's 1x1 stride-2 conv, from the block's input
	add("add3", 9, 0, 1, 0)                                                       // 11: b3c2 + down
	m.Layers = append(m.Layers, bnn.Layer{Name: "pool", Kind: bnn.GlobalAvgPool}) // 12: [70]
	in := 70
	if flatten {
		half := func(n int) int { return (n-1)/2 + 1 } // a stride-2 conv with same padding
		in = half(half(input[0])) * half(half(input[1])) * 70
		m.Layers = append(m.Layers, bnn.Layer{Name: "flat", Kind: bnn.Flatten, From: 11}) // 13
		m.Layers = append(m.Layers, bnn.Layer{Name: "fcflat", Kind: bnn.Dense, Encoding: bnn.Float32, Inputs: in, Outputs: 70,
			Weights: floats(in*70, 1/math.Sqrt(float64(in))), Scale: floats(70, 1), Offset: floats(70, 1)}) // 14
		add("addv", 0, 12, 1, 0) // 15: vectors
		in = 70
	}
	l := bnn.Layer{Name: "fc", Kind: bnn.Dense, Inputs: in, Outputs: 10, Scale: floats(10, 1/math.Sqrt(float64(in))), Offset: floats(10, 1)}
	w := floats(in*10, 1)
	setWeights(&l, w, binary)
	m.Layers = append(m.Layers, l)
	return m
}

// TestResidualAgainstReference runs residual networks (identity, option-A
// and downsampling shortcuts, odd image sizes whose subsampling rounds up,
// binary and float convs, global average pooling, a flatten sharing its
// buffer and a vector add) against the float64 reference, batch 1 and
// batched, and checks the buffers: two for a sequential network, three for
// the residual ones.
func TestResidualAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		input           []int
		binary, flatten bool
	}{
		{[]int{8, 8, 3}, true, false},
		{[]int{8, 8, 3}, false, false},
		{[]int{7, 9, 1}, true, false},
		{[]int{5, 6, 2}, true, true},
		{[]int{9, 7, 3}, false, true},
	} {
		m := randomResidualModel(r, c.input, c.binary, c.flatten)
		net, err := New(m)
		if err != nil {
			t.Fatalf("%v: %v", c.input, err)
		}
		if net.slots != 3 {
			t.Errorf("%v: %d activation buffers, want 3", c.input, net.slots)
		}
		in := net.InputSize()
		for k := 0; k < 3; k++ {
			x := randomInput(r, in)
			checkClose(t, fmt.Sprintf("residual %v binary %v flatten %v", c.input, c.binary, c.flatten), net.Logits(x, nil), reference(m, x))
		}
		checkBatchEqualsSingle(t, fmt.Sprint(c.input), net, randomInput(r, 5*in), 5)
	}
	seq, err := New(randomConvModel(r, []int{6, 6, 1}, []convSpec{{true, 8, 3, 1, bnn.PadSame}}, [3]int{2, 2, 0}, true))
	if err != nil {
		t.Fatal(err)
	}
	if seq.slots != 2 {
		t.Errorf("sequential network: %d activation buffers, want 2", seq.slots)
	}
}

// checkAddOnly fails t if kernel function fn multiplies, divides or takes a
// remainder (of anything: weights, inputs or indices), or calls a function
// that allowed does not list (math.* and archsimd.* by their qualified
// names, methods by their names).
func checkAddOnly(t *testing.T, fset *token.FileSet, fn *ast.FuncDecl, allowed map[string]bool) {
	t.Helper()
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.BinaryExpr:
			if e.Op == token.MUL || e.Op == token.QUO || e.Op == token.REM {
				t.Errorf("%s: %s uses %s", fset.Position(e.Pos()), fn.Name.Name, e.Op)
			}
		case *ast.AssignStmt:
			if e.Tok == token.MUL_ASSIGN || e.Tok == token.QUO_ASSIGN || e.Tok == token.REM_ASSIGN {
				t.Errorf("%s: %s uses %s", fset.Position(e.Pos()), fn.Name.Name, e.Tok)
			}
		case *ast.CallExpr:
			name := ""
			switch f := e.Fun.(type) {
			case *ast.Ident:
				name = f.Name
			case *ast.SelectorExpr:
				if pkg, ok := f.X.(*ast.Ident); ok && (pkg.Name == "math" || pkg.Name == "archsimd") {
					name = pkg.Name + "." + f.Sel.Name
				} else {
					name = f.Sel.Name
				}
			}
			if !allowed[name] {
				t.Errorf("%s: %s calls %s, which is not on the add-only list", fset.Position(e.Pos()), fn.Name.Name, name)
			}
		}
		return true
	})
}

// TestNewNil: New(nil) is an error, as New of an empty model is.
func TestNewNil(t *testing.T) {
	if _, err := New(nil); err == nil || err.Error() != "bnn: no model (nil)" {
		t.Errorf("New(nil) = %v", err)
	}
}
