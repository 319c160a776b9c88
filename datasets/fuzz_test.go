package datasets_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
)

// FuzzReadImages checks that ReadImages never panics, fails only with
// ErrCorrupt errors naming the input, and on success returns exactly the
// input (it must reject trailing bytes). More seeds are in
// testdata/fuzz/FuzzReadImages.
func FuzzReadImages(f *testing.F) {
	f.Add(idxImages(2, 3, 4))
	f.Add(idxImages(0, 28, 28))
	f.Add(idxImages(1, 28, 28)[:100])
	f.Add(append(idxImages(1, 2, 2), 0))
	f.Add(idxLabels(1, 2, 3))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, cols, images, err := datasets.ReadImages(bytes.NewReader(data), "fuzz-input")
		if err != nil {
			if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "fuzz-input") {
				t.Fatalf("error %q does not match ErrCorrupt or does not name the input", err)
			}
			if images != nil || rows != 0 || cols != 0 {
				t.Fatalf("error %v with results %d, %d, %d bytes", err, rows, cols, len(images))
			}
			return
		}
		if rows <= 0 || cols <= 0 || len(images)%(rows*cols) != 0 {
			t.Fatalf("%d bytes of %dx%d images", len(images), rows, cols)
		}
		enc := binary.BigEndian.AppendUint32(nil, 0x00000803)
		for _, d := range []int{len(images) / (rows * cols), rows, cols} {
			enc = binary.BigEndian.AppendUint32(enc, uint32(d))
		}
		if enc = append(enc, images...); !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded result differs from the input")
		}
	})
}

// FuzzReadLabels is FuzzReadImages for ReadLabels; it also checks that
// every label returned is below NumClasses.
func FuzzReadLabels(f *testing.F) {
	f.Add(idxLabels(1, 2, 3))
	f.Add(idxLabels())
	f.Add(idxLabels(1, 10, 3))
	f.Add(idxLabels(1, 2, 3)[:9])
	f.Add(append(idxLabels(1), 1))
	f.Add(idxImages(1, 1, 1))
	f.Add([]byte{0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := datasets.ReadLabels(bytes.NewReader(data), "fuzz-input")
		if err != nil {
			if !errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "fuzz-input") {
				t.Fatalf("error %q does not match ErrCorrupt or does not name the input", err)
			}
			if labels != nil {
				t.Fatalf("error %v with %d labels", err, len(labels))
			}
			return
		}
		for i, l := range labels {
			if l >= datasets.NumClasses {
				t.Fatalf("label %d at %d", l, i)
			}
		}
		enc := binary.BigEndian.AppendUint32(nil, 0x00000801)
		enc = binary.BigEndian.AppendUint32(enc, uint32(len(labels)))
		if enc = append(enc, labels...); !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded result differs from the input")
		}
	})
}
