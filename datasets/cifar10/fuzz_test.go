package cifar10_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
)

// FuzzReadBatch checks that ReadBatch never panics, fails only with
// ErrCorrupt errors that name the input and a record, and on success
// returns exactly the input (WriteBatch gives it back).
//
// The input is data followed by zeros zero bytes: a record is 3,073 bytes,
// and the fuzzing engine's minimization of new inputs takes time quadratic
// in their length, so whole records are kept short this way; zeros = 0
// gives any input. The seeds are in testdata/fuzz/FuzzReadBatch.
func FuzzReadBatch(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{3, 1, 2, 3}, uint16(cifar10.RecordSize-4))
	f.Fuzz(func(t *testing.T, data []byte, zeros uint16) {
		input := append(bytes.Clone(data), make([]byte, zeros)...)
		s, err := cifar10.ReadBatch(bytes.NewReader(input), "fuzz-input")
		if err != nil {
			if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "fuzz-input") ||
				!strings.Contains(err.Error(), "record ") {
				t.Fatalf("error %q does not match ErrCorrupt or does not name the input and a record", err)
			}
			if s != nil {
				t.Fatalf("error %v with a set", err)
			}
			return
		}
		if len(input)%cifar10.RecordSize != 0 || s.Len() != len(input)/cifar10.RecordSize || s.Name != "fuzz-input" {
			t.Fatalf("%d bytes read as %d examples", len(input), s.Len())
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := cifar10.WriteBatch(&buf, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), input) {
			t.Fatalf("re-encoded result differs from the input")
		}
	})
}

// FuzzReadSplit checks that ReadSplit never panics, fails only with
// ErrCorrupt errors that name the input, and on success returns two lists
// that together hold each of 0..n-1 once.
func FuzzReadSplit(f *testing.F) {
	f.Add([]byte(`{"train": [4, 0, 2], "validation": [3, 1]}`), uint8(5))
	f.Add([]byte(`{"train": [0], "val": []}`), uint8(1))
	f.Add([]byte(`{"train": [], "validation": []}`), uint8(0))
	f.Add([]byte(`{"train": [1, 1], "validation": [0]}`), uint8(3))
	f.Add([]byte(`{"train": [-1], "validation": [9e99]}`), uint8(2))
	f.Add([]byte(`{"train": null}`), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		tr, val, err := cifar10.ReadSplit(bytes.NewReader(data), "fuzz-input", int(n))
		if err != nil {
			if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "fuzz-input") {
				t.Fatalf("error %q does not match ErrCorrupt or does not name the input", err)
			}
			return
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(tr), val...)))
		if !slices.Equal(all, seq(0, int(n))) {
			t.Fatalf("lists %v and %v are not a partition of 0..%d", tr, val, int(n)-1)
		}
	})
}
