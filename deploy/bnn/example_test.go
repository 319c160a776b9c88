package bnn_test

import (
	"errors"
	"fmt"

	"github.com/binnet/binnet/deploy/bnn"
)

// A model with one binary dense layer of 4 inputs and 2 outputs, encoded,
// decoded, and refused once a single bit of it is flipped.
func Example() {
	// Latent weights [outputs][inputs]: only their signs are kept.
	w := []float32{
		0.3, -0.1, 0.7, -0.2, // output 0: + - + -
		-0.5, -0.4, 0.2, 0.9, // output 1: - - + +
	}
	m := &bnn.Model{Name: "tiny", InputShape: []int{4}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []bnn.Layer{{Name: "dense1", Kind: bnn.Dense, Encoding: bnn.SignBits, Activation: bnn.None,
			Inputs: 4, Outputs: 2, Bits: bnn.PackSigns(w, 4, 2),
			Scale: []float32{1, 0.5}, Offset: []float32{0, 1}}}}
	b, err := bnn.Encode(m)
	if err != nil {
		panic(err)
	}
	back, err := bnn.Decode(b)
	if err != nil {
		panic(err)
	}
	l := back.Layers[0]
	fmt.Printf("%d bytes; %s: %s %s, %d inputs -> %d outputs\n", len(b), l.Name, l.Kind, l.Encoding, l.Inputs, l.Outputs)
	// Bit i of row o is 1 where the weight from input i to output o is +1.
	fmt.Printf("sign bits: output 0 %04b, output 1 %04b (input 0 is the lowest bit)\n", l.Bits[0], l.Bits[1])

	b[len(b)/2] ^= 1
	_, err = bnn.Decode(b)
	var fe *bnn.FormatError
	fmt.Println("after one flipped bit:", errors.Is(err, bnn.ErrCorrupt), errors.As(err, &fe))
	// Output:
	// 208 bytes; dense1: dense sign-bits, 4 inputs -> 2 outputs
	// sign bits: output 0 0101, output 1 1100 (input 0 is the lowest bit)
	// after one flipped bit: true true
}
