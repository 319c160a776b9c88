package runtime

import (
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

// randomModel returns an MLP with the given widths; binary says which layers
// are sign-bit layers. Hidden layers have ReLU.
func randomModel(r *rand.Rand, widths []int, binary []bool) *bnn.Model {
	floats := func(n int, s float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * s)
		}
		return v
	}
	m := &bnn.Model{Name: "random", InputShape: []int{widths[0]}, InputMean: 0.5, InputStd: 0.25}
	for i := 0; i+1 < len(widths); i++ {
		in, out := widths[i], widths[i+1]
		l := bnn.Layer{Name: "dense", Kind: bnn.Dense, Inputs: in, Outputs: out, Scale: floats(out, 1/math.Sqrt(float64(in))), Offset: floats(out, 1)}
		w := floats(in*out, 1/math.Sqrt(float64(in)))
		if binary[i] {
			l.Encoding, l.Bits = bnn.SignBits, bnn.PackSigns(w, in, out)
		} else {
			l.Encoding, l.Weights = bnn.Float32, w
		}
		if i+2 < len(widths) {
			l.Activation = bnn.ReLU
		}
		m.Layers = append(m.Layers, l)
	}
	return m
}

// reference runs the model in float64 with explicit ±1 weights.
func reference(m *bnn.Model, x []float32) []float64 {
	cur := make([]float64, len(x))
	for i, v := range x {
		cur[i] = float64(v)
	}
	for li := range m.Layers {
		l := &m.Layers[li]
		next := make([]float64, l.Outputs)
		for o := range next {
			var z float64
			for i := 0; i < l.Inputs; i++ {
				w := float64(0)
				if l.Encoding == bnn.SignBits {
					w = float64(l.Sign(o, i))
				} else {
					w = float64(l.Weights[o*l.Inputs+i])
				}
				z += w * cur[i]
			}
			y := float64(l.Scale[o])*z + float64(l.Offset[o])
			if l.Activation == bnn.ReLU && y < 0 {
				y = 0
			}
			next[o] = y
		}
		cur = next
	}
	return cur
}

func randomInput(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

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
		// the kernels themselves
		"binaryRow": true, "binaryRows4": true, "binaryHsum": true, "binarySumsGeneric": true,
	}
	files, _ := filepath.Glob("kernel_binary*.go")
	if len(files) < 2 {
		t.Fatalf("kernel files not found: %v", files)
	}
	fset := token.NewFileSet()
	kernels := 0
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
	}
	if kernels < 5 {
		t.Errorf("found %d binary kernel functions, want at least 5", kernels)
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
	m.Layers[0].Kind = bnn.Conv2D
	m.Layers[0].KernelH, m.Layers[0].KernelW, m.Layers[0].Stride = 1, 1, 1
	if _, err := New(m); err == nil || !strings.Contains(err.Error(), "dense layers only") {
		t.Errorf("conv layer: got %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Logits with a short input did not panic")
		}
	}()
	net.Logits([]float32{1}, nil)
}
