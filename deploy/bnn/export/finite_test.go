package export_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/deploy/bnn/export"
	"github.com/gomlx/gomlx/core/tensors"
)

// mlpValues returns the variables of an MLP with small valid values
// (weights -1, 0, 1 in turn, bias 0.1, identity batch norms), changed by
// tweak.
func mlpValues(net models.MLP, tweak func(map[string][]float32)) map[string]*tensors.Tensor {
	raw, shapes := map[string][]float32{}, map[string][]int{}
	fill := func(n int, v float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	in := net.Inputs
	for i, u := range append(append([]int(nil), net.Hidden...), net.Classes) {
		d, b := fmt.Sprintf("/model/dense%d/", i+1), fmt.Sprintf("/model/bn%d/", i+1)
		w := make([]float32, in*u)
		for k := range w {
			w[k] = float32(k%3) - 1
		}
		raw[d+"weights"], shapes[d+"weights"] = w, []int{in, u}
		raw[d+"bias"], shapes[d+"bias"] = fill(u, 0.1), []int{u}
		raw[b+"gamma"], shapes[b+"gamma"] = fill(u, 1), []int{u}
		raw[b+"beta"], shapes[b+"beta"] = fill(u, 0), []int{u}
		raw[b+"running_mean"], shapes[b+"running_mean"] = fill(u, 0), []int{u}
		raw[b+"running_var"], shapes[b+"running_var"] = fill(u, 1), []int{u}
		in = u
	}
	tweak(raw)
	out := map[string]*tensors.Tensor{}
	for k, v := range raw {
		out[k] = tensors.FromFlatDataAndDimensions(v, shapes[k]...)
	}
	return out
}

// TestFromValuesRefusesNonFinite: a damaged or diverged checkpoint (NaN or
// infinite values, a negative running variance, a fold beyond float32) is
// refused with the variable or the layer named, where it used to export a
// model whose logits are NaN.
func TestFromValuesRefusesNonFinite(t *testing.T) {
	net := models.MLP{Inputs: 4, Hidden: []int{3}, Classes: 2}
	modes := []binnet.Mode{binnet.Binary, binnet.Float}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name  string
		tweak func(map[string][]float32)
		want  string // "" for a valid export
	}{
		{"valid", func(map[string][]float32) {}, ""},
		{"tiny negative variance", func(v map[string][]float32) { v["/model/bn2/running_var"][1] = -1e-6 }, ""},
		{"negative variance", func(v map[string][]float32) { v["/model/bn2/running_var"][0] = -5 },
			"export: variable /model/bn2/running_var: element 0 is -5: a variance cannot be negative (running_var + epsilon 1e-05 must be > 0; the checkpoint is damaged)"},
		{"NaN gamma", func(v map[string][]float32) { v["/model/bn1/gamma"][1] = nan },
			"export: variable /model/bn1/gamma: element 1 is NaN: want finite values (the checkpoint is diverged or damaged)"},
		{"Inf bias", func(v map[string][]float32) { v["/model/dense2/bias"][0] = inf },
			"export: variable /model/dense2/bias: element 0 is +Inf: want finite values (the checkpoint is diverged or damaged)"},
		{"NaN binary weight", func(v map[string][]float32) { v["/model/dense1/weights"][5] = nan },
			"export: variable /model/dense1/weights: element 5 is NaN: want finite values (the checkpoint is diverged or damaged)"},
		{"fold overflow", func(v map[string][]float32) { v["/model/bn2/gamma"][1], v["/model/bn2/running_var"][1] = 1e38, 0 },
			"export: layer dense2 of " + net.Name() + ": output 1 folds to scale +Inf and offset +Inf, beyond float32 (gamma 1e+38, beta 0, running_mean 0, running_var 0, bias 0.1)"},
	} {
		m, err := export.FromValues(net, modes, nil, mlpValues(net, c.tweak), []float32{0}, []float32{1}, "t")
		switch {
		case c.want == "" && (err != nil || m == nil):
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s:\ngot  %v\nwant %s", c.name, err, c.want)
		}
	}
}

// TestFromValuesNilNetwork: a nil network is an error naming it, not a nil
// dereference.
func TestFromValuesNilNetwork(t *testing.T) {
	if _, err := export.FromValues(nil, nil, nil, nil, nil, nil, "x"); err == nil || !strings.Contains(err.Error(), "export: models: no network (nil)") {
		t.Errorf("FromValues(nil network) = %v", err)
	}
}
