package models_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet/models"
)

// A preset is the paper's network with the hyper-parameters of its official
// code.
func ExampleLookup() {
	p, err := models.Lookup("mlp-300-100")
	if err != nil {
		fmt.Println(err)
		return
	}
	h := p.Hyper
	fmt.Println("network:", p.Network.Name())
	fmt.Println("binarizable layers:", p.Network.NumBinarizable())
	fmt.Printf("optimizer %s, learning rate %g, batch %d (evaluation %d)\n", h.Optimizer, h.LearningRate, h.BatchSize, h.EvalBatchSize)
	fmt.Printf("%d epochs per layer, %d epochs, %d validation examples\n", h.EpochsPerLayer, h.Epochs, h.ValidationSize)
	// Output:
	// network: mlp-784-300-100-10
	// binarizable layers: 3
	// optimizer adam, learning rate 0.1, batch 100 (evaluation 1000)
	// 150 epochs per layer, 450 epochs, 5000 validation examples
}

// An MLP's name lists all its layer sizes, inputs and classes included.
func ExampleMLP_Name() {
	m := models.MLP{Inputs: 784, Hidden: []int{64, 32}, Classes: 10}
	fmt.Println(m.Name())
	fmt.Println(m.InputShape(), m.NumClasses(), m.NumBinarizable())
	// Output:
	// mlp-784-64-32-10
	// [784] 10 3
}
