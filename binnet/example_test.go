package binnet_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/schedule"
)

// The modes of a three-layer network in the second stage of the forward
// order (2 epochs per layer) with the layers binarized earlier frozen:
// layer 1 frozen, layer 2 binary, layer 3 still float.
func ExampleMode() {
	sched, err := schedule.New(schedule.Config{NumLayers: 3, Kind: schedule.KindIterative, Order: schedule.Forward(3),
		EpochsPerStage: 2, TotalEpochs: 8, FreezeBinarized: true})
	if err != nil {
		panic(err)
	}
	var modes []binnet.Mode = sched.Modes(2) // the third epoch, the first of stage 2
	for i, m := range modes {
		fmt.Printf("layer %d: %-6s sign(w) in the forward pass: %v\n", i+1, m, m.IsBinary())
	}
	// Output:
	// layer 1: frozen sign(w) in the forward pass: true
	// layer 2: binary sign(w) in the forward pass: true
	// layer 3: float  sign(w) in the forward pass: false
}
