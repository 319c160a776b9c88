package training

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestExamplesBatch checks that a shuffled batch holds each chosen row and
// label, and that a batch with an index out of range is refused before any
// row is written.
func TestExamplesBatch(t *testing.T) {
	const n, d = 50, 7
	x := make([]float32, n*d)
	y := make([]uint8, n)
	for i := range x {
		x[i] = float32(i)
	}
	for i := range y {
		y[i] = uint8(i % 10)
	}
	e, err := NewExamples("t", x, y, d)
	if err != nil {
		t.Fatal(err)
	}
	idx := rand.New(rand.NewPCG(1, 2)).Perm(n)[:12]
	bx, by := make([]float32, len(idx)*d), make([]int32, len(idx))
	if err := e.Batch(idx, nil, bx, by); err != nil {
		t.Fatal(err)
	}
	for i, k := range idx {
		if got, want := bx[i*d:(i+1)*d], x[k*d:(k+1)*d]; !slices.Equal(got, want) {
			t.Errorf("row %d (example %d) = %v, want %v", i, k, got, want)
		}
		if by[i] != int32(k%10) {
			t.Errorf("label %d (example %d) = %d, want %d", i, k, by[i], k%10)
		}
	}
	before := slices.Clone(bx)
	bad := append(slices.Clone(idx[:5]), n)
	err = e.Batch(bad, nil, bx[:len(bad)*d], by[:len(bad)])
	if err == nil || !strings.Contains(err.Error(), "example 50 out of range 0..49") {
		t.Fatalf("index %d: err = %v, want it refused", n, err)
	}
	if !slices.Equal(bx, before) {
		t.Error("a refused batch wrote rows")
	}
}

// BenchmarkExamplesBatch times a shuffled batch of 100 MNIST-sized rows (784
// float32) from a 55,000-row set, with the CPU caches flushed between
// batches as a training step would, against copying the same rows in turn
// with nothing read ahead (what Batch did before startRows).
func BenchmarkExamplesBatch(b *testing.B) {
	const n, d, batch = 55000, 784, 100
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = rng.Float32()
	}
	e, err := NewExamples("bench", x, make([]uint8, n), d)
	if err != nil {
		b.Fatal(err)
	}
	perm := rng.Perm(n)
	bx, by := make([]float32, batch*d), make([]int32, batch)
	flush := make([]float32, 8<<20) // 32 MB, the size of this machine's L3
	run := func(b *testing.B, read func(idx []int)) {
		k := 0
		for b.Loop() {
			b.StopTimer()
			for i := range flush {
				flush[i]++
			}
			if k+batch > n {
				k = 0
			}
			b.StartTimer()
			read(perm[k : k+batch])
			k += batch
		}
	}
	b.Run("Batch", func(b *testing.B) {
		run(b, func(idx []int) {
			if err := e.Batch(idx, nil, bx, by); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("in-turn", func(b *testing.B) {
		run(b, func(idx []int) {
			for i, k := range idx {
				copy(bx[i*d:(i+1)*d], x[k*d:(k+1)*d])
				by[i] = int32(e.Y[k])
			}
		})
	})
}
