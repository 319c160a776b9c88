package runtime

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// randomRows returns out sign rows of in inputs in the .bnn layout (bits
// past in cleared).
func randomRows(r *rand.Rand, in, out int) (rows []uint64, words int) {
	words = (in + 63) / 64
	rows = make([]uint64, words*out)
	for i := range rows {
		rows[i] = r.Uint64()
	}
	if in%64 != 0 {
		for o := 0; o < out; o++ {
			rows[o*words+words-1] &= 1<<uint(in%64) - 1
		}
	}
	return rows, words
}

// batchInputs returns batch examples of in values at stride xStride, with
// signed values, ReLU-like values (zeros and positives), zeros and negative
// zeros mixed in.
func batchInputs(r *rand.Rand, in, xStride, batch int) []float32 {
	x := make([]float32, xStride*batch)
	for e := 0; e < batch; e++ {
		for i := 0; i < in; i++ {
			v := float32(r.NormFloat64())
			switch e % 3 {
			case 1: // ReLU output
				v = max(v, 0)
			case 2:
				if r.IntN(5) == 0 {
					v = float32(math.Copysign(0, -1))
				}
			}
			x[e*xStride+i] = v
		}
		for i := in; i < xStride; i++ {
			x[e*xStride+i] = float32(math.NaN()) // never read
		}
	}
	return x
}

// genericBatch runs the portable kernel (blocks, totals) on every example.
func genericBatch(cols []uint64, in, outs int, x []float32, xStride, batch int) []float32 {
	out := make([]float32, batch*outs)
	run, z := make([]float64, 64), make([]float32, 64)
	for e := 0; e < batch; e++ {
		xs := x[e*xStride : e*xStride+in]
		t := binaryTotalGeneric(xs)
		for k := 0; 64*k < outs; k++ {
			binaryDenseGeneric(cols[k*in:(k+1)*in], xs, t, run, z)
			lanes := min(64, outs-64*k)
			copy(out[e*outs+64*k:e*outs+64*k+lanes], z[:lanes])
		}
	}
	return out
}

func TestDenseColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range [][2]int{{1, 1}, {63, 65}, {64, 64}, {100, 10}, {130, 129}} {
		in, out := c[0], c[1]
		rows, words := randomRows(r, in, out)
		cols := denseColumns(rows, words, in, out)
		if back := denseRows(cols, in, out); !slices.Equal(back, rows) {
			t.Fatalf("%dx%d: denseRows(denseColumns(rows)) differs from rows", in, out)
		}
		if len(cols) != (out+63)/64*in {
			t.Fatalf("%dx%d: %d column words", in, out, len(cols))
		}
		for k := 0; 64*k < out; k++ {
			for i := 0; i < in; i++ {
				for j := 0; j < 64; j++ {
					got := cols[k*in+i] >> uint(j) & 1
					var want uint64
					if o := 64*k + j; o < out {
						want = rows[o*words+i/64] >> uint(i%64) & 1
					}
					if got != want {
						t.Fatalf("%dx%d: block %d input %d lane %d: bit %d, want %d", in, out, k, i, j, got, want)
					}
				}
			}
		}
	}
}

func TestCompactColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, c := range []struct {
		in, out int
		columns bool
	}{
		{784, 784, true}, {784, 4096, true}, {4096, 4096, true}, {4096, 784, true}, {4096, 256, true},
		{784, 300, true}, {784, 10, false}, {4096, 10, false}, {300, 100, false}, {64, 65, false}, {1, 1, true},
	} {
		rows, words := randomRows(r, c.in, c.out)
		cols := compactColumns(rows, words, c.in, c.out)
		if (cols != nil) != c.columns {
			t.Errorf("%dx%d: columns %v, want %v", c.in, c.out, cols != nil, c.columns)
		}
		if cols != nil && len(cols) > len(rows)+len(rows)/8 {
			t.Errorf("%dx%d: %d column words for %d row words", c.in, c.out, len(cols), len(rows))
		}
	}
}

// TestTotalsAgree checks the SIMD sum of the inputs against the portable one,
// bit for bit, for lengths around the vector and chunk sizes.
func TestTotalsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for n := 0; n <= 200; n++ {
		x := batchInputs(r, n, n, 1)
		if g, s := binaryTotalGeneric(x), binaryTotal(x); math.Float64bits(g) != math.Float64bits(s) {
			t.Fatalf("n %d: generic total %v, %s %v", n, g, Kernel(), s)
		}
	}
}

// TestDenseBatchAgrees runs the batch kernel on layers whose fan-in and
// outputs are not multiples of 64 (or 16) and batches that are not
// multiples of the group of 3, and checks it bit for bit against the
// portable kernel and against the batch kernel run one example at a time;
// against a float64 sum of ±x, and against the per-example kernel
// (binarySums, another summation order), within rounding.
func TestDenseBatchAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, c := range []struct{ in, out, batch int }{
		{1, 1, 1}, {15, 3, 2}, {17, 16, 5}, {64, 64, 4}, {65, 63, 7}, {100, 130, 9},
		{129, 10, 3}, {784, 784, 6}, {784, 10, 13}, {300, 100, 64}, {1000, 65, 1},
	} {
		rows, words := randomRows(r, c.in, c.out)
		cols := denseColumns(rows, words, c.in, c.out)
		xStride := c.in + r.IntN(3)
		outStride := c.out + r.IntN(3)
		x := batchInputs(r, c.in, xStride, c.batch)
		scratch := newDenseScratch(c.batch)
		out := make([]float32, c.batch*outStride)
		binaryDenseBatch(cols, c.in, c.out, x, xStride, c.batch, out, outStride, scratch)
		gen := genericBatch(cols, c.in, c.out, x, xStride, c.batch)
		name := fmt.Sprintf("in %d out %d batch %d", c.in, c.out, c.batch)
		one := make([]float32, c.out)
		per := make([]float32, c.out)
		xp := make([]float32, 64*words)
		for e := 0; e < c.batch; e++ {
			xs := x[e*xStride : e*xStride+c.in]
			binaryDenseBatch(cols, c.in, c.out, xs, c.in, 1, one, c.out, scratch)
			copy(xp, xs)
			binarySums(rows, words, xp, make([]float32, len(xp)), per)
			var sumAbs float64
			for _, v := range xs {
				sumAbs += math.Abs(float64(v))
			}
			for o := 0; o < c.out; o++ {
				got := out[e*outStride+o]
				if g := gen[e*c.out+o]; math.Float32bits(got) != math.Float32bits(g) {
					t.Fatalf("%s: example %d output %d: %s batch %v, portable %v", name, e, o, Kernel(), got, g)
				}
				if math.Float32bits(got) != math.Float32bits(one[o]) {
					t.Fatalf("%s: example %d output %d: batch %v, alone %v", name, e, o, got, one[o])
				}
				var want float64
				for i, v := range xs {
					if rows[o*words+i/64]>>uint(i%64)&1 == 1 {
						want += float64(v)
					} else {
						want -= float64(v)
					}
				}
				// float32 rounding of sums of up to 1000 terms: bounded by
				// a small multiple of eps * sum |x|.
				tol := 1e-5*sumAbs + 1e-6
				if math.Abs(float64(got)-want) > tol || math.Abs(float64(per[o])-want) > tol {
					t.Fatalf("%s: example %d output %d: batch %v, per-example kernel %v, float64 %v", name, e, o, got, per[o], want)
				}
			}
			for o := c.out; o < outStride && e*outStride+o < len(out); o++ {
				if out[e*outStride+o] != 0 {
					t.Fatalf("%s: example %d: value %d past the outputs written", name, e, o)
				}
			}
		}
	}
}

// TestBatchKernelsAreAddOnly is TestBinaryKernelsAreAddOnly for the batch
// kernel files: no function whose name starts with "binary" multiplies,
// divides or takes a remainder (of anything, indices included), and they
// call only loads, stores, bits-to-mask, broadcasts, select, Add, Sub, bit
// reinterpretations and each other.
func TestBatchKernelsAreAddOnly(t *testing.T) {
	allowed := map[string]bool{
		"math.Float32bits": true, "math.Float32frombits": true,
		"archsimd.LoadFloat32x16": true, "archsimd.LoadFloat32x16Part": true, "archsimd.Mask32x16FromBits": true,
		"archsimd.BroadcastFloat32x16": true, "archsimd.LoadFloat64x8": true, "archsimd.BroadcastFloat64x8": true,
		// float32 <-> float64 conversions and the halves of a vector
		"GetLo": true, "GetHi": true, "ConvertToFloat64": true, "ConvertToFloat32": true, "float64": true, "float32": true,
		"IfElse": true, "Add": true, "Sub": true, "Store": true,
		"len": true, "min": true, "clear": true, "copy": true, "uint16": true, "uint32": true, "uint": true,
		"binaryDenseBlock": true, "binaryDenseBlockGeneric": true, "binaryDenseGeneric": true,
		"binaryDense3": true, "binaryDense2": true, "binaryDense1": true, "binaryAddChunk": true, "binaryAdd16": true, "binaryFinish64": true,
		"binaryTotal": true, "binaryTotalGeneric": true, "binaryTree16": true,
	}
	files, _ := filepath.Glob("kernel_batch*.go")
	fset := token.NewFileSet()
	found := map[string]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if !strings.HasPrefix(fn.Name.Name, "binary") {
				// The layer helpers hand sign bits to the kernels and never
				// index them.
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if ix, ok := n.(*ast.IndexExpr); ok {
						if sel, ok := ix.X.(*ast.SelectorExpr); ok && (sel.Sel.Name == "bits" || sel.Sel.Name == "cbits") {
							t.Errorf("%s: %s reads sign bits itself", fset.Position(ix.Pos()), fn.Name.Name)
						}
					}
					return true
				})
				continue
			}
			found[fn.Name.Name] = true
			checkAddOnly(t, fset, fn, allowed)
		}
	}
	want := []string{"binaryDenseBatch", "binaryDenseBlock", "binaryDenseBlockGeneric", "binaryDenseGeneric", "binaryTotal", "binaryTotalGeneric", "binaryTree16"}
	// The files are parsed whatever the build: the SIMD kernels are checked
	// in builds without them too.
	want = append(want, "binaryDense3", "binaryDense2", "binaryDense1", "binaryAddChunk", "binaryAdd16", "binaryFinish64")
	for _, name := range want {
		if !found[name] {
			t.Errorf("kernel %s not found among the checked functions", name)
		}
	}
	t.Logf("%d batch kernel functions checked (files %v)", len(found), files)
}

// denseCase is a binary dense layer with random signs and a batch of inputs.
type denseCase struct {
	in, out, words int
	rows, cols     []uint64
	x              []float32 // batch examples, stride pad64(in), zero padded
}

func newDenseCase(in, out, batch int) *denseCase {
	r := rand.New(rand.NewPCG(uint64(in), uint64(out)))
	rows, words := randomRows(r, in, out)
	x := make([]float32, batch*64*words)
	for e := 0; e < batch; e++ {
		for i := 0; i < in; i++ {
			x[e*64*words+i] = max(float32(r.NormFloat64()), 0)
		}
	}
	return &denseCase{in: in, out: out, words: words, rows: rows, cols: denseColumns(rows, words, in, out), x: x}
}

// benchDenseShapes are the binary dense layers of the benchmarked MLPs:
// mlp-784-784 (784-784-784-10) and 784-4096-4096-10.
var benchDenseShapes = [][2]int{{784, 784}, {784, 10}, {784, 4096}, {4096, 4096}, {4096, 10}}

// BenchmarkDenseKernels times one binary dense layer on a batch of 64
// examples: the per-example kernel (binarySums, rows) once per example, and
// the batch kernel (columns, groups of 3 examples); and both at batch 1.
func BenchmarkDenseKernels(b *testing.B) {
	for _, s := range benchDenseShapes {
		c := newDenseCase(s[0], s[1], 64)
		stride := 64 * c.words
		for _, batch := range []int{1, 64} {
			name := fmt.Sprintf("%dx%d/batch%d", s[0], s[1], batch)
			b.Run(name+"/per-example", func(b *testing.B) {
				neg := make([]float32, stride)
				out := make([]float32, batch*c.out)
				for b.Loop() {
					for e := 0; e < batch; e++ {
						binarySums(c.rows, c.words, c.x[e*stride:(e+1)*stride], neg, out[e*c.out:(e+1)*c.out])
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "examples/s")
			})
			b.Run(name+"/batch-kernel", func(b *testing.B) {
				scratch := newDenseScratch(batch)
				out := make([]float32, batch*c.out)
				for b.Loop() {
					binaryDenseBatch(c.cols, c.in, c.out, c.x, stride, batch, out, c.out, scratch)
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "examples/s")
			})
		}
	}
}
