package schedule_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet/schedule"
)

// The paper's MNIST protocol: 3 layers binarized forward, one every 150
// epochs, 450 epochs in all.
func ExampleIterative() {
	s, err := schedule.Iterative(schedule.Forward(3), 150, 450)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	fmt.Println(s.Modes(0), s.Modes(150), s.Modes(449))
	// Output:
	// iterative schedule: 3 layers, order 1,2,3, 1 layer and 150 epochs per stage, 450 epochs
	// stage  epochs   binary layers
	//     1  1-150    1
	//     2  151-300  1,2
	//     3  301-450  1,2,3
	// [binary float float] [binary binary float] [binary binary binary]
}

// A user's order, given in 1-based layer numbers, as a command line would.
func ExampleParseOrder() {
	kind, order, err := schedule.ParseOrder("1,3,2", 3, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := schedule.New(schedule.Config{
		NumLayers:      3,
		Kind:           kind,
		Order:          order,
		EpochsPerStage: 2,
		TotalEpochs:    8,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("0-based order:", s.Order())
	fmt.Print(s)
	for _, st := range s.Stages() {
		fmt.Printf("epochs [%d,%d): binary %v\n", st.FirstEpoch, st.EndEpoch, st.Binary)
	}
	// Output:
	// 0-based order: [0 2 1]
	// iterative schedule: 3 layers, order 1,3,2, 1 layer and 2 epochs per stage, 8 epochs
	// stage  epochs  binary layers
	//     1  1-2     1
	//     2  3-4     1,3
	//     3  5-8     1,2,3
	// epochs [0,2): binary [0]
	// epochs [2,4): binary [0 2]
	// epochs [4,8): binary [0 1 2]
}

// The freezing variant: layers of earlier stages stop training.
func ExampleConfig_freezeBinarized() {
	s, err := schedule.New(schedule.Config{
		NumLayers:       4,
		Kind:            schedule.KindIterative,
		Order:           schedule.Reverse(4),
		EpochsPerStage:  5,
		LayersPerStage:  2,
		TotalEpochs:     12,
		FreezeBinarized: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	fmt.Println(s.Modes(5))
	// Output:
	// iterative schedule: 4 layers, order 4,3,2,1, 2 layers and 5 epochs per stage, 12 epochs, earlier stages frozen
	// stage  epochs  binary layers
	//     1  1-5     3,4
	//     2  6-12    1,2,3*,4*
	// * frozen: sign weights, no more updates
	// [binary binary frozen frozen]
}

// The baselines are single-stage schedules.
func ExampleFloat() {
	f, _ := schedule.Float(3, 10)
	b, _ := schedule.AllBinary(3, 10)
	fmt.Print(f)
	fmt.Print(b)
	// Output:
	// float schedule: 3 layers, 10 epochs, no layer binarized
	// stage  epochs  binary layers
	//     1  1-10    none
	// binary schedule: 3 layers, 10 epochs, all layers binary from epoch 1
	// stage  epochs  binary layers
	//     1  1-10    1,2,3
}

// Validation happens before training: here the last layer would never be
// binary.
func ExampleNew_tooFewEpochs() {
	_, err := schedule.Iterative(schedule.Forward(3), 150, 300)
	fmt.Println(err)
	// Output:
	// schedule: more stages than epochs: 3 layers at 1 layer per stage make 3 stages of 150 epochs; the last stage starts at epoch 301, so TotalEpochs must be at least 301 for the last layer to train binary for at least one epoch, got 300
}

func ExampleRandom() {
	fmt.Println(schedule.FormatPermutation(schedule.Random(5, 1)))
	fmt.Println(schedule.FormatPermutation(schedule.Random(5, 1)))
	// Output:
	// 5,1,4,2,3
	// 5,1,4,2,3
}

// A sensitivity pre-training run: only layer 2 binary, for the whole run.
func ExampleFixed() {
	s, err := schedule.Fixed(3, []int{1}, 5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	fmt.Println(s.Modes(0))
	// Output:
	// fixed schedule: 3 layers, 5 epochs, layer 2 binary from epoch 1, the others float
	// stage  epochs  binary layers
	//     1  1-5     2
	// [float binary float]
}
