package summary_test

import (
	"fmt"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/summary"
)

// The paper's MLP 784-300-100-10 with its first two layers binary and the
// classifier still float, as in the second stage of the forward order.
func ExampleOf() {
	p, err := models.Lookup("mlp-300-100")
	if err != nil {
		panic(err)
	}
	s, err := summary.Of(p.Network, []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Float})
	if err != nil {
		panic(err)
	}
	for _, r := range s.Rows {
		if r.Kind == "dense" {
			fmt.Printf("%s %s: %d weights at 1 bit, %d float MACs, %d additions\n", r.Name, r.Mode, r.BinaryParams, r.MACs, r.BinaryMACs)
		}
	}
	fmt.Printf("%d parameters, %.1f KiB as float32, %.1f KiB packed (%.1fx)\n",
		s.Total.Params, float64(s.Total.Float32Bytes)/1024, float64(s.Total.PackedBytes)/1024, s.Ratio)
	// Output:
	// dense1 binary: 235200 weights at 1 bit, 0 float MACs, 235200 additions
	// dense2 binary: 30000 weights at 1 bit, 0 float MACs, 30000 additions
	// dense3 float: 0 weights at 1 bit, 1000 float MACs, 0 additions
	// 268250 parameters, 1047.9 KiB as float32, 44.3 KiB packed (23.7x)
}
