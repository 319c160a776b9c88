package datasets

import (
	"fmt"
	"strings"
)

// Set is a labelled image set held in memory.
type Set struct {
	Name       string  // e.g. "mnist/train"; the part before the first "/" names the data set
	Rows, Cols int     // image size in pixels: 28, 28 for MNIST and Fashion-MNIST
	Images     []uint8 // Len()*Rows*Cols bytes, row-major, image after image
	Labels     []uint8 // Len() labels in 0..NumClasses-1
	// File is the images file the set was read from, as named in error
	// messages (set by Load and Sample, kept by Slice and HoldOutLast;
	// empty for sets built otherwise). Messages about the images' shape
	// name it.
	File string
}

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the pixels of example i (Rows*Cols bytes, row-major), sharing
// memory with s.
func (s *Set) Image(i int) []uint8 {
	rc := s.Rows * s.Cols
	return s.Images[i*rc : (i+1)*rc : (i+1)*rc]
}

// Slice returns the examples [from, to) as a new Set that shares memory with
// s (appending to its slices never overwrites s). Its name is s.Name followed
// by "[from:to]". Slice panics if the range is not within 0..Len().
func (s *Set) Slice(from, to int) *Set {
	if from < 0 || to < from || to > s.Len() {
		panic(fmt.Sprintf("datasets: %s: Slice(%d, %d) out of range 0..%d", s.Name, from, to, s.Len()))
	}
	rc := s.Rows * s.Cols
	return &Set{
		Name:   fmt.Sprintf("%s[%d:%d]", s.Name, from, to),
		Rows:   s.Rows,
		Cols:   s.Cols,
		Images: s.Images[from*rc : to*rc : to*rc],
		Labels: s.Labels[from:to:to],
		File:   s.File,
	}
}

// HoldOutLast splits s into a training set of the first Len()-n examples and
// a validation set of the last n examples (this is how the reference code of
// BinaryConnect/BinaryNet holds out 5,000 of MNIST's 60,000 training
// examples: the last ones, not a random split). Both share memory with s.
// It fails unless 0 < n < Len().
func (s *Set) HoldOutLast(n int) (train, val *Set, err error) {
	switch {
	case s.Len() == 0:
		return nil, nil, fmt.Errorf("datasets: %s%s has no examples: cannot hold out %d for validation", s.Name, s.fileSuffix(), n)
	case s.Len() == 1:
		return nil, nil, fmt.Errorf("datasets: %s%s has only 1 example: cannot hold out %d for validation and keep some for training", s.Name, s.fileSuffix(), n)
	case n <= 0 || n >= s.Len():
		return nil, nil, fmt.Errorf("datasets: %s: cannot hold out %d of %d examples: want 0 < n < %d", s.Name, n, s.Len(), s.Len())
	}
	k := s.Len() - n
	return s.Slice(0, k), s.Slice(k, s.Len()), nil
}

// fileSuffix returns " (FILE)" when the set knows its file, else "".
func (s *Set) fileSuffix() string {
	if s.File == "" {
		return ""
	}
	return " (" + s.File + ")"
}

// Features returns the pixels of all images as float32 values
// (pixel/255 - mean)/std, in the same order as s.Images. See [Normalization]
// for the usual mean and std.
func (s *Set) Features(mean, std float32) []float32 {
	var lut [256]float32
	for p := range lut {
		lut[p] = (float32(p)/255 - mean) / std
	}
	out := make([]float32, len(s.Images))
	for i, p := range s.Images {
		out[i] = lut[p]
	}
	return out
}

// Per-pixel mean and standard deviation of the training images, after
// scaling pixels to [0, 1].
const (
	// MNISTMean and MNISTStd are the values used by the paper's code for MNIST.
	MNISTMean, MNISTStd float32 = 0.1307, 0.3081
	// FashionMNISTMean and FashionMNISTStd are the usual Fashion-MNIST values.
	FashionMNISTMean, FashionMNISTStd float32 = 0.2860, 0.3530
)

// Normalization returns the mean and standard deviation to pass to
// [Set.Features] for a data set or Set name: the part of name before the
// first "/" selects it ("mnist" and "sample", the embedded MNIST sample, give
// MNISTMean, MNISTStd; "fashion-mnist" gives FashionMNISTMean,
// FashionMNISTStd). For any other name it returns 0, 1, which only scales
// pixels to [0, 1].
func Normalization(name string) (mean, std float32) {
	base, _, _ := strings.Cut(name, "/")
	switch base {
	case "mnist", "sample":
		return MNISTMean, MNISTStd
	case "fashion-mnist":
		return FashionMNISTMean, FashionMNISTStd
	}
	return 0, 1
}
