package schedule

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The official code's module indices of the binarizable layers of some of
// its models (models.Preset.OfficialLayers), for the tests.
var (
	testMLP3     = &OfficialLayers{Network: "mlp-300-100", Indices: []int{2, 5, 9}}
	testVGG5     = &OfficialLayers{Network: "vgg5", Indices: []int{2, 5, 10, 13, 16}}
	testResNet20 = &OfficialLayers{Network: "resnet20", Indices: []int{1, 5, 7, 11, 13, 17, 19, 24, 26, 30, 32, 36, 38, 43, 45, 49, 51, 55, 57, 60}}
)

// TestReadOrderFile reads orders in binnet's layer numbers and in the
// official code's layer files (the arrays below are those of its
// models/mlp3_layers_132.json, vgg5_layers_ascend.json and
// resnet20_layers_descend.json), against orders ranked by hand.
func TestReadOrderFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content string
		n             int
		official      *OfficialLayers
		want          []int // 1-based
		wantOfficial  bool
	}{
		{"numbers.json", "[1, 3, 2]", 3, testMLP3, []int{1, 3, 2}, false},
		{"numbers-spaced.json", " \n[3,1,2]\n", 3, nil, []int{3, 1, 2}, false},
		// PyTorch's modules() of the official MLP: 0 the model, 1 and 8
		// its containers, the Linear layers 2, 5 and 9, the others
		// BatchNorm, ReLU and LogSoftmax.
		{"mlp3_layers_132.json", "[2, 9, 5]", 3, testMLP3, []int{1, 3, 2}, true},
		// VGG-5: conv 2, conv 5, linear 10, 13, 16.
		{"vgg5_layers_ascend.json", "[16, 13, 2, 10, 5]", 5, testVGG5, []int{5, 4, 1, 3, 2}, true},
		// ResNet-20: the stem 1, block convolutions 5, 7, 11, ..., 57, the classifier 60.
		{"resnet20_layers_descend.json", "[60, 51, 49, 30, 38, 5, 55, 45, 32, 43, 7, 24, 11, 36, 26, 1, 19, 13, 17, 57]", 20, testResNet20,
			[]int{20, 17, 16, 10, 13, 2, 18, 15, 11, 14, 3, 8, 4, 12, 9, 1, 7, 5, 6, 19}, true},
		// ResNet-20's stem is module 1 and its set holds 1..20's 1, 5, 7,
		// 11, 13, 17 and 19: binnet's numbers 1..20 are still only those.
		{"resnet20-numbers.json", "[20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]", 20, testResNet20,
			[]int{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, false},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := ReadOrderFile(path, c.n, c.official)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := make([]int, len(f.Order))
		for i, l := range f.Order {
			got[i] = l + 1
		}
		if !slices.Equal(got, c.want) || f.Official != c.wantOfficial || len(f.Entries) != c.n {
			t.Errorf("%s %s: order %v, official %v, entries %v; want %v, official %v", c.name, c.content, got, f.Official, f.Entries, c.want, c.wantOfficial)
		}
		if c.official == nil {
			// ParseOrder reads binnet's numbers the same way.
			kind, order, err := ParseOrder(path, c.n, 1)
			if err != nil || kind != KindIterative || !slices.Equal(order, f.Order) {
				t.Errorf("ParseOrder(%s) = %v, %v, %v; want iterative %v", c.name, kind, order, err, f.Order)
			}
		}
	}
}

// TestReadOrderFileNeither checks that an array that is neither binnet's
// layer numbers nor the network's official module indices, such as a typo
// in either or numbers counted from 0, is refused naming both readings,
// rather than ranked into some order.
func TestReadOrderFileNeither(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content  string
		official *OfficialLayers
		want     string
	}{
		{"[1,2,4]", testMLP3, "[1,2,4]: neither binnet's layer numbers 1..3 (4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"[2,3,4]", testMLP3, "[2,3,4]: neither binnet's layer numbers 1..3 (4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"[0,1,2]", testMLP3, "[0,1,2]: neither binnet's layer numbers 1..3 (0 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"[3,1,4]", testMLP3, "(4 is out of range)"},
		{"[2,9,6]", testMLP3, "[2,9,6]: neither binnet's layer numbers 1..3 (9 is out of range) nor"},
		// Another network's official indices.
		{"[2,5,10]", testMLP3, "nor the official code's module indices of mlp-300-100 (2,5,9)"},
		// No official model known: only binnet's numbers.
		{"[2,9,5]", nil, "[2,9,5]: not binnet's layer numbers 1..3 (9 is out of range)"},
		{"[0,2,1]", nil, "[0,2,1]: not binnet's layer numbers 1..3 (0 is out of range)"},
	} {
		path := filepath.Join(dir, "order.json")
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := ReadOrderFile(path, 3, c.official)
		if err == nil || !strings.Contains(err.Error(), "order file "+path+" ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s (official %v): order %v, error %v; want one naming the file and %q", c.content, c.official, f.Order, err, c.want)
		}
	}
	// ParseOrder knows no network: an official file is refused there.
	path := filepath.Join(dir, "mlp3_layers_132.json")
	if err := os.WriteFile(path, []byte("[2, 9, 5]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, order, err := ParseOrder(path, 3, 1); err == nil || !strings.Contains(err.Error(), "not binnet's layer numbers 1..3") {
		t.Errorf("ParseOrder of an official file: %v, %v; want a refusal", order, err)
	}
}

// TestReadOrderFileRefuses checks that each bad order file is refused with a
// message that names the file and the problem.
func TestReadOrderFileRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content, want string
	}{
		{"short.json", "[2, 9]", "lists 2 layers, the network has 3 binarizable layers"},
		{"long.json", "[1, 2, 3, 4]", "lists 4 layers, the network has 3"},
		{"twice.json", "[2, 9, 2]", "entry 2 is listed twice"},
		{"negative.json", "[-1, 2, 3]", "entry -1 is negative"},
		{"object.json", `{"order": [1, 2, 3]}`, "want a JSON array of layer numbers"},
		{"floats.json", "[1.5, 2, 3]", "want a JSON array of layer numbers"},
		{"strings.json", `["1", "2", "3"]`, "want a JSON array of layer numbers"},
		{"empty.json", "", "want a JSON array of layer numbers"},
		{"two.json", "[1, 2, 3] [3, 2, 1]", "found more after it"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := ParseOrder(path, 3, 1)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want one naming the file and %q", c.name, c.content, err, c.want)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, _, err := ParseOrder(missing, 3, 1); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte("["+strings.Repeat("1, ", maxOrderFile/3+1)+"1]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseOrder(big, 3, 1); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge file: %v", err)
	}
}
