package training_test

import (
	"context"
	"fmt"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
)

// Iterative training of a small MLP on a slice of the MNIST sample embedded in
// the datasets package: layer 1 is binary from epoch 1, layer 2 from epoch 2.
// Without OutDir the run keeps everything in memory (no checkpoint, no
// results.json).
func ExampleRun() {
	trainSet, testSet, err := datasets.Sample()
	if err != nil {
		fmt.Println(err)
		return
	}
	// Normalize the images as the paper's code does, flattened to 784 features.
	examples := func(s *datasets.Set) *training.Examples {
		e, err := training.FromSet(s, datasets.MNISTMean, datasets.MNISTStd, 784)
		if err != nil {
			panic(err)
		}
		return e
	}
	n := trainSet.Len()
	data := training.Data{
		Train: examples(trainSet.Slice(0, 1000)),
		Val:   examples(trainSet.Slice(n-200, n)), // held out of the end, as the paper's code does
		Test:  examples(testSet.Slice(0, 500)),
	}

	net := models.MLP{Inputs: 784, Hidden: []int{32}, Classes: 10}
	// Binarize the layers in forward order, one per 1-epoch stage, over 2 epochs.
	sched, err := schedule.Iterative(schedule.Forward(net.NumBinarizable()), 1, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := training.Run(context.Background(), training.Config{
		Network:   net,
		Schedule:  sched,
		Optimizer: training.Optimizer{Name: "adam", LearningRate: 0.01},
		Seed:      1,
	}, data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Network, res.Status)
	for _, h := range res.History {
		fmt.Printf("epoch %d (stage %d): binary layers %v\n", h.Epoch, h.Stage, h.BinaryLayers)
	}
	// Accuracies vary slightly across backends and machines; 10 classes make
	// chance 0.1.
	fmt.Println("test accuracy > 0.5:", res.TestAccuracy > 0.5)
	// Output:
	// mlp-784-32-10 completed
	// epoch 1 (stage 1): binary layers [1]
	// epoch 2 (stage 2): binary layers [1 2]
	// test accuracy > 0.5: true
}
