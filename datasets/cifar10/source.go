package cifar10

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
)

// Per-channel mean and standard deviation that the official code of
// "Iterative Training" normalizes with (torchvision's Normalize after
// ToTensor, which scales pixels to [0, 1]): a value v of channel c becomes
// (v/255 - Mean[c]) / Std[c].
const (
	MeanR, MeanG, MeanB float32 = 0.4914, 0.4822, 0.4465
	StdR, StdG, StdB    float32 = 0.2023, 0.1994, 0.2010
)

// CropPadding is the number of zero pixels added on each side of an image
// before the random 32x32 crop of the training augmentation
// (torchvision's RandomCrop(32, padding=4)).
const CropPadding = 4

// Normalization returns the official per-channel mean and standard
// deviation, [MeanR, MeanG, MeanB] and [StdR, StdG, StdB].
func Normalization() (mean, std [Channels]float32) {
	return [Channels]float32{MeanR, MeanG, MeanB}, [Channels]float32{StdR, StdG, StdB}
}

// SourceOptions chooses the preprocessing of a [Source]. The zero value
// normalizes with the official values and does not augment.
type SourceOptions struct {
	// Augment turns on the standard training augmentation of CIFAR-10 for
	// batches asked for with a random number generator: pad CropPadding
	// zero pixels on each side, crop a random 32x32 window, and flip it
	// horizontally with probability 1/2.
	Augment bool
	// Mean and Std are the per-channel normalization; if Std is all zero
	// both default to [Normalization]().
	Mean, Std [Channels]float32
}

// Source serves the examples of a [Set] as float32 batches for training,
// normalized per channel and, for training batches, augmented. It has the
// methods of binnet/training's Source interface. A Source does not change
// and may be used by several goroutines at once (each with its own rng).
type Source struct {
	set     *Set
	augment bool
	lut     [Channels][256]float32 // normalized value of each byte, per channel
	zero    [Cols * Channels]float32
}

// NewSource returns a Source of the examples of s (not copied: s must not
// change while the Source is used). It fails if s is not valid (see
// [Set.Validate]) or a standard deviation is not positive.
func NewSource(s *Set, opts SourceOptions) (*Source, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	mean, std := opts.Mean, opts.Std
	if std == [Channels]float32{} {
		mean, std = Normalization()
	}
	src := &Source{set: s, augment: opts.Augment}
	for c := range Channels {
		if !(std[c] > 0) {
			return nil, fmt.Errorf("cifar10: %s: standard deviation %v of channel %d is not positive", s.Name, std[c], c)
		}
		for v := range 256 {
			// Same operations as ToTensor then Normalize: v/255, then
			// (x - mean) / std, in float32.
			src.lut[c][v] = (float32(v)/255 - mean[c]) / std[c]
		}
	}
	for i := range src.zero {
		src.zero[i] = src.lut[i%Channels][0]
	}
	return src, nil
}

// Set returns the examples that s serves.
func (s *Source) Set() *Set { return s.set }

// String returns the name of the set, e.g. "cifar10/train".
func (s *Source) String() string { return s.set.Name }

// Len returns the number of examples.
func (s *Source) Len() int { return s.set.Len() }

// Fingerprint identifies the examples served: their count, the CRC-32C of
// their pixels and of their labels, and whether training batches are
// augmented (binnet/training records it so that a run does not resume on
// other data).
func (s *Source) Fingerprint() string {
	return fmt.Sprintf("%d cifar10 images, crc32c %08x %08x, augment %v", s.Len(),
		crc32.Checksum(s.set.Images, castagnoli), crc32.Checksum(s.set.Labels, castagnoli), s.augment)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Label returns the label of example i, 0 <= i < Len(), so that a
// training run checks every label against its network's classes before it
// starts (training.Labeler).
func (s *Source) Label(i int) int { return int(s.set.Labels[i]) }

// ExampleShape returns [Rows, Cols, Channels] = [32, 32, 3]: examples are
// channels last.
func (s *Source) ExampleShape() []int { return []int{Rows, Cols, Channels} }

// Normalized returns the normalized value that a byte v of channel c
// becomes; padding pixels of the augmentation have the value
// Normalized(c, 0).
func (s *Source) Normalized(c int, v uint8) float32 { return s.lut[c][v] }

// Batch writes the examples at indices into x (len(indices)*ImageSize
// values, each example Rows x Cols x Channels, channels last) and their
// labels into y (len(indices) values).
//
// With a nil rng, or if the Source does not augment, each example is its
// image normalized. Otherwise each example is augmented as torchvision's
// RandomCrop(32, padding=4) then RandomHorizontalFlip() do it, before
// normalization: the image is padded with CropPadding pixels of value 0 on
// each side (which normalize to Normalized(c, 0), not to 0), a 32x32 window
// at row offset dy and column offset dx of the 40x40 padded image is kept,
// and it is mirrored left to right if flip. For each example in turn, dy,
// dx and flip are drawn from rng as rng.IntN(9), rng.IntN(9) and
// rng.IntN(2) == 1, so a batch is a function of the rng's state.
//
// Batch fails, writing nothing, if len(x) or len(y) is wrong or an index is
// not in 0..Len()-1.
func (s *Source) Batch(indices []int, rng *rand.Rand, x []float32, y []int32) error {
	if len(x) != len(indices)*ImageSize || len(y) != len(indices) {
		return fmt.Errorf("cifar10: %s: Batch of %d examples needs %d values of x and %d of y, got %d and %d",
			s.set.Name, len(indices), len(indices)*ImageSize, len(indices), len(x), len(y))
	}
	n := s.set.Len()
	for k, i := range indices {
		if i < 0 || i >= n {
			return fmt.Errorf("cifar10: %s: Batch: indices[%d] = %d out of range 0..%d", s.set.Name, k, i, n-1)
		}
	}
	augment := s.augment && rng != nil
	for k, i := range indices {
		img := s.set.Images[i*ImageSize : (i+1)*ImageSize]
		dst := x[k*ImageSize : (k+1)*ImageSize]
		if augment {
			dy, dx := rng.IntN(2*CropPadding+1), rng.IntN(2*CropPadding+1)
			flip := rng.IntN(2) == 1
			s.augmented(dst, img, dy, dx, flip)
		} else {
			s.plain(dst, img)
		}
		y[k] = int32(s.set.Labels[i])
	}
	return nil
}

// plain writes the normalized image img into dst.
func (s *Source) plain(dst []float32, img []uint8) {
	dst, img = dst[:ImageSize], img[:ImageSize]
	l0, l1, l2 := &s.lut[0], &s.lut[1], &s.lut[2]
	for p := 0; p < ImageSize; p += 3 {
		d, v := dst[p:p+3:p+3], img[p:p+3:p+3]
		d[0], d[1], d[2] = l0[v[0]], l1[v[1]], l2[v[2]]
	}
}

// augmented writes into dst the 32x32 window at (dy, dx) of img padded with
// CropPadding zeros, mirrored left to right if flip, normalized.
func (s *Source) augmented(dst []float32, img []uint8, dy, dx int, flip bool) {
	const rowLen = Cols * Channels
	dst, img = dst[:ImageSize], img[:ImageSize]
	l0, l1, l2 := &s.lut[0], &s.lut[1], &s.lut[2]
	// Output columns c in [lo, hi) come from image column c+dx-CropPadding
	// (before the flip); the others are padding.
	lo, hi := max(0, CropPadding-dx), min(Cols, Cols+CropPadding-dx)
	if flip {
		// Output column c shows window column Cols-1-c.
		lo, hi = Cols-hi, Cols-lo
	}
	for r := range Rows {
		out := dst[r*rowLen : (r+1)*rowLen : (r+1)*rowLen]
		sr := r + dy - CropPadding
		if sr < 0 || sr >= Rows {
			copy(out, s.zero[:])
			continue
		}
		row := img[sr*rowLen : (sr+1)*rowLen : (sr+1)*rowLen]
		copy(out[:lo*Channels], s.zero[:])
		copy(out[hi*Channels:], s.zero[:])
		if !flip {
			src := row[(lo+dx-CropPadding)*Channels : (hi+dx-CropPadding)*Channels]
			d := out[lo*Channels : hi*Channels]
			for p := 0; p+2 < len(src) && p+2 < len(d); p += 3 {
				d[p], d[p+1], d[p+2] = l0[src[p]], l1[src[p+1]], l2[src[p+2]]
			}
			continue
		}
		for c := lo; c < hi; c++ {
			sc := Cols - 1 - c + dx - CropPadding
			v := row[sc*Channels : sc*Channels+3 : sc*Channels+3]
			d := out[c*Channels : c*Channels+3 : c*Channels+3]
			d[0], d[1], d[2] = l0[v[0]], l1[v[1]], l2[v[2]]
		}
	}
}
