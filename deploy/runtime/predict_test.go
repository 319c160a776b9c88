package runtime

import (
	"math"
	"slices"
	"testing"

	"github.com/binnet/binnet/deploy/bnn"
)

func TestArgmax(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		v    []float32
		want int
	}{
		{[]float32{nan, inf, -inf}, 1}, // NaN at index 0 used to win
		{[]float32{nan, nan, nan}, -1},
		{nil, -1},
		{[]float32{-inf, nan}, 0},
		{[]float32{nan, 2, nan, 5}, 3},
		{[]float32{1, 3, 3}, 1},
		{[]float32{float32(math.Copysign(0, -1)), 0}, 0},
		{[]float32{-5}, 0},
	} {
		if got := Argmax(c.v); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestPredictNaN: NaN logits never win, all-NaN logits give -1, and the
// batched paths (a layer-by-layer model and one run by the batch dense
// kernel) predict what Predict does, example by example.
func TestPredictNaN(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	// Logits [x0-x1, x0+x1, -x0-x1].
	m := &bnn.Model{InputShape: []int{2}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []bnn.Layer{{Name: "fc", Kind: bnn.Dense, Encoding: bnn.Float32, Inputs: 2, Outputs: 3,
			Weights: []float32{1, -1, 1, 1, -1, -1}, Scale: []float32{1, 1, 1}, Offset: []float32{0, 0, 0}}}}
	net, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := net.Logits([]float32{inf, inf}, nil); !math.IsNaN(float64(got[0])) || got[1] != inf || got[2] != -inf {
		t.Fatalf("logits %v, want [NaN +Inf -Inf]", got)
	}
	xs := [][]float32{{inf, inf}, {nan, nan}, {1, 2}, {inf, -inf}, {nan, 1}, {-inf, -inf}}
	want := []int{1, -1, 1, 0, -1, 2}
	// The batch dense kernel's model: 64 binary units (+1 from x0, -1 from
	// x1 for even units; the reverse for odd ones), then the same classifier
	// over units 0 and 1.
	w := make([]float32, 2*64)
	for o := 0; o < 64; o++ {
		w[o], w[64+o] = float32(1-2*(o%2)), float32(2*(o%2)-1)
	}
	fc := make([]float32, 64*3)
	copy(fc, []float32{1, -1, 1, 1, -1, -1}) // rows 0 and 1 (units 0, 1) of [64, 3]
	wide := &bnn.Model{InputShape: []int{2}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []bnn.Layer{
			{Name: "bin", Kind: bnn.Dense, Encoding: bnn.SignBits, Inputs: 2, Outputs: 64, Bits: bnn.PackSigns(transpose(w, 2, 64), 2, 64),
				Scale: ones(64), Offset: make([]float32, 64)},
			{Name: "fc", Kind: bnn.Dense, Encoding: bnn.Float32, Inputs: 64, Outputs: 3, Weights: transpose(fc, 64, 3),
				Scale: ones(3), Offset: make([]float32, 3)}}}
	wnet, err := New(wide)
	if err != nil {
		t.Fatal(err)
	}
	if wnet.first != 0 {
		t.Fatalf("the wide model does not run the batch dense kernel (first %d)", wnet.first)
	}
	for _, c := range []struct {
		name string
		net  *Network
		want []int
	}{{"float", net, want}, {"batch kernel", wnet, nil}} {
		var flat []float32
		var single []int
		for i, x := range xs {
			p := c.net.Predict(x)
			if c.want != nil && p != c.want[i] {
				t.Errorf("%s: Predict(%v) = %d (logits %v), want %d", c.name, x, p, c.net.Logits(x, nil), c.want[i])
			}
			single = append(single, p)
			flat = append(flat, x...)
		}
		for _, workers := range []int{1, 2} {
			logits := c.net.LogitsBatchWorkers(flat, len(xs), nil, workers)
			for e, x := range xs {
				one := c.net.Logits(x, nil)
				for j := range one {
					if math.Float32bits(one[j]) != math.Float32bits(logits[e*3+j]) && !(one[j] != one[j] && logits[e*3+j] != logits[e*3+j]) {
						t.Errorf("%s: example %d logit %d: batch %v, single %v", c.name, e, j, logits[e*3+j], one[j])
					}
				}
			}
		}
		if got := c.net.PredictBatch(flat, len(xs), nil); !slices.Equal(got, single) {
			t.Errorf("%s: PredictBatch %v, Predict %v", c.name, got, single)
		}
	}
}

// transpose turns w [rows, cols] into [cols, rows] (a variable's [in, out]
// into the format's rows of outputs).
func transpose(w []float32, rows, cols int) []float32 {
	t := make([]float32, len(w))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			t[c*rows+r] = w[r*cols+c]
		}
	}
	return t
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
