package runtime_test

import (
	"fmt"

	"github.com/binnet/binnet/deploy/bnn"
	"github.com/binnet/binnet/deploy/runtime"
)

// A binary dense layer computes each output with additions and subtractions
// only: output o is scale[o] * sum_i ±x_i + offset[o], the sign of each input
// given by one bit.
func Example() {
	w := []float32{
		0.3, -0.1, 0.7, -0.2, // output 0: + - + -
		-0.5, -0.4, 0.2, 0.9, // output 1: - - + +
	}
	net, err := runtime.New(&bnn.Model{Name: "tiny", InputShape: []int{4}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []bnn.Layer{{Name: "dense1", Kind: bnn.Dense, Encoding: bnn.SignBits, Activation: bnn.None,
			Inputs: 4, Outputs: 2, Bits: bnn.PackSigns(w, 4, 2),
			Scale: []float32{1, 0.5}, Offset: []float32{0, 1}}}})
	if err != nil {
		panic(err)
	}
	x := []float32{1, 2, 3, 4}
	// output 0: 1*(1 - 2 + 3 - 4) + 0 = -2; output 1: 0.5*(-1 - 2 + 3 + 4) + 1 = 3
	fmt.Println("logits:", net.Logits(x, nil), "class:", net.Predict(x))
	// Output:
	// logits: [-2 3] class: 1
}
