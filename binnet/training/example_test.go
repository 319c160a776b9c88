package training_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/gomlx/gomlx/ml/model"
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

// Ten training steps in one call: on a GPU (XLA) the engine runs them in one
// execution of a graph that unrolls them, so that the host waits for the
// device once instead of ten times (Config.StepsPerCall does this for a
// whole run). SGD keeps its update in the graph, so the steps are unrolled
// on the pure-Go backend too, and give the bits of ten single steps.
func ExampleEngine_TrainSteps() {
	trainSet, _, err := datasets.Sample()
	if err != nil {
		fmt.Println(err)
		return
	}
	examples, err := training.FromSet(trainSet.Slice(0, 1000), datasets.MNISTMean, datasets.MNISTStd, 784)
	if err != nil {
		fmt.Println(err)
		return
	}
	const steps, batch = 10, 100
	idx := make([]int, steps*batch)
	for i := range idx {
		idx[i] = i
	}
	x, y := make([]float32, len(idx)*784), make([]int32, len(idx))
	if err := examples.Batch(idx, nil, x, y); err != nil { // ten batches, one after the other
		fmt.Println(err)
		return
	}
	net := models.MLP{Inputs: 784, Hidden: []int{32}, Classes: 10}
	modes := []binnet.Mode{binnet.Binary, binnet.Float}
	opt := training.Optimizer{Name: "sgd", LearningRate: 0.05, Momentum: 0.9}
	b, err := backend.Shared() // GOMLX_BACKEND's, the pure-Go one by default
	if err != nil {
		fmt.Println(err)
		return
	}
	newEngine := func() *training.Engine {
		store := model.NewStore()
		if err := store.SetRNGStateFromSeed(1); err != nil {
			panic(err)
		}
		e, err := training.NewEngine(b, store, net, nil, opt)
		if err != nil {
			panic(err)
		}
		return e
	}
	grouped, single := newEngine(), newEngine()
	if err := grouped.TrainSteps(x, y, []int{784}, steps, modes, opt.LearningRate); err != nil {
		fmt.Println(err)
		return
	}
	for k := range steps {
		if err := single.TrainStep(x[k*batch*784:(k+1)*batch*784], y[k*batch:(k+1)*batch], []int{784}, modes, opt.LearningRate); err != nil {
			fmt.Println(err)
			return
		}
	}
	l1, a1, n1 := grouped.Accumulated()
	l2, a2, n2 := single.Accumulated()
	fmt.Println("examples trained:", n1)
	fmt.Println("same loss and accuracy as single steps:", l1 == l2 && a1 == a2 && n1 == n2)
	// Output:
	// examples trained: 1000
	// same loss and accuracy as single steps: true
}

// ExamplePickStepThreads picks the threads for the paper's mlp-300-100 at
// batch 100 as binnet train does. On the pure-Go backend with more than one
// core, before any shared backend is open and without a GOMAXPROCS variable,
// this small step is timed on one thread and on every core (which wins
// depends on the CPU: c.String() gives the times); UseStepThreads would then
// set GOMAXPROCS to the choice.
func ExamplePickStepThreads() {
	p, err := models.Lookup("mlp-300-100")
	if err != nil {
		panic(err)
	}
	c, err := training.PickStepThreads(p.Network, 100)
	if err != nil {
		panic(err)
	}
	fmt.Println("threads:", c.Threads >= 1, "one of those timed:", len(c.Timed) == 0 || slices.Contains(c.Timed, c.Threads))
	// Output:
	// threads: true one of those timed: true
}
