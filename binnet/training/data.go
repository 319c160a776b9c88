package training

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/datasets"
)

// Examples is a labelled set of examples as float32 features.
type Examples struct {
	Name   string    // names the set in messages (String), e.g. "mnist/train[0:55000]"
	X      []float32 // Len()*prod(Shape) features, example after example
	Y      []uint8   // labels
	Shape  []int     // shape of one example
	stride int
}

// NewExamples wraps features and labels; len(x) must be len(y)*prod(shape).
func NewExamples(name string, x []float32, y []uint8, shape ...int) (*Examples, error) {
	stride := 1
	for _, d := range shape {
		stride *= d
	}
	if stride <= 0 || len(x) != len(y)*stride {
		return nil, fmt.Errorf("training: %s: %d features for %d labels of shape %v (want %d)", name, len(x), len(y), shape, len(y)*stride)
	}
	return &Examples{Name: name, X: x, Y: y, Shape: append([]int(nil), shape...), stride: stride}, nil
}

// FromSet normalizes an image set, (pixel/255-mean)/std, into Examples shaped
// like shape (e.g. [784] for an MLP or [28,28,1] for a convolutional network).
func FromSet(s *datasets.Set, mean, std float32, shape ...int) (*Examples, error) {
	return NewExamples(s.Name, s.Features(mean, std), s.Labels, shape...)
}

// Len returns the number of examples.
func (e *Examples) Len() int { return len(e.Y) }

// Label returns the label of example i, 0 <= i < Len() (Labeler).
func (e *Examples) Label(i int) int { return int(e.Y[i]) }

// String returns the set's name.
func (e *Examples) String() string { return e.Name }

// ExampleShape returns the shape of one example.
func (e *Examples) ExampleShape() []int { return append([]int(nil), e.Shape...) }

// Fingerprint identifies the examples' content: the CRC-32C of their
// features (as float32 bytes) and of their labels, with their count and
// shape (see Fingerprinter).
func (e *Examples) Fingerprint() string {
	x := crc32.Checksum(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e.X))), 4*len(e.X)), castagnoli)
	y := crc32.Checksum(e.Y, castagnoli)
	return fmt.Sprintf("%d x %v, crc32c %08x %08x", len(e.Y), e.Shape, x, y)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Batch copies the examples at indices into x and their labels into y.
// In-memory examples have no augmentation: rng is ignored.
func (e *Examples) Batch(indices []int, _ *rand.Rand, x []float32, y []int32) error {
	if len(x) != len(indices)*e.stride || len(y) != len(indices) {
		return fmt.Errorf("training: %s: batch of %d examples needs %d features and %d labels, got %d and %d",
			e.Name, len(indices), len(indices)*e.stride, len(indices), len(x), len(y))
	}
	for _, idx := range indices {
		if idx < 0 || idx >= e.Len() {
			return fmt.Errorf("training: %s: example %d out of range 0..%d", e.Name, idx, e.Len()-1)
		}
	}
	startRows(e.X, indices, e.stride)
	for i, idx := range indices {
		copy(x[i*e.stride:(i+1)*e.stride], e.X[idx*e.stride:(idx+1)*e.stride])
		y[i] = int32(e.Y[idx])
	}
	return nil
}

// startRows reads the first value of each row at indices (rows of stride
// values in data) before a batch copies them. The reads do not depend on each
// other, so the CPU sends them to memory together, and each row's copy then
// finds its first cache line loaded and the hardware prefetcher streaming
// the rest; copied in turn, a shuffled batch waited for memory once per row.
// On MNIST (rows of 3 KB from a 172 MB set) this halves the time a batch of
// 100 takes (BenchmarkExamplesBatch: ~75 to ~48 µs with the caches flushed
// between batches).
func startRows(data []float32, indices []int, stride int) {
	var s float32
	for _, idx := range indices {
		s += data[idx*stride]
	}
	rowSink.Store(math.Float32bits(s))
}

// rowSink keeps startRows's reads from being optimized away.
var rowSink atomic.Uint32

// Data holds the three splits of a run.
type Data struct {
	// Train is the training set, shuffled every epoch and read with its
	// augmentation; it needs at least one batch of examples. Val is the
	// validation set, evaluated after every epoch; Test is the test set,
	// evaluated once after the last epoch (unless Config.SkipTest). Each must
	// be non-empty, its examples shaped as the network's input.
	Train, Val, Test Source
}

// check validates the splits against a network's input shape and, for
// the splits that are Labelers, their labels against its classes.
func (d Data) check(shape []int, net models.Network) error {
	for _, s := range []struct {
		name string
		e    Source
	}{{"training", d.Train}, {"validation", d.Val}, {"test", d.Test}} {
		if s.e == nil || s.e.Len() == 0 {
			return fmt.Errorf("training: the %s set is empty", s.name)
		}
		if fmt.Sprint(s.e.ExampleShape()) != fmt.Sprint(shape) {
			return fmt.Errorf("training: the %s set %s has examples of shape %v, the network wants %v", s.name, s.e, s.e.ExampleShape(), shape)
		}
		if l, ok := s.e.(Labeler); ok {
			for i := range s.e.Len() {
				if err := checkLabel(l.Label(i), net); err != nil {
					return fmt.Errorf("training: the %s set %s: example %d %w", s.name, s.e, i, err)
				}
			}
		}
	}
	return nil
}

// Labeler is implemented by a Source that gives the label of an example
// without reading the example ([Examples], an image folder, a CIFAR-10 source): Run then checks
// every label against the network's classes before it trains. The labels
// of other sources are checked batch by batch, as the engine meets them.
type Labeler interface {
	// Label returns the label of example i, 0 <= i < Len().
	Label(i int) int
}

// checkLabel returns an error, to follow "example N", unless label is one
// of net's classes.
func checkLabel(label int, net models.Network) error {
	if n := net.NumClasses(); label < 0 || label >= n {
		return fmt.Errorf("has label %d, but network %s has %d classes (labels 0..%d)", label, net.Name(), n, n-1)
	}
	return nil
}

// checkLabels returns an error naming the first label of a batch that is
// not one of net's classes, with its example's index in the batch.
func checkLabels(y []int32, net models.Network) error {
	n := int32(net.NumClasses())
	for i, l := range y {
		if l < 0 || l >= n {
			return fmt.Errorf("training: example %d of the batch %w", i, checkLabel(int(l), net))
		}
	}
	return nil
}
