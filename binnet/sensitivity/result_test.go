package sensitivity

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
)

// sample is a 3-layer result with its layers out of order and no orders:
// accuracies 0.90 (layer 1), 0.95 (layer 2), 0.85 (layer 3).
func sample() *Result {
	return &Result{
		Model:     "mlp3",
		Dataset:   "mnist",
		Epochs:    5,
		Seed:      7,
		NumLayers: 3,
		Layers: []LayerResult{
			{Layer: 2, ValAccuracy: 0.95, ValLoss: 0.2, Epochs: 5, Seconds: 1.5},
			{Layer: 3, ValAccuracy: 0.85, ValLoss: 0.5, Epochs: 5, Seconds: 2},
			{Layer: 1, ValAccuracy: 0.90, ValLoss: 0.3, Epochs: 5, Seconds: 1.25},
		},
	}
}

func TestRank(t *testing.T) {
	asc, desc := Rank(sample().Layers)
	if !slices.Equal(asc, []int{3, 1, 2}) || !slices.Equal(desc, []int{2, 1, 3}) {
		t.Errorf("Rank(sample) = %v, %v; want [3 1 2], [2 1 3]", asc, desc)
	}

	// Ties: layers 1, 2 and 4 share accuracy 0.9; layer 2 has the lowest
	// loss, so it counts as the most accurate of them; layers 1 and 4 tie
	// fully and keep the lower layer number first in both orders.
	layers := []LayerResult{
		{Layer: 4, ValAccuracy: 0.9, ValLoss: 0.3},
		{Layer: 2, ValAccuracy: 0.9, ValLoss: 0.2},
		{Layer: 5, ValAccuracy: 0.95, ValLoss: 0.4},
		{Layer: 1, ValAccuracy: 0.9, ValLoss: 0.3},
		{Layer: 3, ValAccuracy: 0.8, ValLoss: 0.1},
	}
	before := slices.Clone(layers)
	asc, desc = Rank(layers)
	if want := []int{3, 1, 4, 2, 5}; !slices.Equal(asc, want) {
		t.Errorf("ascend = %v, want %v", asc, want)
	}
	if want := []int{5, 2, 1, 4, 3}; !slices.Equal(desc, want) {
		t.Errorf("descend = %v, want %v", desc, want)
	}
	if !slices.Equal(layers, before) {
		t.Errorf("Rank modified its input: %v", layers)
	}

	// A loss tie-break alone: equal accuracy everywhere.
	asc, desc = Rank([]LayerResult{
		{Layer: 1, ValAccuracy: 0.5, ValLoss: 1},
		{Layer: 2, ValAccuracy: 0.5, ValLoss: 3},
		{Layer: 3, ValAccuracy: 0.5, ValLoss: 2},
	})
	if !slices.Equal(asc, []int{2, 3, 1}) || !slices.Equal(desc, []int{1, 3, 2}) {
		t.Errorf("loss ties: Rank = %v, %v; want [2 3 1], [1 3 2]", asc, desc)
	}

	if a, d := Rank(nil); len(a) != 0 || len(d) != 0 {
		t.Errorf("Rank(nil) = %v, %v", a, d)
	}
}

func TestFinalize(t *testing.T) {
	r := sample()
	if err := r.Finalize(); err != nil {
		t.Fatal(err)
	}
	for i, l := range r.Layers {
		if l.Layer != i+1 {
			t.Fatalf("Layers not sorted: %+v", r.Layers)
		}
	}
	if !slices.Equal(r.OrderAscend, []int{3, 1, 2}) || !slices.Equal(r.OrderDescend, []int{2, 1, 3}) {
		t.Errorf("orders = %v, %v", r.OrderAscend, r.OrderDescend)
	}
	// Stale orders are replaced.
	r.OrderAscend = []int{1, 2, 3}
	if err := r.Finalize(); err != nil || !slices.Equal(r.OrderAscend, []int{3, 1, 2}) {
		t.Errorf("Finalize kept a stale order: %v, %v", r.OrderAscend, err)
	}

	// On error nothing changes.
	bad := sample()
	bad.Layers[0].ValAccuracy = 1.5
	want := *bad
	want.Layers = slices.Clone(bad.Layers)
	err := bad.Finalize()
	if err == nil || !strings.Contains(err.Error(), "layers[0] (layer 2): val_accuracy 1.5 is outside [0,1]") {
		t.Errorf("Finalize error = %v", err)
	}
	if !reflect.DeepEqual(*bad, want) {
		t.Errorf("Finalize changed a bad result: %+v", bad)
	}
	var nilResult *Result
	if err := nilResult.Finalize(); err == nil {
		t.Error("nil Finalize succeeded")
	}
}

func TestFinalizeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(r *Result)
		want   string
	}{
		{"no layers count", func(r *Result) { r.NumLayers = 0 }, "num_layers must be >= 1, got 0"},
		{"no model", func(r *Result) { r.Model = " " }, "model is empty"},
		{"no epochs", func(r *Result) { r.Epochs = 0 }, "epochs must be >= 1, got 0"},
		{"missing", func(r *Result) { r.Layers = r.Layers[:2] }, "layers: missing layer 1 (num_layers is 3, found 2 layer results)"},
		{"missing many", func(r *Result) { r.NumLayers = 30 }, "missing layers 4,5,6,7,8,9,10,11,12,13 and 17 more"},
		{"duplicate", func(r *Result) { r.Layers[2].Layer = 2 }, "layers[2]: layer 2 appears twice (also layers[0])"},
		{"out of range", func(r *Result) { r.NumLayers = 2 }, "layers[1]: layer 3 is out of range 1..2 (num_layers is 2)"},
		{"layer zero", func(r *Result) { r.Layers[0].Layer = 0 }, "layers[0]: layer 0 is out of range 1..3"},
		{"accuracy high", func(r *Result) { r.Layers[1].ValAccuracy = 1.5 }, "layers[1] (layer 3): val_accuracy 1.5 is outside [0,1]"},
		{"accuracy negative", func(r *Result) { r.Layers[1].ValAccuracy = -0.1 }, "val_accuracy -0.1 is outside [0,1]"},
		{"accuracy NaN", func(r *Result) { r.Layers[1].ValAccuracy = math.NaN() }, "val_accuracy NaN is outside [0,1]"},
		{"loss NaN", func(r *Result) { r.Layers[2].ValLoss = math.NaN() }, "layers[2] (layer 1): val_loss NaN must be a finite number >= 0"},
		{"loss Inf", func(r *Result) { r.Layers[2].ValLoss = math.Inf(1) }, "val_loss +Inf must be a finite number"},
		{"loss negative", func(r *Result) { r.Layers[2].ValLoss = -1 }, "val_loss -1 must be a finite number >= 0"},
		{"layer epochs", func(r *Result) { r.Layers[0].Epochs = 0 }, "layers[0] (layer 2): epochs must be >= 1, got 0"},
		{"seconds", func(r *Result) { r.Layers[0].Seconds = -2 }, "layers[0] (layer 2): seconds -2 must be a finite number >= 0"},
		{"sd negative", func(r *Result) { r.Layers[1].ValAccuracySD = -0.01 }, "layers[1] (layer 3): val_accuracy_sd -0.01 is outside [0,1]"},
		{"sd NaN", func(r *Result) { r.Layers[1].ValAccuracySD = math.NaN() }, "val_accuracy_sd NaN is outside [0,1]"},
	} {
		r := sample()
		tc.modify(r)
		err := r.Finalize()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Finalize error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sens.json")
	r := sample()
	orig := *r
	orig.Layers = slices.Clone(r.Layers)
	if err := WriteResultFile(path, r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*r, orig) {
		t.Errorf("WriteResultFile modified its argument: %+v", r)
	}
	got, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if err := want.Finalize(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantText := `{
  "model": "mlp3",
  "dataset": "mnist",
  "epochs": 5,
  "seed": 7,
  "num_layers": 3,
  "layers": [
    {
      "layer": 1,
      "val_accuracy": 0.9,
      "val_loss": 0.3,
      "epochs": 5,
      "seconds": 1.25
    },
    {
      "layer": 2,
      "val_accuracy": 0.95,
      "val_loss": 0.2,
      "epochs": 5,
      "seconds": 1.5
    },
    {
      "layer": 3,
      "val_accuracy": 0.85,
      "val_loss": 0.5,
      "epochs": 5,
      "seconds": 2
    }
  ],
  "order_ascend": [
    3,
    1,
    2
  ],
  "order_descend": [
    2,
    1,
    3
  ]
}
`
	if string(data) != wantText {
		t.Errorf("file content:\n%s\nwant\n%s", data, wantText)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v, %v; want 0644", fi.Mode(), err)
	}

	// Overwriting replaces the file atomically and leaves no temporary.
	r.Layers[0].ValAccuracy = 0.5 // layer 2 becomes the most sensitive
	if err := WriteResultFile(path, r); err != nil {
		t.Fatal(err)
	}
	got, err = ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.OrderAscend, []int{2, 3, 1}) {
		t.Errorf("after overwrite, order_ascend = %v, want [2 3 1]", got.OrderAscend)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only sens.json: %v", len(entries), entries)
	}

	// A file without orders (e.g. written by hand) gets them computed.
	noOrders := filepath.Join(dir, "noorders.json")
	writeFile(t, noOrders, `{"model":"mlp3","dataset":"","epochs":1,"seed":0,"num_layers":2,
		"layers":[{"layer":2,"val_accuracy":0.5,"val_loss":1,"epochs":1,"seconds":0},
		          {"layer":1,"val_accuracy":0.7,"val_loss":1,"epochs":1,"seconds":0}]}`)
	got, err = ReadResult(noOrders)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.OrderAscend, []int{2, 1}) || !slices.Equal(got.OrderDescend, []int{1, 2}) || got.Layers[0].Layer != 1 {
		t.Errorf("filled orders %v %v, layers %+v", got.OrderAscend, got.OrderDescend, got.Layers)
	}
}

func TestWriteResultFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json")
	r := sample()
	r.Layers = r.Layers[:2]
	err := WriteResultFile(path, r)
	if err == nil || !strings.Contains(err.Error(), "not writing "+path) || !strings.Contains(err.Error(), "missing layer 1") {
		t.Errorf("WriteResultFile(incomplete) error = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an invalid result was written: %v", err)
	}
	if err := WriteResultFile(path, nil); err == nil {
		t.Error("WriteResultFile(nil) succeeded")
	}
	missingDir := filepath.Join(dir, "no", "such", "dir", "r.json")
	if err := WriteResultFile(missingDir, sample()); err == nil || !strings.Contains(err.Error(), missingDir) {
		t.Errorf("WriteResultFile into a missing directory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// good is a valid 3-layer file, one field per line, used as the base of the
// corruptions below.
const good = `{
  "model": "mlp3",
  "dataset": "mnist",
  "epochs": 5,
  "seed": 7,
  "num_layers": 3,
  "layers": [
    {"layer": 1, "val_accuracy": 0.9, "val_loss": 0.3, "epochs": 5, "seconds": 1},
    {"layer": 2, "val_accuracy": 0.95, "val_loss": 0.2, "epochs": 5, "seconds": 1},
    {"layer": 3, "val_accuracy": 0.85, "val_loss": 0.5, "epochs": 5, "seconds": 1}
  ],
  "order_ascend": [3, 1, 2],
  "order_descend": [2, 1, 3]
}
`

func TestReadResultErrors(t *testing.T) {
	dir := t.TempDir()
	goodPath := filepath.Join(dir, "good.json")
	writeFile(t, goodPath, good)
	if _, err := ReadResult(goodPath); err != nil {
		t.Fatalf("ReadResult(good): %v", err)
	}
	for _, tc := range []struct {
		name    string
		old     string // replaced in good by new; "" means content is new
		new     string
		want    []string
		wantPos string // "line:col" after the file name, if any
	}{
		{"missing comma after line 5", `"seed": 7,`, `"seed": 7`,
			[]string{"invalid JSON", "byte offset"}, ":6:3:"},
		{"bad token at line 9", `"val_accuracy": 0.95`, `"val_accuracy": .95`,
			[]string{"invalid JSON", "invalid character"}, ":9:34:"},
		{"truncated", "", good[:100], []string{"unexpected end of file after 100 bytes"}, ""},
		{"empty", "", "", []string{"empty file"}, ""},
		{"only spaces", "", " \n ", []string{"empty file"}, ""},
		{"wrong type", `"val_accuracy": 0.85`, `"val_accuracy": "high"`,
			[]string{"field layers.2.val_accuracy", "cannot use JSON string as float64"}, ":10:"},
		{"not an object", "", `[1, 2]`, []string{"want an object, got array"}, ":1:"},
		{"unknown field", `"seed": 7,`, `"seed": 7, "sead": 8,`, []string{`unknown field "sead"`}, ""},
		{"trailing data", "", good + "{}", []string{"unexpected data after the JSON object"}, ":15:1:"},
		{"missing layer", `    {"layer": 2, "val_accuracy": 0.95, "val_loss": 0.2, "epochs": 5, "seconds": 1},
`, "", []string{"layers: missing layer 2 (num_layers is 3, found 2 layer results)"}, ""},
		{"duplicate", `{"layer": 2,`, `{"layer": 1,`, []string{"layers[1]: layer 1 appears twice (also layers[0])"}, ""},
		{"accuracy 1.5", `"val_accuracy": 0.85`, `"val_accuracy": 1.5`,
			[]string{"layers[2] (layer 3): val_accuracy 1.5 is outside [0,1]"}, ""},
		{"num_layers too small", `"num_layers": 3`, `"num_layers": 2`,
			[]string{"layers[2]: layer 3 is out of range 1..2 (num_layers is 2)"}, ""},
		{"num_layers too large", `"num_layers": 3`, `"num_layers": 4`,
			[]string{"layers: missing layer 4 (num_layers is 4, found 3 layer results)"}, ""},
		{"num_layers zero", `"num_layers": 3`, `"num_layers": 0`, []string{"num_layers must be >= 1, got 0"}, ""},
		{"num_layers absent", `"num_layers": 3,`, ``, []string{"num_layers must be >= 1, got 0"}, ""},
		{"num_layers huge", `"num_layers": 3`, `"num_layers": 99999999999999999999999`,
			[]string{"field num_layers", "cannot use JSON number"}, ":6:"},
		{"model missing", `"model": "mlp3",`, ``, []string{"model is empty"}, ""},
		{"negative loss", `"val_loss": 0.2`, `"val_loss": -0.2`, []string{"layers[1] (layer 2): val_loss -0.2 must be a finite number >= 0"}, ""},
		{"order repeats", `"order_ascend": [3, 1, 2]`, `"order_ascend": [3, 1, 1]`,
			[]string{"order_ascend: layer 1 appears twice (positions 2 and 3)"}, ""},
		{"order out of range", `"order_descend": [2, 1, 3]`, `"order_descend": [2, 1, 4]`,
			[]string{"order_descend: position 3: layer 4 is out of range 1..3"}, ""},
		{"order short", `"order_descend": [2, 1, 3]`, `"order_descend": [2, 1]`,
			[]string{"order_descend: lists 2 layers, want all 3"}, ""},
		{"order inconsistent", `"order_ascend": [3, 1, 2]`, `"order_ascend": [1, 2, 3]`,
			[]string{"order_ascend is 1,2,3, but the layer results rank 3,1,2 by increasing validation accuracy"}, ""},
		{"orders swapped", `"order_descend": [2, 1, 3]`, `"order_descend": [3, 1, 2]`,
			[]string{"order_descend is 3,1,2, but the layer results rank 2,1,3 by decreasing validation accuracy"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := tc.new
			if tc.old != "" {
				if !strings.Contains(good, tc.old) {
					t.Fatalf("test bug: %q not in good", tc.old)
				}
				content = strings.Replace(good, tc.old, tc.new, 1)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			writeFile(t, path, content)
			r, err := ReadResult(path)
			if err == nil {
				t.Fatalf("ReadResult succeeded: %+v", r)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "sensitivity: "+path) {
				t.Errorf("error %q does not start with the file name", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if tc.wantPos != "" && !strings.Contains(msg, path+tc.wantPos) {
				t.Errorf("error %q does not give the position %s%s", msg, path, tc.wantPos)
			}
		})
	}
	missing := filepath.Join(dir, "absent.json")
	if _, err := ReadResult(missing); err == nil || !strings.Contains(err.Error(), missing) || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Errorf("ReadResult(absent) error = %v", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

func TestOrder(t *testing.T) {
	r := sample()
	for _, tc := range []struct {
		name string
		want []int
	}{
		{"ascend", []int{2, 0, 1}},
		{" Descend", []int{1, 0, 2}},
	} {
		got, err := r.Order(tc.name)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Order(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := r.Order("forward"); err == nil || !strings.Contains(err.Error(), `unknown order "forward"`) {
		t.Errorf("Order(forward) error = %v", err)
	}
	r.OrderDescend = []int{1, 2, 3}
	if _, err := r.Order("ascend"); err == nil || !strings.Contains(err.Error(), "order_descend is 1,2,3") {
		t.Errorf("Order with a stale order_descend: %v", err)
	}
	r = sample()
	r.Layers = r.Layers[1:]
	if _, err := r.Order("ascend"); err == nil || !strings.Contains(err.Error(), "missing layer 2") {
		t.Errorf("Order of an incomplete result: %v", err)
	}
	// The returned slice is the caller's.
	r = sample()
	r.Finalize()
	o, _ := r.Order("ascend")
	o[0] = 99
	if !slices.Equal(r.OrderAscend, []int{3, 1, 2}) {
		t.Errorf("Order aliases OrderAscend: %v", r.OrderAscend)
	}
}

func TestCheckMatches(t *testing.T) {
	r := sample()
	if err := CheckMatches(r, 3, "mlp3"); err != nil {
		t.Errorf("CheckMatches(same): %v", err)
	}
	if err := CheckMatches(r, 3, ""); err != nil {
		t.Errorf("CheckMatches(no model name): %v", err)
	}
	for _, tc := range []struct {
		n     int
		model string
		want  string
	}{
		{3, "cnn6", `made for model "mlp3" (3 layers), not "cnn6"`},
		{5, "mlp3", `the sensitivity result has 3 layers, but the model "mlp3" has 5 binarizable layers`},
		{5, "", `the sensitivity result has 3 layers, but the model has 5 binarizable layers`},
	} {
		err := CheckMatches(r, tc.n, tc.model)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckMatches(%d, %q) = %v, want it to contain %q", tc.n, tc.model, err, tc.want)
		}
	}
	if err := CheckMatches(nil, 3, "mlp3"); err == nil {
		t.Error("CheckMatches(nil) succeeded")
	}
	r.Layers[0].ValAccuracy = 2
	if err := CheckMatches(r, 3, "mlp3"); err == nil || !strings.Contains(err.Error(), "val_accuracy 2") {
		t.Errorf("CheckMatches(invalid) = %v", err)
	}
}

// TestCheckDataset: a result made on other data than the run's is refused
// naming both; the same name, mnist and its embedded sample, or a name not
// known on either side, passes.
func TestCheckDataset(t *testing.T) {
	r := sample() // mnist
	for _, ds := range []string{"mnist", "sample", ""} {
		if err := CheckDataset(r, ds); err != nil {
			t.Errorf("CheckDataset(mnist result, %q): %v", ds, err)
		}
	}
	for _, ds := range []string{"fashion-mnist", "MNIST"} {
		want := `made on data set "mnist", not "` + ds + `": run the sensitivity pre-training on "` + ds + `"`
		if err := CheckDataset(r, ds); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckDataset(mnist result, %q) = %v, want it to contain %q", ds, err, want)
		}
	}
	r.Dataset = ""
	if err := CheckDataset(r, "cifar10"); err != nil {
		t.Errorf("CheckDataset(no data set recorded): %v", err)
	}
	if err := CheckDataset(nil, "mnist"); err == nil {
		t.Error("CheckDataset(nil) succeeded")
	}
}

// FuzzReadResult checks that ReadResult never panics, that its errors name
// the file, and that what it accepts is consistent and survives a write and
// read back unchanged.
func FuzzReadResult(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"model":"m","epochs":1,"num_layers":1,"layers":[{"layer":1,"val_accuracy":1,"val_loss":0,"epochs":1,"seconds":0}]}`))
	f.Add([]byte(`{"num_layers":1000000000000,"layers":[]}`))
	f.Add([]byte(`{"model":"m","epochs":1,"num_layers":2,"layers":[{"layer":2,"val_accuracy":0.5,"val_loss":1e308,"epochs":1,"seconds":0},{"layer":1,"val_accuracy":0.5,"val_loss":1e308,"epochs":1,"seconds":0}],"order_ascend":[1,2]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"layers":[{"layer":-1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadResult(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		asc, desc := Rank(r.Layers)
		if !slices.Equal(asc, r.OrderAscend) || !slices.Equal(desc, r.OrderDescend) {
			t.Fatalf("accepted orders %v %v differ from Rank %v %v", r.OrderAscend, r.OrderDescend, asc, desc)
		}
		if len(r.Layers) != r.NumLayers {
			t.Fatalf("accepted %d layers for num_layers %d", len(r.Layers), r.NumLayers)
		}
		for i, l := range r.Layers {
			if l.Layer != i+1 || l.ValAccuracy < 0 || l.ValAccuracy > 1 {
				t.Fatalf("accepted bad layers[%d] = %+v", i, l)
			}
		}
		for _, name := range []string{Ascend, Descend} {
			o, err := r.Order(name)
			if err != nil || len(o) != r.NumLayers {
				t.Fatalf("Order(%s) of an accepted result = %v, %v", name, o, err)
			}
		}
		if err := CheckMatches(r, r.NumLayers, r.Model); err != nil {
			t.Fatalf("CheckMatches of an accepted result: %v", err)
		}
		path2 := filepath.Join(dir, "r2.json")
		if err := WriteResultFile(path2, r); err != nil {
			t.Fatalf("WriteResultFile of an accepted result: %v", err)
		}
		r2, err := ReadResult(path2)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			b1, _ := json.Marshal(r)
			b2, _ := json.Marshal(r2)
			t.Fatalf("round trip changed the result:\n%s\n%s", b1, b2)
		}
	})
}

func TestTailSD(t *testing.T) {
	for _, c := range []struct {
		acc  []float64
		want float64
	}{
		{nil, 0},
		{[]float64{0.9}, 0},
		// Two epochs: mean 0.91, deviations ±0.01, sample variance 0.0002.
		{[]float64{0.90, 0.92}, math.Sqrt(0.0002)},
		// Only the last five count: 0.96, 0.98, 0.96, 0.98, 0.97, mean 0.97,
		// squared deviations 4 x 0.0001, sample variance 0.0001.
		{[]float64{0.10, 0.50, 0.96, 0.98, 0.96, 0.98, 0.97}, 0.01},
		{[]float64{0.8, 0.8, 0.8}, 0},
	} {
		if got := TailSD(c.acc); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("TailSD(%v) = %v, want %v", c.acc, got, c.want)
		}
	}
}

func TestUnresolved(t *testing.T) {
	r := sample() // descend 2 (0.95), 1 (0.90), 3 (0.85)
	if err := r.Finalize(); err != nil {
		t.Fatal(err)
	}
	if got := r.Unresolved(); got != nil {
		t.Errorf("no noise recorded: Unresolved = %v, want none", got)
	}
	sd := map[int]float64{2: 0.03, 1: 0.039, 3: 0.001}
	for i := range r.Layers {
		r.Layers[i].ValAccuracySD = sd[r.Layers[i].Layer]
	}
	// 2 vs 1: gap 0.05 > hypot(0.03, 0.039) ≈ 0.0492: resolved.
	// 1 vs 3: gap 0.05 > hypot(0.039, 0.001) ≈ 0.0390: resolved.
	if got := r.Unresolved(); got != nil {
		t.Errorf("gaps at or above the noise: Unresolved = %v, want none", got)
	}
	sd[1] = 0.041 // hypot(0.03, 0.041) ≈ 0.0508 > 0.05; hypot(0.041, 0.001) ≈ 0.0410 < 0.05
	for i := range r.Layers {
		r.Layers[i].ValAccuracySD = sd[r.Layers[i].Layer]
	}
	if got, want := r.Unresolved(), [][2]int{{2, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unresolved = %v, want %v", got, want)
	}
	sd[3] = 0.05
	for i := range r.Layers {
		r.Layers[i].ValAccuracySD = sd[r.Layers[i].Layer]
	}
	if got, want := r.Unresolved(), [][2]int{{2, 1}, {1, 3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unresolved = %v, want %v", got, want)
	}

	// The field round-trips and is left out of files when unknown.
	dir := t.TempDir()
	path := filepath.Join(dir, ResultFile)
	if err := WriteResultFile(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Unresolved(), r.Unresolved(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a round trip Unresolved = %v, want %v", got, want)
	}
	plain := sample()
	if err := WriteResultFile(path, plain); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "val_accuracy_sd") {
		t.Errorf("a result without noise figures writes val_accuracy_sd:\n%s", data)
	}
}

func TestPool(t *testing.T) {
	a := sample() // seed 7: layer 1 0.90, 2 0.95, 3 0.85
	b := sample()
	b.Seed = 8
	acc := map[int]float64{1: 0.96, 2: 0.88, 3: 0.86}
	sd := map[int][2]float64{1: {0.01, 0.02}, 2: {0.03, 0.04}, 3: {0.005, 0.005}}
	for i := range b.Layers {
		l := b.Layers[i].Layer
		b.Layers[i].ValAccuracy = acc[l]
		b.Layers[i].ValAccuracySD = sd[l][1]
	}
	for i := range a.Layers {
		a.Layers[i].ValAccuracySD = sd[a.Layers[i].Layer][0]
	}
	p, err := Pool(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// Means: layer 1 0.93, layer 2 0.915, layer 3 0.855; the standard
	// deviation of a mean of two is sqrt(sd1² + sd2²)/2: layer 1
	// sqrt(0.0005)/2, layer 2 0.05/2, layer 3 sqrt(0.00005)/2.
	want := map[int][2]float64{1: {0.93, math.Sqrt(0.0005) / 2}, 2: {0.915, 0.025}, 3: {0.855, math.Sqrt(0.00005) / 2}}
	for _, l := range p.Layers {
		if w := want[l.Layer]; math.Abs(l.ValAccuracy-w[0]) > 1e-12 || math.Abs(l.ValAccuracySD-w[1]) > 1e-12 {
			t.Errorf("layer %d: pooled accuracy %v sd %v, want %v %v", l.Layer, l.ValAccuracy, l.ValAccuracySD, w[0], w[1])
		}
		if l.Seconds != 2*map[int]float64{1: 1.25, 2: 1.5, 3: 2}[l.Layer] {
			t.Errorf("layer %d: pooled seconds %v, want the sum", l.Layer, l.Seconds)
		}
	}
	if !slices.Equal(p.OrderDescend, []int{1, 2, 3}) || !slices.Equal(p.OrderAscend, []int{3, 2, 1}) {
		t.Errorf("pooled orders %v / %v, want descend [1 2 3], ascend [3 2 1]", p.OrderDescend, p.OrderAscend)
	}
	if !slices.Equal(p.Seeds, []int64{7, 8}) || p.Seed != 7 {
		t.Errorf("pooled seeds %v (seed %d), want [7 8] (7)", p.Seeds, p.Seed)
	}
	// One result: itself, finalized, with no seed list.
	one, err := Pool(sample())
	if err != nil || !slices.Equal(one.OrderDescend, []int{2, 1, 3}) || one.Seeds != nil {
		t.Errorf("Pool(one) = %+v, %v; want descend [2 1 3] and no seed list", one, err)
	}
	// No noise known for one of them: none for the pool.
	b.Layers[0].ValAccuracySD = 0
	if p, err = Pool(a, b); err != nil || p.Layers[0].ValAccuracySD != 0 {
		t.Errorf("pool with an unknown noise: sd %v, %v; want 0", p.Layers[0].ValAccuracySD, err)
	}
	// Results that do not match.
	other := sample()
	other.Epochs = 6
	if _, err := Pool(a, other); err == nil || !strings.Contains(err.Error(), "cannot pool result 2 (mlp3 on mnist, 3 layers, 6 epochs) with result 1 (mlp3 on mnist, 3 layers, 5 epochs)") {
		t.Errorf("Pool of different epochs: %v", err)
	}
	if _, err := Pool(); err == nil {
		t.Error("Pool of nothing: no error")
	}
	// With and without the evaluation side effect: not pooled; both with
	// it: the pool says so.
	reset := sample()
	reset.Seed, reset.ResetLatent = 8, true
	if _, err := Pool(a, reset); err == nil || !strings.Contains(err.Error(), "cannot pool result 2 (seed 8, official-eval-reset true) with result 1 (seed 7, official-eval-reset false)") {
		t.Errorf("Pool with and without the side effect: %v", err)
	}
	reset1 := sample()
	reset1.ResetLatent = true
	if p, err := Pool(reset1, reset); err != nil || !p.ResetLatent {
		t.Errorf("Pool of two results with the side effect: %+v, %v; want it marked", p, err)
	}
}

// TestCollectResetLatent: Collect marks a result whose layer runs had the
// evaluation side effect, and refuses layers trained with and without it.
func TestCollectResetLatent(t *testing.T) {
	write := func(dir string, layer int, reset bool) {
		writeLayerRun(t, dir, layer, layer, func(r *training.Results) { r.ResetLatent = reset })
	}
	for _, c := range []struct {
		resets  [3]bool
		want    bool
		wantErr string
	}{
		{[3]bool{true, true, true}, true, ""},
		{[3]bool{false, false, false}, false, ""},
		{[3]bool{false, false, true}, false, "layer 3 was trained with -official-eval-reset, the layers before it without"},
	} {
		dir := t.TempDir()
		for l, reset := range c.resets {
			write(dir, l, reset)
		}
		r, err := Collect(dir, 3, "mlp3", "mnist", 1, 1)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("layers %v: error %v, want %q", c.resets, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("layers %v: %v", c.resets, err)
		case r.ResetLatent != c.want:
			t.Errorf("layers %v: ResetLatent %v, want %v", c.resets, r.ResetLatent, c.want)
		default:
			back, err := ReadResult(filepath.Join(dir, ResultFile))
			if err != nil || back.ResetLatent != c.want {
				t.Errorf("layers %v: read back %+v, %v", c.resets, back, err)
			}
		}
	}
}

// TestNoiseWindow: TailSD's window is NoiseEpochs, or every epoch of a
// shorter run; a run of one epoch has no standard deviation.
func TestNoiseWindow(t *testing.T) {
	for epochs, want := range map[int]int{0: 0, 1: 1, 2: 2, 4: 4, 5: 5, 450: 5} {
		if got := NoiseWindow(epochs); got != want {
			t.Errorf("NoiseWindow(%d) = %d, want %d", epochs, got, want)
		}
	}
	if sd := TailSD([]float64{0.9}); sd != 0 {
		t.Errorf("TailSD of one epoch = %v, want 0 (none)", sd)
	}
}

// writeLayerRun writes into the folder of layer (0-based) of a study in dir
// the completed one-epoch sensitivity run of layer runOf of mlp3 (3 layers)
// on mnist with seed 1, changed by edit when not nil.
func writeLayerRun(t *testing.T, dir string, layer, runOf int, edit func(*training.Results)) {
	t.Helper()
	sched, err := OnlyLayer(3, runOf, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := &training.Results{Status: training.StatusCompleted, Model: "mlp3", Network: "mlp-784-300-100-10", Dataset: "mnist",
		Order: fmt.Sprintf("only-%d", runOf+1), Schedule: sched, Seed: 1,
		History: []training.EpochRecord{{Epoch: 1, ValAccuracy: 0.9 + 0.01*float64(runOf), ValLoss: 0.3}}}
	if edit != nil {
		edit(res)
	}
	sub := LayerDir(dir, layer)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := training.WriteResults(filepath.Join(sub, training.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
}

// TestCollectChecksRuns: Collect refuses, naming the folder, a completed
// run that is not the sensitivity run of its folder's layer with Collect's
// arguments, and writes no sensitivity.json then; bad arguments are refused
// before any file is read.
func TestCollectChecksRuns(t *testing.T) {
	sched := func(c schedule.Config) *schedule.Schedule {
		s, err := schedule.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		name    string
		layer   int // the folder edited (0-based)
		runOf   int // whose run it gets
		edit    func(*training.Results)
		wantErr string
	}{
		{"swapped folders", 1, 0, nil, "the run is not layer 2's: it trained only layer 1 binary (order \"only-1\"), want only layer 2 binary"},
		{"two layers binary", 2, 2, func(r *training.Results) {
			r.Schedule = sched(schedule.Config{NumLayers: 3, Kind: schedule.KindFixed, Binary: []int{1, 2}, TotalEpochs: 1})
		}, "the run is not layer 3's: it trained only layers 2,3 binary (order \"only-3\"), want only layer 3 binary"},
		{"iterative run", 0, 0, func(r *training.Results) {
			r.Schedule, r.Order = sched(schedule.Config{NumLayers: 3, Kind: schedule.KindIterative, Order: []int{0, 1, 2}, EpochsPerStage: 1, TotalEpochs: 3}), "forward"
		}, "the run is not layer 1's: it trained a schedule of kind iterative (order \"forward\"), want only layer 1 binary"},
		{"no schedule", 0, 0, func(r *training.Results) { r.Schedule = nil }, "the run records no schedule: want the run with only layer 1 binary"},
		{"more layers", 2, 2, func(r *training.Results) {
			r.Schedule = sched(schedule.Config{NumLayers: 4, Kind: schedule.KindFixed, Binary: []int{2}, TotalEpochs: 1})
		}, "the run's schedule has 4 layers, want 3"},
		{"another model", 2, 2, func(r *training.Results) { r.Model = "vgg5" }, `the run trained model "vgg5", want "mlp3"`},
		{"another data set", 1, 1, func(r *training.Results) { r.Dataset = "fashion" }, `the run trained on data set "fashion", want "mnist"`},
		{"other epochs", 1, 1, func(r *training.Results) {
			r.Schedule = sched(schedule.Config{NumLayers: 3, Kind: schedule.KindFixed, Binary: []int{1}, TotalEpochs: 2})
		}, "the run trained 2 epochs, want 1"},
		{"another seed", 1, 1, func(r *training.Results) { r.Seed = 2 }, "the run has seed 2, want 1"},
		{"another network", 2, 2, func(r *training.Results) { r.Network = "mlp-784-100-10" }, `the run trained network "mlp-784-100-10", the run in `},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for l := range 3 {
				writeLayerRun(t, dir, l, l, nil)
			}
			writeLayerRun(t, dir, c.layer, c.runOf, c.edit)
			r, err := Collect(dir, 3, "mlp3", "mnist", 1, 1)
			want := "sensitivity: " + LayerDir(dir, c.layer) + ": " + c.wantErr
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Collect = %+v, %v; want an error starting %q", r, err, want)
			}
			if _, err := os.Stat(filepath.Join(dir, ResultFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s written (or %v) after the error", ResultFile, err)
			}
		})
	}
	// A good study, then Collect with arguments that are not its own: the
	// first folder is named.
	dir := t.TempDir()
	for l := range 3 {
		writeLayerRun(t, dir, l, l, nil)
	}
	first := "sensitivity: " + LayerDir(dir, 0) + ": "
	for _, c := range []struct {
		name, model, dataset string
		n, epochs            int
		seed                 int64
		want                 string
	}{
		{"another model", "vgg5", "mnist", 3, 1, 1, first + `the run trained model "mlp3", want "vgg5"`},
		{"another data set", "mlp3", "cifar10", 3, 1, 1, first + `the run trained on data set "mnist", want "cifar10"`},
		{"other epochs", "mlp3", "mnist", 3, 50, 1, first + "the run trained 1 epochs, want 50"},
		{"another seed", "mlp3", "mnist", 3, 1, 7, first + "the run has seed 1, want 7"},
		{"fewer layers", "mlp3", "mnist", 2, 1, 1, first + "the run's schedule has 3 layers, want 2"},
		{"more layers", "mlp3", "mnist", 4, 1, 1, first + "the run's schedule has 3 layers, want 4"},
		{"no model", "", "mnist", 3, 1, 1, "sensitivity: model is empty: want the name of the model the layers belong to"},
		{"no epochs", "mlp3", "mnist", 3, 0, 1, "sensitivity: epochs must be >= 1, got 0"},
		{"no layers", "mlp3", "mnist", 0, 1, 1, "sensitivity: number of layers must be >= 1, got 0"},
		{"huge layer count", "mlp3", "mnist", 1 << 40, 1, 1, "sensitivity: number of layers 1099511627776 is more than the 1048576 layers a schedule supports"},
	} {
		if r, err := Collect(dir, c.n, c.model, c.dataset, c.epochs, c.seed); err == nil || err.Error() != c.want {
			t.Errorf("%s: Collect = %+v, %v; want %q", c.name, r, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ResultFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s written (or %v) by a refused Collect", ResultFile, err)
	}
	r, err := Collect(dir, 3, "mlp3", "mnist", 1, 1)
	if err != nil || !slices.Equal(r.OrderDescend, []int{3, 2, 1}) {
		t.Fatalf("Collect of the matching study = %+v, %v; want descend 3,2,1", r, err)
	}
	// A layer not yet run leaves the result incomplete; one that is run
	// for another layer is still refused.
	dir = t.TempDir()
	writeLayerRun(t, dir, 0, 0, nil)
	if _, err := Collect(dir, 3, "mlp3", "mnist", 1, 1); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Collect with layers 2 and 3 missing: %v, want ErrIncomplete", err)
	}
	writeLayerRun(t, dir, 2, 1, nil)
	if _, err := Collect(dir, 3, "mlp3", "mnist", 1, 1); err == nil || errors.Is(err, ErrIncomplete) ||
		!strings.Contains(err.Error(), "the run is not layer 3's") {
		t.Errorf("Collect with layer 2's run in layer-03 and layer 2 missing: %v, want the folder refused", err)
	}
}

// TestPoolRefusesRepeatedSeeds: a result pooled with itself, or two results
// of one seed, are not independent samples; Pool names the seed.
func TestPoolRefusesRepeatedSeeds(t *testing.T) {
	a := sample() // seed 7
	b := sample()
	b.Seed = 8
	c := sample() // seed 7 too
	pooled, err := Pool(a, b)
	if err != nil {
		t.Fatal(err)
	}
	d := sample()
	d.Seed = 9
	for _, tc := range []struct {
		name string
		rs   []*Result
		want string
	}{
		{"itself", []*Result{a, a}, "sensitivity: cannot pool result 2 (seed 7): it is result 1 again; pool the results of different seeds"},
		{"same seed", []*Result{a, b, c}, "sensitivity: cannot pool result 3 (seed 7): result 1 also has seed 7; pool the results of different seeds"},
		{"a pooled seed again", []*Result{d, pooled, b}, "sensitivity: cannot pool result 3 (seed 8): result 2 also has seed 8; pool the results of different seeds"},
		{"nil", []*Result{a, nil}, "sensitivity: pooling result 2: no sensitivity result (nil)"},
		{"nil first", []*Result{nil}, "sensitivity: pooling result 1: no sensitivity result (nil)"},
	} {
		if p, err := Pool(tc.rs...); err == nil || err.Error() != tc.want {
			t.Errorf("%s: Pool = %+v, %v; want %q", tc.name, p, err, tc.want)
		}
	}
	dup := sample()
	dup.Seeds = []int64{7, 3, 7}
	if _, err := Pool(dup, b); err == nil || err.Error() != "sensitivity: cannot pool result 1 (seed 7): it lists seed 7 twice; pool the results of different seeds" {
		t.Errorf("Pool of a result listing a seed twice: %v", err)
	}
}

// TestPoolDivergedLoss: the loss LayerResult.ValLoss's doc prescribes for
// a diverged run, math.MaxFloat64, pools without overflowing: a layer that
// diverged in any seed keeps it, the others get their mean.
func TestPoolDivergedLoss(t *testing.T) {
	for _, n := range []int{2, 3, 7} {
		var rs []*Result
		for i := range n {
			r := sample()
			r.Seed = int64(i + 1)
			for j := range r.Layers {
				if r.Layers[j].Layer == 3 {
					r.Layers[j].ValLoss = math.MaxFloat64
				}
			}
			rs = append(rs, r)
		}
		p, err := Pool(rs...)
		if err != nil {
			t.Fatalf("%d seeds: %v", n, err)
		}
		if got := p.Layers[2].ValLoss; p.Layers[2].Layer != 3 || got != math.MaxFloat64 {
			t.Errorf("%d diverged seeds: layer %d loss %v, want %v", n, p.Layers[2].Layer, got, math.MaxFloat64)
		}
		if got := p.Layers[0].ValLoss; math.Abs(got-0.3) > 1e-15 {
			t.Errorf("%d seeds: layer 1 loss %v, want 0.3", n, got)
		}
	}
	a, b := sample(), sample()
	b.Seed = 8
	a.Layers[0].ValLoss = math.MaxFloat64 // layer 2
	p, err := Pool(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Layers[1].ValLoss; got != math.MaxFloat64 {
		t.Errorf("one diverged seed of two: loss %v, want %v", got, math.MaxFloat64)
	}
	// Large finite losses do not overflow either.
	a, b = sample(), sample()
	b.Seed = 8
	a.Layers[0].ValLoss, b.Layers[0].ValLoss = math.MaxFloat64/1.5, math.MaxFloat64/1.5
	if p, err = Pool(a, b); err != nil || p.Layers[1].ValLoss != math.MaxFloat64/1.5 {
		t.Errorf("two large losses: %+v, %v; want loss %v", p, err, math.MaxFloat64/1.5)
	}
}

// TestRunChecksModelFirst: Run refuses an empty Base.Model, which Collect
// needs, before it trains any layer.
func TestRunChecksModelFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "study")
	trained := 0
	cfg := Config{Base: training.Config{Network: models.MLP{Inputs: 4, Hidden: []int{8}, Classes: 3}, Dataset: "mnist"},
		Epochs: 1, OutDir: dir, OnLayer: func(LayerResult, bool) { trained++ }}
	for _, model := range []string{"", "  "} {
		cfg.Base.Model = model
		_, err := Run(t.Context(), cfg, training.Data{})
		const want = "sensitivity: Base.Model is empty: want the name of the model the layers belong to (it is recorded in sensitivity.json)"
		if err == nil || err.Error() != want {
			t.Errorf("Run with model %q: %v, want %q", model, err, want)
		}
	}
	if trained > 0 {
		t.Errorf("%d layers trained before the refusal", trained)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output folder created (or %v)", err)
	}
}

// TestRunValidatesNetwork: Run refuses a malformed network before it
// trains any layer.
func TestRunValidatesNetwork(t *testing.T) {
	cfg := Config{Base: training.Config{Network: models.ResNetCIFAR{Label: "r", Input: []int{32, 32, 3}, BlocksPerStage: -5, Classes: 10}, Model: "r"},
		Epochs: 1, OutDir: t.TempDir()}
	const want = "sensitivity: models: r: BlocksPerStage is -5, want 1..174762"
	if _, err := Run(t.Context(), cfg, training.Data{}); err == nil || err.Error() != want {
		t.Errorf("Run = %v, want %q", err, want)
	}
}
