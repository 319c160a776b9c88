package imagefolder_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/binnet/binnet/datasets/imagefolder"
	"github.com/binnet/binnet/internal/cputime"
)

// BenchmarkBatch measures batches of 32 examples of 224×224 from 64 colour
// JPEGs of 256×256 (MNIST digits, upscaled), for the evaluation transform
// (resize 256, centre crop 224) and both training transforms, with one
// worker and one per CPU. It reports decoded images per second of wall time
// (images/s) and of CPU time (images/cpu-s).
func BenchmarkBatch(b *testing.B) {
	images, labels := digits(b, 8, 8)
	names := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}
	root := b.TempDir()
	if err := imagefolder.WriteFromGray(root, names, 28, 28, images, labels, imagefolder.WriteOptions{Width: 256, Height: 256, RGB: true}); err != nil {
		b.Fatal(err)
	}
	const bs = 32
	for _, tr := range []string{"eval", "RandomResizedCrop", "ResizeRandomCrop"} {
		for _, workers := range []int{1, runtime.NumCPU()} {
			b.Run(fmt.Sprintf("%s/workers=%d", tr, workers), func(b *testing.B) {
				opts := imagefolder.Options{Workers: workers}
				var rng *rand.Rand
				if tr != "eval" {
					rng = rand.New(rand.NewPCG(1, 2))
					if tr == "ResizeRandomCrop" {
						opts.Train = imagefolder.ResizeRandomCrop
					}
				}
				f := open(b, root, opts)
				x := make([]float32, bs*224*224*3)
				y := make([]int32, bs)
				indices := make([]int, bs)
				cpu0 := cpuTime()
				i := 0
				for ; b.Loop(); i++ {
					for k := range indices {
						indices[k] = (i*bs + k) % f.Len()
					}
					if err := f.Batch(indices, rng, x, y); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(i*bs)/b.Elapsed().Seconds(), "images/s")
				// Images per second of CPU time (user and system, all
				// threads): what one core does, even on a loaded machine.
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(i*bs)/cpu.Seconds(), "images/cpu-s")
				}
			})
		}
	}
}

// cpuTime returns the user and system CPU time of the process so far, or 0
// where getrusage is not available.
func cpuTime() time.Duration {
	user, sys, _ := cputime.Process()
	return user + sys
}
