package training

import (
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
)

// BenchmarkTrainStepMLP300 times one training step of the binary mlp-300-100
// at batch 100 (examples/s is reported).
func BenchmarkTrainStepMLP300(b *testing.B) {
	p, _ := models.Lookup("mlp-300-100")
	benchStep(b, p.Network, 100, []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Binary})
}

// BenchmarkTrainStepMLP784 times the binary mlp-784-784 at batch 100.
func BenchmarkTrainStepMLP784(b *testing.B) {
	p, _ := models.Lookup("mlp-784-784")
	benchStep(b, p.Network, 100, []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Binary})
}

func benchStep(b *testing.B, net models.Network, batch int, modes []binnet.Mode) {
	t := &testing.T{}
	data := smallData(t)
	e := newTestEngine(t, net, Optimizer{Name: "adam", LearningRate: 0.1})
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	x, y := batchOf(data.Train, idx)
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, y := batchOf(data.Train, idx)
		if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
}
