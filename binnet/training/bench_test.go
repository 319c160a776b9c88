package training

import (
	"slices"
	"testing"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/internal/cputime"
)

// BenchmarkTrainStepMLP300 times one training step of the binary mlp-300-100
// at batch 100 (examples/s is reported), with the graph of the stage
// (default) and with the single gated graph.
func BenchmarkTrainStepMLP300(b *testing.B) {
	benchModes(b, "mlp-300-100")
}

// BenchmarkTrainStepMLP784 times mlp-784-784 at batch 100, as above.
func BenchmarkTrainStepMLP784(b *testing.B) {
	benchModes(b, "mlp-784-784")
}

func benchModes(b *testing.B, preset string) {
	p, _ := models.Lookup(preset)
	for _, c := range []struct {
		name string
		mode binnet.Mode
	}{{"binary", binnet.Binary}, {"float", binnet.Float}} {
		modes := slices.Repeat([]binnet.Mode{c.mode}, p.Network.NumBinarizable())
		for _, gated := range []bool{false, true} {
			name := c.name + "/stage"
			if gated {
				name = c.name + "/gated"
			}
			b.Run(name, func(b *testing.B) { benchStep(b, p.Network, 100, modes, gated) })
		}
	}
}

func benchStep(b *testing.B, net models.Network, batch int, modes []binnet.Mode, gated bool) {
	t := &testing.T{}
	data := smallData(t)
	e := newTestEngine(t, net, Optimizer{Name: "adam", LearningRate: 0.1})
	e.Gated = gated
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	x, y := batchOf(data.Train, idx)
	if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		x, y := batchOf(data.Train, idx)
		if err := e.TrainStep(x, y, data.Train.ExampleShape(), modes, 0.1); err != nil {
			b.Fatal(err)
		}
	}
	reportStepMetrics(b, batch, cpu)
}

// BenchmarkTrainStepConv times one all-binary training step of the
// convolutional presets on random images: cnn (28x28x1) and vgg5 (32x32x3)
// at batch 100, resnet20 at batch 128.
func BenchmarkTrainStepConv(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
	}{{"cnn", 100}, {"vgg5", 100}, {"resnet20", 128}} {
		b.Run(c.name, func(b *testing.B) {
			p, _ := models.Lookup(c.name)
			net := p.Network
			t := &testing.T{}
			e := newTestEngine(t, net, Optimizer{Name: "adam", LearningRate: 0.01})
			size := 1
			for _, d := range net.InputShape() {
				size *= d
			}
			x, y := make([]float32, c.batch*size), make([]int32, c.batch)
			for i := range x {
				x[i] = float32(i%13)/13 - 0.5
			}
			for i := range y {
				y[i] = int32(i % net.NumClasses())
			}
			modes := slices.Repeat([]binnet.Mode{binnet.Binary}, net.NumBinarizable())
			if err := e.TrainStep(x, y, net.InputShape(), modes, 0.01); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if err := e.TrainStep(x, y, net.InputShape(), modes, 0.01); err != nil {
					b.Fatal(err)
				}
			}
			reportStepMetrics(b, c.batch, cpu)
		})
	}
}

// processCPU is the CPU time (user and system, all threads) this process has
// used so far, or 0 where it cannot be read.
func processCPU() time.Duration {
	user, sys, _ := cputime.Process()
	return user + sys
}

// reportStepMetrics reports examples/s and the CPU milliseconds per step
// since cpu (process CPU time read when the timer started): on a shared
// machine the CPU time a step costs is steadier than its wall time.
func reportStepMetrics(b *testing.B, batch int, cpu time.Duration) {
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "examples/s")
	b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
}
