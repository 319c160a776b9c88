package layers_test

import (
	"fmt"
	"math"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/layers"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// allPlusMinusOne reports whether every value of m is exactly -1 or +1.
func allPlusMinusOne(m [][]float32) bool {
	for _, row := range m {
		for _, v := range row {
			if v != 1 && v != -1 {
				return false
			}
		}
	}
	return true
}

// A binarizable Dense layer keeps latent float weights; when its Control says
// the layer is binary, the forward pass uses sign(weights) in {-1,+1} instead.
// Feeding the identity matrix to a layer without bias returns its effective
// weights.
func ExampleDense() {
	b, err := backend.Shared()
	if err != nil {
		fmt.Println(err)
		return
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		fmt.Println(err)
		return
	}
	// build returns an Exec of a 4-in, 3-out Dense layer whose only binarizable
	// layer has the given static mode. Both Execs share the store's variables.
	build := func(mode binnet.Mode) *model.Exec {
		return model.MustNewExec(b, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
			layers.LiveVariables(scope, x.Graph()) // read the variables' current values at every run
			ctl := layers.NewControl(false).WithModes(mode)
			return layers.Dense(scope.In("dense"), ctl, x, 3).Bias(false).Done()
		})
	}
	eye := [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}

	binary := build(binnet.Binary).MustExec(eye)[0].Value().([][]float32)
	float := build(binnet.Float).MustExec(eye)[0].Value().([][]float32)
	latent := store.GetVariable("/dense/weights").MustValue().Value().([][]float32)

	sameSign := true
	for i := range latent {
		for j, w := range latent[i] {
			if float[i][j] != w || binary[i][j] != float32(math.Copysign(1, float64(w))) {
				sameSign = false
			}
		}
	}
	fmt.Println("binary: every output is ±1:", allPlusMinusOne(binary))
	fmt.Println("float:  every output is ±1:", allPlusMinusOne(float))
	fmt.Println("binary weights are sign(latent weights):", sameSign)
	// Output:
	// binary: every output is ±1: true
	// float:  every output is ±1: false
	// binary weights are sign(latent weights): true
}

// In a training graph, BatchNorm normalizes each feature with the statistics
// of the batch (mean 0, variance 1 before the learned scale and offset, which
// start at 1 and 0), and moves its running averages towards them with
// PyTorch's momentum of 0.1.
func ExampleBatchNorm() {
	b, err := backend.Shared()
	if err != nil {
		fmt.Println(err)
		return
	}
	store := model.NewStore()
	train := model.MustNewExec(b, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		layers.LiveVariables(scope, x.Graph())
		return layers.BatchNorm(scope.In("bn"), layers.NewControl(true), x).Done()
	})
	x := [][]float32{{1, 10}, {2, 20}, {3, 30}, {6, 60}}
	y := train.MustExec(x)[0].Value().([][]float32)

	var mean [2]float64
	for _, row := range y {
		fmt.Printf("%6.2f %6.2f\n", row[0], row[1])
		for f, v := range row {
			mean[f] += float64(v) / float64(len(y))
		}
	}
	for f := range mean {
		if math.Abs(mean[f]) < 1e-6 {
			mean[f] = 0 // hide rounding noise
		}
	}
	fmt.Println("per-feature mean:", mean)
	fmt.Println("running mean:", store.GetVariable("/bn/running_mean").MustValue().Value())
	// Output:
	//  -1.07  -1.07
	//  -0.53  -0.53
	//   0.00   0.00
	//   1.60   1.60
	// per-feature mean: [0 0]
	// running mean: [0.3 3]
}
