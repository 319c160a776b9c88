package sensitivity_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/binnet/binnet/binnet/sensitivity"
)

// Ranking three layers: binarizing layer 3 alone hurts most, so it leads the
// ascend order; layers 1 and 2 tie in accuracy and layer 2's lower loss
// counts as the higher accuracy.
func ExampleRank() {
	ascend, descend := sensitivity.Rank([]sensitivity.LayerResult{
		{Layer: 1, ValAccuracy: 0.97, ValLoss: 0.12},
		{Layer: 2, ValAccuracy: 0.97, ValLoss: 0.10},
		{Layer: 3, ValAccuracy: 0.91, ValLoss: 0.30},
	})
	fmt.Println("ascend: ", ascend)
	fmt.Println("descend:", descend)
	// Output:
	// ascend:  [3 1 2]
	// descend: [2 1 3]
}

// Writing a result, reading it back and taking an order for the schedule
// package (0-based).
func ExampleReadResult() {
	dir, err := os.MkdirTemp("", "sensitivity")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mlp3.json")

	r := &sensitivity.Result{
		Model: "mlp3", Dataset: "mnist", Epochs: 10, Seed: 1, NumLayers: 3,
		Layers: []sensitivity.LayerResult{
			{Layer: 1, ValAccuracy: 0.95, ValLoss: 0.2, Epochs: 10, Seconds: 12},
			{Layer: 2, ValAccuracy: 0.97, ValLoss: 0.1, Epochs: 10, Seconds: 11},
			{Layer: 3, ValAccuracy: 0.90, ValLoss: 0.4, Epochs: 10, Seconds: 11},
		},
	}
	if err := sensitivity.WriteResultFile(path, r); err != nil {
		fmt.Println(err)
		return
	}
	back, err := sensitivity.ReadResult(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sensitivity.CheckMatches(back, 3, "mlp3"); err != nil {
		fmt.Println(err)
		return
	}
	order, err := back.Order("ascend")
	fmt.Println(back.OrderAscend, back.OrderDescend, order, err)
	fmt.Println(sensitivity.CheckMatches(back, 4, "cnn4"))
	// Output:
	// [3 1 2] [2 1 3] [2 0 1] <nil>
	// sensitivity: the sensitivity result was made for model "mlp3" (3 layers), not "cnn4": run the sensitivity pre-training for "cnn4"
}
