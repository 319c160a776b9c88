package datasets_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/binnet/binnet/datasets"
)

func TestHoldOutLastReal(t *testing.T) {
	full, _ := loadShared(t, "mnist")
	train, val, err := full.HoldOutLast(5000)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 55000 || val.Len() != 5000 || len(train.Images) != 55000*784 || len(val.Images) != 5000*784 {
		t.Fatalf("HoldOutLast(5000) of %d: %d and %d examples", full.Len(), train.Len(), val.Len())
	}
	if val.Labels[0] != full.Labels[55000] || !bytes.Equal(val.Image(0), full.Image(55000)) {
		t.Errorf("val[0] (label %d) is not full[55000] (label %d)", val.Labels[0], full.Labels[55000])
	}
	if val.Labels[4999] != full.Labels[59999] || !bytes.Equal(train.Image(54999), full.Image(54999)) {
		t.Errorf("wrong split boundaries")
	}
	if &val.Images[0] != &full.Images[55000*784] || &train.Labels[0] != &full.Labels[0] {
		t.Errorf("HoldOutLast copied instead of sharing memory")
	}
	if train.Name != "mnist/train[0:55000]" || val.Name != "mnist/train[55000:60000]" {
		t.Errorf("names %q, %q", train.Name, val.Name)
	}
	if m, s := datasets.Normalization(val.Name); m != datasets.MNISTMean || s != datasets.MNISTStd {
		t.Errorf("Normalization(%q) = %v, %v", val.Name, m, s)
	}
}

func TestHoldOutLastBounds(t *testing.T) {
	s := &datasets.Set{Name: "x", Rows: 2, Cols: 2, Images: make([]uint8, 3*4), Labels: []uint8{0, 1, 2}}
	for _, n := range []int{-1, 0, 3, 4} {
		if tr, v, err := s.HoldOutLast(n); err == nil || tr != nil || v != nil {
			t.Errorf("HoldOutLast(%d) of 3: no error", n)
		}
	}
	tr, v, err := s.HoldOutLast(1)
	if err != nil || tr.Len() != 2 || v.Len() != 1 || v.Labels[0] != 2 {
		t.Errorf("HoldOutLast(1) of 3: %v, %v, %v", tr, v, err)
	}
}

func TestSlice(t *testing.T) {
	s := &datasets.Set{Name: "x", Rows: 1, Cols: 2, Images: []uint8{0, 1, 2, 3, 4, 5, 6, 7}, Labels: []uint8{0, 1, 2, 3}}
	sub := s.Slice(1, 3)
	if sub.Len() != 2 || !bytes.Equal(sub.Images, []uint8{2, 3, 4, 5}) || !bytes.Equal(sub.Labels, []uint8{1, 2}) || sub.Name != "x[1:3]" {
		t.Fatalf("Slice(1, 3) = %+v", sub)
	}
	// Appending to the sub-set must not overwrite the rest of s.
	sub.Images = append(sub.Images, 99, 99)
	sub.Labels = append(sub.Labels, 99)
	if s.Images[6] != 6 || s.Labels[3] != 3 {
		t.Errorf("append to a slice overwrote the parent set")
	}
	if empty := s.Slice(4, 4); empty.Len() != 0 || len(empty.Images) != 0 {
		t.Errorf("Slice(4, 4) not empty")
	}
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Slice(%d, %d) did not panic", r[0], r[1])
				}
			}()
			s.Slice(r[0], r[1])
		}()
	}
}

func TestFeatures(t *testing.T) {
	s := &datasets.Set{Name: "mnist/x", Rows: 1, Cols: 4, Images: []uint8{0, 255, 128, 51}, Labels: []uint8{0}}
	got := s.Features(datasets.MNISTMean, datasets.MNISTStd)
	want := []float64{-0.424212917884, 2.821486530347, 1.205000922797, 0.224926971762}
	for i := range want {
		w := (float64(s.Images[i])/255 - 0.1307) / 0.3081
		if math.Abs(w-want[i]) > 1e-5 || math.Abs(float64(got[i])-w) > 1e-6 {
			t.Errorf("pixel %d: Features gives %v, want %v", s.Images[i], got[i], w)
		}
	}
	if got := s.Features(0, 1); got[1] != 1 || got[0] != 0 {
		t.Errorf("Features(0, 1) = %v", got)
	}
}

// TestFeaturesReal checks that the normalization constants standardize the
// real training images: mean about 0, standard deviation about 1.
func TestFeaturesReal(t *testing.T) {
	for _, name := range []string{"mnist", "fashion-mnist"} {
		t.Run(name, func(t *testing.T) {
			train, _ := loadShared(t, name)
			x := train.Features(datasets.Normalization(train.Name))
			if len(x) != 60000*784 {
				t.Fatalf("len = %d", len(x))
			}
			var sum, sum2 float64
			for _, v := range x {
				sum += float64(v)
				sum2 += float64(v) * float64(v)
			}
			mean := sum / float64(len(x))
			std := math.Sqrt(sum2/float64(len(x)) - mean*mean)
			if math.Abs(mean) > 2e-3 || math.Abs(std-1) > 2e-3 {
				t.Errorf("normalized %s: mean %.5f std %.5f, want 0, 1", name, mean, std)
			}
			// The first image of MNIST/Fashion-MNIST has black (0) pixels at
			// its top-left corner.
			m, sd := datasets.Normalization(name)
			if want := (0 - m) / sd; x[0] != want {
				t.Errorf("pixel 0: %v, want %v", x[0], want)
			}
		})
	}
}

func TestNormalization(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mean, std float32
	}{
		{"mnist", 0.1307, 0.3081},
		{"mnist/train", 0.1307, 0.3081},
		{"sample/test", 0.1307, 0.3081},
		{"fashion-mnist", 0.2860, 0.3530},
		{"fashion-mnist/train[0:55000]", 0.2860, 0.3530},
		{"other", 0, 1},
	} {
		if m, s := datasets.Normalization(tc.name); m != tc.mean || s != tc.std {
			t.Errorf("Normalization(%q) = %v, %v; want %v, %v", tc.name, m, s, tc.mean, tc.std)
		}
	}
}

// TestLyingHeader checks that headers declaring huge sizes with little data
// behind them give ErrCorrupt without allocating much.
func TestLyingHeader(t *testing.T) {
	hdr := binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, d := range []uint32{math.MaxUint32, 255, 255} {
		hdr = binary.BigEndian.AppendUint32(hdr, d)
	}
	images := append(hdr, make([]byte, 100)...)
	labels := binary.BigEndian.AppendUint32(nil, 0x00000801)
	labels = binary.BigEndian.AppendUint32(labels, math.MaxUint32)
	labels = append(labels, 1, 2, 3)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, _, errImages := datasets.ReadImages(bytes.NewReader(images), "lying-images")
	_, errLabels := datasets.ReadLabels(bytes.NewReader(labels), "lying-labels")
	runtime.ReadMemStats(&after)
	if !errors.Is(errImages, datasets.ErrCorrupt) || !errors.Is(errLabels, datasets.ErrCorrupt) {
		t.Errorf("errors %v, %v; want ErrCorrupt", errImages, errLabels)
	}
	t.Log(errImages)
	t.Log(errLabels)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading lying headers allocated %d bytes", alloc)
	}
}
