package training

import (
	"fmt"
	"math/rand/v2"

	"github.com/binnet/binnet/binnet/models"
)

// Source is a labelled example set that training reads batch by batch. An
// in-memory set ([Examples]), a CIFAR-10 set with on-the-fly augmentation or a
// streaming JPEG folder all satisfy it; packages that provide one need not
// import this package.
type Source interface {
	// String names the set in messages, e.g. "cifar10/train[0:45000]".
	String() string
	// Len is the number of examples.
	Len() int
	// ExampleShape is the shape of one example: [784] for a flat MNIST
	// vector, [32, 32, 3] for a colour image (channels last).
	ExampleShape() []int
	// Batch writes the examples at indices into x, which holds
	// len(indices)*prod(ExampleShape()) values, and their labels into y.
	// With a non-nil rng the source applies its training augmentation,
	// drawing every random choice from rng so that a batch is a function of
	// the seed (exact resume); with a nil rng it applies none (evaluation).
	Batch(indices []int, rng *rand.Rand, x []float32, y []int32) error
}

// Fingerprinter is implemented by a Source that can identify its content
// (Examples: a checksum of its features and labels), so that a run refuses
// to resume, or to rerun its test, on other data than it was trained on.
// For other sources the run records their String and Len.
type Fingerprinter interface {
	// Fingerprint returns a short text that changes when the examples do.
	Fingerprint() string
}

// sourceFingerprint identifies s's content as well as s allows.
func sourceFingerprint(s Source) string {
	if f, ok := s.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	return fmt.Sprintf("%s, %d examples", s, s.Len())
}

// exampleSize is the number of values of one example of s.
func exampleSize(s Source) int {
	n := 1
	for _, d := range s.ExampleShape() {
		n *= d
	}
	return n
}

// prefetched is one training batch, or the error that prevented it.
type prefetched struct {
	x   []float32
	y   []int32
	err error
}

// prefetchBuffers is the number of batch buffers prefetch cycles through:
// the one being trained on, those waiting in the channel (prefetchBuffers-3),
// the one being filled, and the previous one, which a receiver may still
// be reading when it takes the next.
const prefetchBuffers = 5

// augmentStream separates the augmentation draws from the shuffle's.
const augmentStream = 0x9e3779b97f4a7c15

// prefetch reads the epoch's batches of src in order in a goroutine, one or
// two ahead of the training step, so that decoding and augmentation overlap
// the computation. Batch bi draws its augmentation from an rng seeded by
// (seed, epoch, bi) alone: the batches are the same whatever the timing, and
// a resumed run sees the same ones. stop ends the goroutine early.
//
// The batches' buffers are reused round-robin (prefetchBuffers of them), so
// an epoch allocates a few batches instead of one per step. The receiver
// must be done with a batch before it receives prefetchBuffers-3 more: once
// it holds batch k+2, the producer may be filling batch k+5, in k's buffer
// (Run is done with each batch before it receives the next).
func prefetch(src Source, perm []int, batchSize, numBatches int, seed, epoch uint64) (<-chan prefetched, func()) {
	out := make(chan prefetched, prefetchBuffers-3)
	done := make(chan struct{})
	size := exampleSize(src)
	go func() {
		defer close(out)
		var ring [prefetchBuffers]prefetched
		for bi := 0; bi < numBatches; bi++ {
			idx := perm[bi*batchSize : min((bi+1)*batchSize, len(perm))]
			b := &ring[bi%prefetchBuffers]
			if cap(b.x) < len(idx)*size {
				b.x, b.y = make([]float32, len(idx)*size), make([]int32, len(idx))
			}
			b.x, b.y = b.x[:len(idx)*size], b.y[:len(idx)]
			rng := rand.New(rand.NewPCG(seed^augmentStream, epoch<<32|uint64(bi)))
			b.err = src.Batch(idx, rng, b.x, b.y)
			select {
			case out <- *b:
			case <-done:
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	var once bool
	return out, func() {
		if !once {
			once = true
			close(done)
		}
	}
}

// RandomBatch returns n examples shaped for net with standard normal
// features and uniformly drawn labels, features first, from rng: batches for
// timing training steps without a dataset (the work of a step does not
// depend on the values). It panics when n is negative, as make does.
func RandomBatch(net models.Network, n int, rng *rand.Rand) (x []float32, y []int32) {
	size := 1
	for _, d := range net.InputShape() {
		size *= d
	}
	x, y = make([]float32, n*size), make([]int32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = int32(rng.IntN(net.NumClasses()))
	}
	return x, y
}
