package schedule

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
		want          []int // 1-based
	}{
		{"numbers.json", "[1, 3, 2]", 3, []int{1, 3, 2}},
		{"numbers-spaced.json", " \n[3,1,2]\n", 3, []int{3, 1, 2}},
		// PyTorch's modules() of the official MLP: 0 the net, 1 Flatten, 2
		// Linear, 3 BatchNorm, 4 ReLU, 5 Linear, 6, 7, 8 ..., 9 Linear.
		{"mlp3_layers_132.json", "[2, 9, 5]", 3, []int{1, 3, 2}},
		// VGG-5: conv 2, conv 5, linear 10, 13, 16.
		{"vgg5_layers_ascend.json", "[16, 13, 2, 10, 5]", 5, []int{5, 4, 1, 3, 2}},
		// ResNet-20: the stem 1, block convolutions 5, 7, 11, ..., 57, the classifier 60.
		{"resnet20_layers_descend.json", "[60, 51, 49, 30, 38, 5, 55, 45, 32, 43, 7, 24, 11, 36, 26, 1, 19, 13, 17, 57]", 20,
			[]int{20, 17, 16, 10, 13, 2, 18, 15, 11, 14, 3, 8, 4, 12, 9, 1, 7, 5, 6, 19}},
		{"zero-based-like.json", "[0, 2, 1]", 3, []int{1, 3, 2}},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		kind, order, err := ParseOrder(path, c.n, 1)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := make([]int, len(order))
		for i, l := range order {
			got[i] = l + 1
		}
		if kind != KindIterative || !slices.Equal(got, c.want) {
			t.Errorf("%s %s: kind %v, order %v; want iterative %v", c.name, c.content, kind, got, c.want)
		}
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
