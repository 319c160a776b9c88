package cifar10

import (
	"errors"
	"fmt"
)

// Image geometry and the binary record format.
const (
	// Rows, Cols and Channels are the shape of one image: 32x32 pixels of
	// red, green and blue.
	Rows, Cols, Channels = 32, 32, 3
	// ImageSize is the number of bytes of one image (Rows*Cols*Channels).
	ImageSize = Rows * Cols * Channels
	// RecordSize is the size of one record of a batch file: a label byte
	// followed by the image (all red bytes, then green, then blue, each
	// plane row-major).
	RecordSize = 1 + ImageSize
	// NumClasses is the number of classes: labels are in 0..NumClasses-1.
	NumClasses = 10
	// RecordsPerBatch is the number of records in each standard batch
	// file, which are therefore RecordsPerBatch*RecordSize = 30,730,000
	// bytes long.
	RecordsPerBatch = 10000
)

// classNames are the names in batches.meta.txt, by label.
var classNames = [NumClasses]string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// ClassNames returns the names of the ten classes, indexed by label, as
// listed in batches.meta.txt.
func ClassNames() []string { return append([]string(nil), classNames[:]...) }

// Set is a labelled set of CIFAR-10 images held in memory.
type Set struct {
	Name   string  // e.g. "cifar10/train"; used in messages
	Images []uint8 // Len()*ImageSize bytes, image after image, each [Rows][Cols][Channels] (channels last)
	Labels []uint8 // Len() labels in 0..NumClasses-1
}

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the pixels of example i (ImageSize bytes, channels last),
// sharing memory with s.
func (s *Set) Image(i int) []uint8 {
	return s.Images[i*ImageSize : (i+1)*ImageSize : (i+1)*ImageSize]
}

// Pixel returns the value of channel ch (0 red, 1 green, 2 blue) of the
// pixel at row r, column c of example i.
func (s *Set) Pixel(i, r, c, ch int) uint8 {
	return s.Images[i*ImageSize+(r*Cols+c)*Channels+ch]
}

// Validate checks that s holds Len()*ImageSize image bytes and that every
// label is below NumClasses.
func (s *Set) Validate() error {
	if err := s.checkImages(); err != nil {
		return err
	}
	for i, l := range s.Labels {
		if l >= NumClasses {
			return fmt.Errorf("cifar10: %s: example %d has label %d, want 0..%d", s.Name, i, l, NumClasses-1)
		}
	}
	return nil
}

// checkImages checks that s is not nil and holds Len()*ImageSize image
// bytes, the first check of Validate: what indexing an example needs.
func (s *Set) checkImages() error {
	if s == nil {
		return errors.New("cifar10: no set (nil)")
	}
	if len(s.Images) != len(s.Labels)*ImageSize {
		return fmt.Errorf("cifar10: %s: %d image bytes for %d labels, want %d", s.Name, len(s.Images), len(s.Labels), len(s.Labels)*ImageSize)
	}
	return nil
}

// Slice returns the examples [from, to) as a new Set that shares memory with
// s (appending to its slices never overwrites s). Its name is s.Name followed
// by "[from:to]". Slice panics if the range is not within 0..Len().
func (s *Set) Slice(from, to int) *Set {
	if from < 0 || to < from || to > s.Len() {
		panic(fmt.Sprintf("cifar10: %s: Slice(%d, %d) out of range 0..%d", s.Name, from, to, s.Len()))
	}
	return &Set{
		Name:   fmt.Sprintf("%s[%d:%d]", s.Name, from, to),
		Images: s.Images[from*ImageSize : to*ImageSize : to*ImageSize],
		Labels: s.Labels[from:to:to],
	}
}

// Subset returns a new Set holding copies of the examples at indices, in
// that order (an index may repeat). Its name is s.Name followed by
// "[subset of N]". It fails, naming the position, if an index is not in
// 0..Len()-1, and, as Validate does, if s does not hold Len()*ImageSize
// image bytes.
func (s *Set) Subset(indices []int) (*Set, error) {
	if s == nil {
		return nil, errors.New("cifar10: no set (nil)")
	}
	return s.subset(indices, fmt.Sprintf("%s[subset of %d]", s.Name, len(indices)))
}

func (s *Set) subset(indices []int, name string) (*Set, error) {
	if err := s.checkImages(); err != nil {
		return nil, err
	}
	for k, i := range indices {
		if i < 0 || i >= s.Len() {
			return nil, fmt.Errorf("cifar10: %s: Subset: indices[%d] = %d out of range 0..%d", s.Name, k, i, s.Len()-1)
		}
	}
	out := &Set{
		Name:   name,
		Images: make([]uint8, len(indices)*ImageSize),
		Labels: make([]uint8, len(indices)),
	}
	for k, i := range indices {
		copy(out.Images[k*ImageSize:(k+1)*ImageSize], s.Images[i*ImageSize:(i+1)*ImageSize])
		out.Labels[k] = s.Labels[i]
	}
	return out, nil
}

// FromGray turns gray images of rows x cols pixels (at most 32x32), such as
// the 28x28 images of MNIST and Fashion-MNIST (a [datasets.Set]'s Rows,
// Cols, Images and Labels), into a CIFAR-shaped Set: each image is centred
// on a black 32x32 canvas (MNIST gets 2 pixels of zeros on each side) and
// its gray value is copied into the red, green and blue channels. Labels
// must be below NumClasses; they are copied.
func FromGray(name string, rows, cols int, images, labels []uint8) (*Set, error) {
	if rows <= 0 || cols <= 0 || rows > Rows || cols > Cols {
		return nil, fmt.Errorf("cifar10: FromGray(%s): images of %dx%d, want 1x1 to %dx%d", name, rows, cols, Rows, Cols)
	}
	n := len(labels)
	if len(images) != n*rows*cols {
		return nil, fmt.Errorf("cifar10: FromGray(%s): %d image bytes for %d labels of %dx%d images, want %d",
			name, len(images), n, rows, cols, n*rows*cols)
	}
	for i, l := range labels {
		if l >= NumClasses {
			return nil, fmt.Errorf("cifar10: FromGray(%s): example %d has label %d, want 0..%d", name, i, l, NumClasses-1)
		}
	}
	s := &Set{Name: name, Images: make([]uint8, n*ImageSize), Labels: make([]uint8, n)}
	copy(s.Labels, labels)
	top, left := (Rows-rows)/2, (Cols-cols)/2
	for i := range n {
		src := images[i*rows*cols : (i+1)*rows*cols]
		dst := s.Images[i*ImageSize : (i+1)*ImageSize]
		for r := range rows {
			row := src[r*cols : (r+1)*cols]
			out := dst[((top+r)*Cols+left)*Channels:]
			for c, v := range row {
				out[c*3], out[c*3+1], out[c*3+2] = v, v, v
			}
		}
	}
	return s, nil
}
