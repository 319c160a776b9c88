package quant_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/quant"
	"github.com/gomlx/gomlx/core/graph"
)

// SignSTE binarizes to {-1,+1} (with sign(0) = +1) in the forward pass and
// passes the gradient straight through, unchanged, in the backward pass.
func ExampleSignSTE() {
	b, err := backend.Shared()
	if err != nil {
		fmt.Println(err)
		return
	}
	// The graph returns y = SignSTE(x) and dL/dx for the loss L = sum(y).
	exec := graph.MustNewExec(b, func(x *graph.Node) (*graph.Node, *graph.Node) {
		y := quant.SignSTE(x)
		grad := graph.Gradient(graph.ReduceAllSum(y), x)[0]
		return y, grad
	})
	out := exec.MustExec([]float32{-1.5, -0.2, 0, 0.7})
	fmt.Println("forward: ", out[0].Value())
	fmt.Println("gradient:", out[1].Value())
	// Output:
	// forward:  [-1 -1 1 1]
	// gradient: [1 1 1 1]
}

// SignSTECancel has the same forward pass as SignSTE, but its gradient is
// zero where the latent weight is outside [-1, 1], as in Larq's ste_sign.
func ExampleSignSTECancel() {
	b, err := backend.Shared()
	if err != nil {
		fmt.Println(err)
		return
	}
	exec := graph.MustNewExec(b, func(x *graph.Node) (*graph.Node, *graph.Node) {
		y := quant.SignSTECancel(x)
		grad := graph.Gradient(graph.ReduceAllSum(y), x)[0]
		return y, grad
	})
	out := exec.MustExec([]float32{-2, -1, -0.5, 0.5, 1, 3})
	fmt.Println("forward: ", out[0].Value())
	fmt.Println("gradient:", out[1].Value())
	// Output:
	// forward:  [-1 -1 -1 1 1 1]
	// gradient: [0 1 1 1 1 0]
}

// Parse finds a quantizer by the name a command line or a results file uses.
func ExampleParse() {
	for _, name := range quant.Names() {
		q, err := quant.Parse(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-16s scaled=%-5v noise=%v\n", q.Name(), q.Scaled(), q.NeedsNoise())
	}
	_, err := quant.Parse("xnor")
	fmt.Println(err)
	// Output:
	// ste_sign         scaled=false noise=false
	// ste_sign_cancel  scaled=false noise=false
	// approx_sign      scaled=false noise=false
	// stochastic       scaled=false noise=true
	// scaled_sign      scaled=true  noise=false
	// quant: unknown quantizer "xnor" (known: approx_sign, scaled_sign, ste_sign, ste_sign_cancel, stochastic)
}
