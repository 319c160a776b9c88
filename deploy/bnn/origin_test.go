package bnn

import "testing"

// TestOrigin checks the three forms Origin.String writes and that
// ParseOrigin reads each back, reads the names of files exported before the
// untested forms existed, and rejects other names.
func TestOrigin(t *testing.T) {
	base := Origin{Preset: "mlp-300-100", Network: "mlp-784-300-100-10", Dataset: "mnist"}
	tested, unfinished, untested := base, base, base
	tested.Epochs, tested.TotalEpochs, tested.Tested, tested.TestAccuracy = 3, 3, true, 0.9478
	unfinished.Epochs, unfinished.TotalEpochs = 1, 3
	untested.Epochs, untested.TotalEpochs = 3, 3
	for _, tc := range []struct {
		o          Origin
		s          string
		unfinished bool
	}{
		{tested, "mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, test accuracy 0.9478", false},
		{unfinished, "mlp-300-100 (mlp-784-300-100-10) dataset mnist, not tested (run unfinished: 1 of 3 epochs)", true},
		{untested, "mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, not tested", false},
	} {
		if got := tc.o.String(); got != tc.s {
			t.Errorf("%+v.String() = %q, want %q", tc.o, got, tc.s)
		}
		got, ok := ParseOrigin(tc.s)
		if !ok || got != tc.o {
			t.Errorf("ParseOrigin(%q) = %+v, %v; want %+v, true", tc.s, got, ok, tc.o)
		}
		if got.Unfinished() != tc.unfinished {
			t.Errorf("ParseOrigin(%q).Unfinished() = %v", tc.s, got.Unfinished())
		}
	}
	// An adapted network and an image folder's data set.
	r21 := "resnet21 (resnet21-64x64x3) dataset imagenet, 20 epochs, test accuracy 0.6125"
	want := Origin{Preset: "resnet21", Network: "resnet21-64x64x3", Dataset: "imagenet", Epochs: 20, TotalEpochs: 20, Tested: true, TestAccuracy: 0.6125}
	if got, ok := ParseOrigin(r21); !ok || got != want {
		t.Errorf("ParseOrigin(%q) = %+v, %v; want %+v", r21, got, ok, want)
	}
	for _, name := range []string{"", "random", "my own network", "mlp-300-100 (mlp-784-300-100-10) dataset mnist",
		"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, test accuracy 1.5",
		"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 99999999999999999999 epochs, not tested",
		"mlp-300-100 (mlp-784-300-100-10) dataset mnist, 3 epochs, test accuracy 0.9478 and more"} {
		if got, ok := ParseOrigin(name); ok {
			t.Errorf("ParseOrigin(%q) = %+v, true; want false", name, got)
		}
	}
}
