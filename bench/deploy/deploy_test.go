// Package deploy benchmarks deploy/runtime (packed sign bits, add-only
// kernels) against GoMLX float inference of the same network on the pure-Go
// backend, at batch 1 and batch 64: MLPs and the conv networks cnn and vgg5.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd go test ./bench/deploy -bench . -run '^$'
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd BINNET_BENCH=1 go test ./bench/deploy -run TestTable -v   # the Markdown table of docs/deploy.md
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd BINNET_BENCH=1 go test ./bench/deploy -run TestMemory -v  # resident memory (memory_test.go)
//
// BINNET_BENCH_NETS=cnn,vgg5 restricts both to some networks (names below).
package deploy

import (
	"fmt"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/deploy/bnn"
	"github.com/binnet/binnet/deploy/bnn/export"
	"github.com/binnet/binnet/deploy/runtime"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// pair is one network with random weights, as a GoMLX float Exec and as the
// runtime's all-binary model built from the same variables.
type pair struct {
	name     string
	net      models.Network
	exec     *model.Exec
	rt       *runtime.Network
	rtFloat  *runtime.Network // the same network with float32 weights in deploy/runtime
	bnnBytes int              // .bnn file size
	f32Bytes int              // the float32 variables of the GoMLX model
	bnnFile  []byte           // the .bnn file, every binarizable layer binary
	f32File  []byte           // the .bnn file with float32 weights (rtFloat's model)
}

var pairs = map[string]*pair{}

func getPair(tb testing.TB, name string, net models.Network) *pair {
	if p, ok := pairs[name]; ok {
		return p
	}
	store, exec := floatExec(tb, net)
	modes := make([]binnet.Mode, net.NumBinarizable()) // float: GoMLX runs the float network
	values := map[string]*tensors.Tensor{}
	f32 := 0
	r := rand.New(rand.NewPCG(1, 2))
	for v := range store.IterVariables() {
		t := v.MustValue()
		if v.Path() != "" && len(v.Path()) > 6 && v.Path()[:6] == "/model" {
			// Give batch norm non-trivial statistics so folding is exercised.
			if name := v.Name(); name == "running_var" || name == "gamma" {
				data := tensors.MustCopyFlatData[float32](t)
				for i := range data {
					data[i] = 0.5 + r.Float32()
				}
				t = tensors.FromFlatDataAndDimensions(data, t.Shape().Dimensions...)
				v.MustSetValue(t)
			}
			values[v.Path()] = t
			f32 += t.Shape().Size() * 4
		}
	}
	all := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
	mean, std := []float32{0.1307}, []float32{0.3081}
	m, err := export.FromValues(net, all, nil, values, mean, std, name)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := bnn.Encode(m)
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := runtime.New(m)
	if err != nil {
		tb.Fatal(err)
	}
	mf, err := export.FromValues(net, modes, nil, values, mean, std, name)
	if err != nil {
		tb.Fatal(err)
	}
	rtFloat, err := runtime.New(mf)
	if err != nil {
		tb.Fatal(err)
	}
	encFloat, err := bnn.Encode(mf)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pair{name: name, net: net, exec: exec, rt: rt, rtFloat: rtFloat, bnnBytes: len(enc), f32Bytes: f32,
		bnnFile: enc, f32File: encFloat}
	pairs[name] = p
	return p
}

// floatExec builds GoMLX's float inference of net (every layer float) on the
// shared backend and runs it once, which initializes its variables (random,
// PyTorch's initialization, seed 1).
func floatExec(tb testing.TB, net models.Network) (*model.Store, *model.Exec) {
	b, err := backend.Shared()
	if err != nil {
		tb.Fatal(err)
	}
	store := model.NewStore()
	store.SetRNGStateFromSeed(1)
	modes := make([]binnet.Mode, net.NumBinarizable())
	exec := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		if os.Getenv("BINNET_LIVE") != "" {
			layers.LiveVariables(scope, x.Graph())
		}
		ctl := layers.NewControl(false).WithModes(modes...)
		return net.Logits(scope.In("model"), ctl, x)
	})
	exec.MustExec(tensors.FromFlatDataAndDimensions(make([]float32, inputSize(net)), dims(net, 1)...))[0].FinalizeAll()
	return store, exec
}

type network struct {
	name string
	net  models.Network
}

var allNetworks = []network{
	{"mlp-784-784", models.MLP{Inputs: 784, Hidden: []int{784, 784}, Classes: 10}},
	{"mlp-4096", models.MLP{Inputs: 784, Hidden: []int{4096, 4096}, Classes: 10}},
	{"cnn", preset("cnn")},
	{"vgg5", preset("vgg5")},
	{"resnet20", preset("resnet20")},
}

func preset(name string) models.Network {
	p, err := models.Lookup(name)
	if err != nil {
		panic(err)
	}
	return p.Network
}

// networks returns the networks BINNET_BENCH_NETS names (default: all).
func networks() []network {
	sel := os.Getenv("BINNET_BENCH_NETS")
	if sel == "" {
		return allNetworks
	}
	var out []network
	for _, n := range allNetworks {
		if slices.Contains(strings.Split(sel, ","), n.name) {
			out = append(out, n)
		}
	}
	return out
}

// inputSize returns the values of one example of net.
func inputSize(net models.Network) int {
	n := 1
	for _, d := range net.InputShape() {
		n *= d
	}
	return n
}

// dims returns the shape of a batch of net's examples.
func dims(net models.Network, batch int) []int {
	return append([]int{batch}, net.InputShape()...)
}

func input(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func benchGoMLX(p *pair, batch int) func(b *testing.B) {
	return func(b *testing.B) {
		x := input(batch * inputSize(p.net))
		b.ResetTimer()
		for b.Loop() {
			xt := tensors.FromFlatDataAndDimensions(x, dims(p.net, batch)...)
			out := p.exec.MustExec(xt)
			_ = tensors.MustCopyFlatData[float32](out[0])
			out[0].FinalizeAll()
			xt.FinalizeAll()
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	}
}

func benchRuntime(p *pair, batch, workers int) func(b *testing.B) {
	return benchNet(p.rt, inputSize(p.net), batch, workers)
}

func benchNet(rt *runtime.Network, inputs, batch, workers int) func(b *testing.B) {
	return func(b *testing.B) {
		x := input(batch * inputs)
		var out []float32
		b.ResetTimer()
		for b.Loop() {
			if batch == 1 {
				out = rt.Logits(x, out)
			} else {
				out = rt.LogitsBatchWorkers(x, batch, out, workers)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
	}
}

func BenchmarkInference(b *testing.B) {
	for _, n := range networks() {
		p := getPair(b, n.name, n.net)
		b.Run(n.name+"/gomlx-float/batch1", benchGoMLX(p, 1))
		b.Run(n.name+"/runtime/batch1", benchRuntime(p, 1, 1))
		b.Run(n.name+"/runtime-float32/batch1", benchNet(p.rtFloat, inputSize(n.net), 1, 1))
		b.Run(n.name+"/gomlx-float/batch64", benchGoMLX(p, 64))
		b.Run(n.name+"/runtime/batch64-1goroutine", benchRuntime(p, 64, 1))
		b.Run(n.name+"/runtime/batch64", benchRuntime(p, 64, goruntime.GOMAXPROCS(0)))
	}
}

// TestTable measures everything in one process and prints the Markdown
// tables of docs/deploy.md. Set BINNET_BENCH=1 to run it.
func TestTable(t *testing.T) {
	if os.Getenv("BINNET_BENCH") == "" {
		t.Skip("set BINNET_BENCH=1 to measure")
	}
	perImage := func(r testing.BenchmarkResult, batch int) float64 {
		return float64(r.T.Nanoseconds()) / float64(r.N*batch) / 1e3 // µs per image
	}
	fmt.Printf("binary kernel: %s, GOMAXPROCS %d\n\n", runtime.Kernel(), goruntime.GOMAXPROCS(0))
	fmt.Println("| network | GoMLX float, batch 1 | runtime, batch 1 | speed-up | runtime float32 weights, batch 1 | binary vs float32 | GoMLX float, batch 64 | runtime, batch 64 (1 goroutine) | speed-up | runtime, batch 64 (GOMAXPROCS) | speed-up |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	var sizes []string
	for _, n := range networks() {
		p := getPair(t, n.name, n.net)
		g1 := perImage(testing.Benchmark(benchGoMLX(p, 1)), 1)
		r1 := perImage(testing.Benchmark(benchRuntime(p, 1, 1)), 1)
		f1 := perImage(testing.Benchmark(benchNet(p.rtFloat, inputSize(n.net), 1, 1)), 1)
		g64 := perImage(testing.Benchmark(benchGoMLX(p, 64)), 64)
		r64 := perImage(testing.Benchmark(benchRuntime(p, 64, 1)), 64)
		r64p := perImage(testing.Benchmark(benchRuntime(p, 64, goruntime.GOMAXPROCS(0))), 64)
		fmt.Printf("| %s | %.1f µs | %.1f µs | %.1fx | %.1f µs | %.1fx | %.0f images/s | %.0f images/s | %.1fx | %.0f images/s | %.1fx |\n",
			n.name, g1, r1, g1/r1, f1, f1/r1, 1e6/g64, 1e6/r64, g64/r64, 1e6/r64p, g64/r64p)
		sizes = append(sizes, fmt.Sprintf("| %s | %d | %d | %.1fx |", n.name, p.f32Bytes, p.bnnBytes, float64(p.f32Bytes)/float64(p.bnnBytes)))
	}
	fmt.Println("\n| network | float32 variables (bytes) | .bnn file, all binary (bytes) | ratio |")
	fmt.Println("|---|---|---|---|")
	for _, s := range sizes {
		fmt.Println(s)
	}
}
