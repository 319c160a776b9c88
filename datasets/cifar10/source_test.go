package cifar10_test

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets/cifar10"
)

// trainingSource is binnet/training's Source interface, repeated here so
// that this package need not import it.
type trainingSource interface {
	String() string
	Len() int
	ExampleShape() []int
	Batch(indices []int, rng *rand.Rand, x []float32, y []int32) error
}

var _ trainingSource = (*cifar10.Source)(nil)

var officialMean, officialStd = [3]float32{0.4914, 0.4822, 0.4465}, [3]float32{0.2023, 0.1994, 0.2010}

// norm is torchvision's ToTensor then Normalize for one byte of channel c.
func norm(v uint8, c int) float32 {
	return (float32(v)/255 - officialMean[c]) / officialStd[c]
}

// reference computes one augmented example the slow, obvious way: pad the
// image with 4 zero pixels on each side, crop the 32x32 window at (dy, dx),
// mirror it if flip, normalize.
func reference(img []uint8, dy, dx int, flip bool) []float32 {
	var padded [40][40][3]uint8
	for r := range 32 {
		for c := range 32 {
			for ch := range 3 {
				padded[r+4][c+4][ch] = img[(r*32+c)*3+ch]
			}
		}
	}
	out := make([]float32, 3072)
	for r := range 32 {
		for c := range 32 {
			wc := c
			if flip {
				wc = 31 - c
			}
			for ch := range 3 {
				out[(r*32+c)*3+ch] = norm(padded[r+dy][wc+dx][ch], ch)
			}
		}
	}
	return out
}

// draws repeats the documented random choices of Batch for one example.
func draws(rng *rand.Rand) (dy, dx int, flip bool) {
	dy, dx = rng.IntN(9), rng.IntN(9)
	return dy, dx, rng.IntN(2) == 1
}

// seedFor returns a seed whose first draws are dy, dx, flip.
func seedFor(t *testing.T, dy, dx int, flip bool) uint64 {
	t.Helper()
	for seed := range uint64(100000) {
		y, x, f := draws(rand.New(rand.NewPCG(seed, 0)))
		if y == dy && x == dx && f == flip {
			return seed
		}
	}
	t.Fatalf("no seed draws %d, %d, %v", dy, dx, flip)
	return 0
}

// patternSet returns one image whose every byte is non-zero and different
// from its neighbours, so that padding and shifts cannot go unnoticed.
func patternSet() *cifar10.Set {
	s := &cifar10.Set{Name: "pattern", Images: make([]uint8, 3072), Labels: []uint8{6}}
	for i := range s.Images {
		s.Images[i] = uint8(1 + (i*7)%254)
	}
	return s
}

func newSource(t testing.TB, s *cifar10.Set, augment bool) *cifar10.Source {
	t.Helper()
	src, err := cifar10.NewSource(s, cifar10.SourceOptions{Augment: augment})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSourceBasics(t *testing.T) {
	s := mnistAsCIFAR(t, 30)
	src := newSource(t, s, true)
	if src.String() != "mnist-sample" || src.Len() != 30 || !slices.Equal(src.ExampleShape(), []int{32, 32, 3}) || src.Set() != s {
		t.Errorf("String %q, Len %d, ExampleShape %v", src.String(), src.Len(), src.ExampleShape())
	}
	mean, std := cifar10.Normalization()
	if mean != officialMean || std != officialStd ||
		cifar10.MeanR != 0.4914 || cifar10.MeanG != 0.4822 || cifar10.MeanB != 0.4465 ||
		cifar10.StdR != 0.2023 || cifar10.StdG != 0.1994 || cifar10.StdB != 0.2010 {
		t.Errorf("Normalization() = %v, %v", mean, std)
	}
	for c := range 3 {
		for v := range 256 {
			if got := src.Normalized(c, uint8(v)); got != norm(uint8(v), c) {
				t.Fatalf("Normalized(%d, %d) = %v, want %v", c, v, got, norm(uint8(v), c))
			}
		}
	}
	if z := src.Normalized(0, 0); z != -cifar10.MeanR/cifar10.StdR || math.Abs(float64(z)+2.4291) > 1e-4 {
		t.Errorf("a zero red byte normalizes to %v, want -0.4914/0.2023", z)
	}
	for i := range src.Len() {
		if got := src.Label(i); got != int(s.Labels[i]) {
			t.Fatalf("Label(%d) = %d, want %d", i, got, s.Labels[i])
		}
	}
}

// TestSourceFingerprint: the fingerprint is the count and the CRC-32C of
// the pixels and labels, and it changes with one pixel, one label or the
// augmentation.
func TestSourceFingerprint(t *testing.T) {
	s := mnistAsCIFAR(t, 30)
	fp := newSource(t, s, true).Fingerprint()
	c := crc32.MakeTable(crc32.Castagnoli)
	want := fmt.Sprintf("30 cifar10 images, crc32c %08x %08x, augment true", crc32.Checksum(s.Images, c), crc32.Checksum(s.Labels, c))
	if fp != want {
		t.Errorf("Fingerprint() = %q, want %q", fp, want)
	}
	if newSource(t, s, false).Fingerprint() == fp {
		t.Error("the fingerprint does not change with the augmentation")
	}
	px := &cifar10.Set{Name: s.Name, Images: slices.Clone(s.Images), Labels: s.Labels}
	px.Images[1234]++
	lb := &cifar10.Set{Name: s.Name, Images: s.Images, Labels: slices.Clone(s.Labels)}
	lb.Labels[7] = (lb.Labels[7] + 1) % 10
	for name, o := range map[string]*cifar10.Set{"one pixel": px, "one label": lb} {
		if newSource(t, o, true).Fingerprint() == fp {
			t.Errorf("the fingerprint does not change with %s", name)
		}
	}
}

// TestSourcePlain checks that without an rng, or without augmentation,
// examples are the normalized images, and the labels are copied.
func TestSourcePlain(t *testing.T) {
	s := mnistAsCIFAR(t, 30)
	indices := []int{29, 0, 7, 7}
	for _, tc := range []struct {
		augment bool
		rng     *rand.Rand
	}{{true, nil}, {false, nil}, {false, rand.New(rand.NewPCG(1, 2))}} {
		src := newSource(t, s, tc.augment)
		x, y := make([]float32, 4*3072), make([]int32, 4)
		if err := src.Batch(indices, tc.rng, x, y); err != nil {
			t.Fatal(err)
		}
		for k, i := range indices {
			if y[k] != int32(s.Labels[i]) {
				t.Errorf("y[%d] = %d, want %d", k, y[k], s.Labels[i])
			}
			img := s.Image(i)
			for p, v := range img {
				if got := x[k*3072+p]; got != norm(v, p%3) {
					t.Fatalf("augment %v: example %d value %d = %v, want %v", tc.augment, k, p, got, norm(v, p%3))
				}
			}
		}
	}
}

// TestAugmentByHand checks particular crops and flips against values
// computed by hand from the image.
func TestAugmentByHand(t *testing.T) {
	s := patternSet()
	src := newSource(t, s, true)
	x, y := make([]float32, 3072), make([]int32, 1)
	img := s.Image(0)
	at := func(r, c, ch int) float32 { return x[(r*32+c)*3+ch] }

	// Centre crop, flipped: columns reversed.
	if err := src.Batch([]int{0}, rand.New(rand.NewPCG(seedFor(t, 4, 4, true), 0)), x, y); err != nil {
		t.Fatal(err)
	}
	if y[0] != 6 {
		t.Errorf("label %d, want 6", y[0])
	}
	for r := range 32 {
		for c := range 32 {
			for ch := range 3 {
				if want := norm(img[(r*32+31-c)*3+ch], ch); at(r, c, ch) != want {
					t.Fatalf("flip: (%d, %d, %d) = %v, want %v", r, c, ch, at(r, c, ch), want)
				}
			}
		}
	}

	// Window at the top right of the padded image, not flipped: the image
	// moves 4 rows down and 4 columns left; rows 0..3 and columns 28..31
	// are padding, equal to the normalized zero.
	if err := src.Batch([]int{0}, rand.New(rand.NewPCG(seedFor(t, 0, 8, false), 0)), x, y); err != nil {
		t.Fatal(err)
	}
	zero := [3]float32{-0.4914 / 0.2023, -0.4822 / 0.1994, -0.4465 / 0.2010}
	for r := range 32 {
		for c := range 32 {
			for ch := range 3 {
				want := zero[ch]
				if r >= 4 && c < 28 {
					want = norm(img[((r-4)*32+c+4)*3+ch], ch)
				}
				if math.Abs(float64(at(r, c, ch)-want)) > 1e-6 {
					t.Fatalf("crop (0, 8): (%d, %d, %d) = %v, want %v", r, c, ch, at(r, c, ch), want)
				}
			}
		}
	}
	if at(0, 0, 0) != src.Normalized(0, 0) || at(31, 31, 2) != src.Normalized(2, 0) {
		t.Errorf("padding is not exactly the normalized zero")
	}

	// Window at the bottom left, flipped: output column c shows window
	// column 31-c, i.e. image column 27-c; columns 28..31 are padding
	// (window columns 0..3), and so are rows 28..31.
	if err := src.Batch([]int{0}, rand.New(rand.NewPCG(seedFor(t, 8, 0, true), 0)), x, y); err != nil {
		t.Fatal(err)
	}
	for r := range 32 {
		for c := range 32 {
			for ch := range 3 {
				want := src.Normalized(ch, 0)
				if r < 28 && c < 28 {
					want = norm(img[((r+4)*32+27-c)*3+ch], ch)
				}
				if at(r, c, ch) != want {
					t.Fatalf("crop (8, 0) flipped: (%d, %d, %d) = %v, want %v", r, c, ch, at(r, c, ch), want)
				}
			}
		}
	}
}

// TestAugmentReference compares whole batches of real digits and of the
// pattern with the slow reference, for every offset and flip drawn.
func TestAugmentReference(t *testing.T) {
	s := mnistAsCIFAR(t, 200)
	p := patternSet()
	s.Images = append(s.Images, p.Images...)
	s.Labels = append(s.Labels, p.Labels...)
	src := newSource(t, s, true)
	const batch = 100
	x, y := make([]float32, batch*3072), make([]int32, batch)
	seen := map[[3]int]bool{}
	for round := range uint64(20) {
		pick := rand.New(rand.NewPCG(round, 99))
		indices := make([]int, batch)
		for k := range indices {
			indices[k] = pick.IntN(s.Len())
		}
		indices[0] = 200 // the pattern
		if err := src.Batch(indices, rand.New(rand.NewPCG(round, 1)), x, y); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(round, 1))
		for k, i := range indices {
			dy, dx, flip := draws(rng)
			f := 0
			if flip {
				f = 1
			}
			seen[[3]int{dy, dx, f}] = true
			if want := reference(s.Image(i), dy, dx, flip); !slices.Equal(x[k*3072:(k+1)*3072], want) {
				t.Fatalf("round %d example %d (image %d, dy %d, dx %d, flip %v) differs from the reference", round, k, i, dy, dx, flip)
			}
			if y[k] != int32(s.Labels[i]) {
				t.Fatalf("y[%d] = %d, want %d", k, y[k], s.Labels[i])
			}
		}
	}
	if len(seen) != 9*9*2 {
		t.Errorf("%d of the 162 (dy, dx, flip) combinations drawn in 2,000 examples", len(seen))
	}
}

func TestAugmentDeterministic(t *testing.T) {
	s := mnistAsCIFAR(t, 50)
	src := newSource(t, s, true)
	indices := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	batch := func(rng *rand.Rand) []float32 {
		x, y := make([]float32, len(indices)*3072), make([]int32, len(indices))
		if err := src.Batch(indices, rng, x, y); err != nil {
			t.Fatal(err)
		}
		return x
	}
	a := batch(rand.New(rand.NewPCG(7, 0)))
	b := batch(rand.New(rand.NewPCG(7, 0)))
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different batches")
	}
	if c := batch(rand.New(rand.NewPCG(8, 0))); slices.Equal(a, c) {
		t.Errorf("different seeds, same batch")
	}
	// The rng advances: two batches from one rng differ.
	rng := rand.New(rand.NewPCG(7, 0))
	first, second := batch(rng), batch(rng)
	if !slices.Equal(first, a) || slices.Equal(first, second) {
		t.Errorf("consecutive batches of one rng are the same")
	}
	// Concurrent use with separate rngs gives the same results.
	done := make(chan []float32)
	for range 4 {
		go func() { done <- batch(rand.New(rand.NewPCG(7, 0))) }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, a) {
			t.Errorf("concurrent batch differs")
		}
	}
}

func TestSourceErrors(t *testing.T) {
	s := mnistAsCIFAR(t, 10)
	src := newSource(t, s, true)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		indices []int
		nx, ny  int
		want    string
	}{
		{[]int{0, 1}, 3072, 2, "Batch of 2 examples needs 6144 values of x and 2 of y, got 3072 and 2"},
		{[]int{0, 1}, 6144, 3, "needs 6144 values of x and 2 of y, got 6144 and 3"},
		{[]int{0, 10}, 6144, 2, "indices[1] = 10 out of range 0..9"},
		{[]int{-1, 0}, 6144, 2, "indices[0] = -1 out of range 0..9"},
	} {
		x, y := make([]float32, tc.nx), make([]int32, tc.ny)
		for i := range x {
			x[i] = 42
		}
		err := src.Batch(tc.indices, rng, x, y)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "mnist-sample") {
			t.Errorf("Batch(%v): %v, want an error containing %q", tc.indices, err, tc.want)
		}
		for i := range x {
			if x[i] != 42 {
				t.Fatalf("Batch(%v) wrote x before failing", tc.indices)
			}
		}
	}
	if err := src.Batch(nil, rng, nil, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}

	if _, err := cifar10.NewSource(s, cifar10.SourceOptions{Std: [3]float32{1, 0, 1}}); err == nil ||
		!strings.Contains(err.Error(), "standard deviation 0 of channel 1") {
		t.Errorf("NewSource with std 0: %v", err)
	}
	bad := &cifar10.Set{Name: "bad", Images: make([]uint8, 100), Labels: []uint8{1}}
	if _, err := cifar10.NewSource(bad, cifar10.SourceOptions{}); err == nil {
		t.Errorf("NewSource of an invalid set succeeded")
	}
	// Custom normalization.
	custom, err := cifar10.NewSource(s, cifar10.SourceOptions{Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.25, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if custom.Normalized(0, 255) != 1 || custom.Normalized(1, 0) != -2 || custom.Normalized(2, 0) != -0.5 {
		t.Errorf("custom normalization: %v %v %v", custom.Normalized(0, 255), custom.Normalized(1, 0), custom.Normalized(2, 0))
	}
}

func benchmarkBatch(b *testing.B, augment bool) {
	s := mnistAsCIFAR(b, 1000)
	src := newSource(b, s, augment)
	const batch = 100
	x, y := make([]float32, batch*3072), make([]int32, batch)
	pick := rand.New(rand.NewPCG(1, 2))
	indices := make([]int, batch)
	for k := range indices {
		indices[k] = pick.IntN(s.Len())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.SetBytes(batch * 3072)
	b.ReportAllocs()
	for b.Loop() {
		if err := src.Batch(indices, rng, x, y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchAugmented measures batches of 100 with pad, crop and flip
// (bytes/s counts image bytes read).
func BenchmarkBatchAugmented(b *testing.B) { benchmarkBatch(b, true) }

// BenchmarkBatchPlain measures batches of 100 without augmentation.
func BenchmarkBatchPlain(b *testing.B) { benchmarkBatch(b, false) }
