package summary

import (
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/models"
)

func TestMLP300100AllBinary(t *testing.T) {
	p, _ := models.Lookup("mlp-300-100")
	s, err := Of(p.Network, nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		layer                    int
		name, kind, mode         string
		outputs                  int
		params, bin, macs, binMA int64
	}
	rows := []want{
		{1, "dense1", "dense", "binary", 300, 235500, 235200, 0, 235200},
		{0, "bn1", "batchnorm", "float", 300, 1200, 0, 0, 0},
		{2, "dense2", "dense", "binary", 100, 30100, 30000, 0, 30000},
		{0, "bn2", "batchnorm", "float", 100, 400, 0, 0, 0},
		{3, "dense3", "dense", "binary", 10, 1010, 1000, 0, 1000},
		{0, "bn3", "batchnorm", "float", 10, 40, 0, 0, 0},
	}
	if len(s.Rows) != len(rows) {
		t.Fatalf("%d rows, want %d:\n%s", len(s.Rows), len(rows), s)
	}
	for i, w := range rows {
		r := s.Rows[i]
		if r.Layer != w.layer || r.Name != w.name || r.Kind != w.kind || r.Mode != w.mode || r.Outputs != w.outputs || r.Params != w.params ||
			r.BinaryParams != w.bin || r.MACs != w.macs || r.BinaryMACs != w.binMA {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
	}
	tot := s.Total
	if tot.Params != 268250 || tot.Trainable != 268250-820 || tot.BinaryParams != 266200 || tot.FloatParams != 2050 ||
		tot.Bits != 331800 || tot.Float32Bytes != 1073000 || tot.PackedBytes != 41475 || tot.BinaryMACs != 266200 || tot.MACs != 0 {
		t.Errorf("totals %+v", tot)
	}
	if s.DeployedBytes != 38640 {
		t.Errorf("deployed bytes %d, want 38640", s.DeployedBytes)
	}
	if s.Ratio < 25.87 || s.Ratio > 25.88 {
		t.Errorf("ratio %v, want 1073000/41475 = 25.87", s.Ratio)
	}
	out := s.String()
	for _, want := range []string{"compression ratio 25.87x", "266,200 of them (100.0%) replaced by additions", "dense1"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
}

func TestModesFromCaller(t *testing.T) {
	p, _ := models.Lookup("mlp-784-784")
	s, err := Of(p.Network, []binnet.Mode{binnet.Float, binnet.Frozen, binnet.Binary})
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := s.Rows[0], s.Rows[2]
	if d1.Mode != "float" || d1.MACs != 784*784 || d1.BinaryMACs != 0 || d1.FloatParams != 784*784+784 {
		t.Errorf("float dense1: %+v", d1)
	}
	if d2.Mode != "frozen" || d2.BinaryMACs != 784*784 || d2.BinaryParams != 784*784 {
		t.Errorf("frozen dense2: %+v", d2)
	}
	if _, err := Of(p.Network, []binnet.Mode{binnet.Float}); err == nil {
		t.Error("wrong number of modes accepted")
	}
}

// TestCNNConvRows: conv layers get their kind, channels, MACs (fan-in x
// channels x output positions) and .bnn bytes (sign rows of ceil(fan-in/64)
// words plus a scale and offset per channel).
func TestCNNConvRows(t *testing.T) {
	p, _ := models.Lookup("cnn")
	s, err := Of(p.Network, []binnet.Mode{binnet.Binary, binnet.Float, binnet.Binary})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := s.Rows[0], s.Rows[2]
	if c1.Name != "conv1" || c1.Kind != "conv2d" || c1.Mode != "binary" || c1.Outputs != 32 || c1.Params != 9*32+32 ||
		c1.BinaryParams != 9*32 || c1.BinaryMACs != 28*28*32*9 || c1.MACs != 0 {
		t.Errorf("conv1: %+v", c1)
	}
	if c2.Name != "conv2" || c2.Kind != "conv2d" || c2.Mode != "float" || c2.Outputs != 64 || c2.MACs != 28*28*64*288 || c2.BinaryMACs != 0 {
		t.Errorf("conv2: %+v", c2)
	}
	// conv1: 32 rows of 1 word + 8 bytes each; conv2: float32 weights + 8 bytes per channel; dense3: 10 rows of 196 words + 8 each.
	if want := int64(32*8+32*8) + int64(4*288*64+64*8) + int64(10*196*8+10*8); s.DeployedBytes != want {
		t.Errorf("deployed bytes %d, want %d", s.DeployedBytes, want)
	}
}

// TestResNet21LayerNumbers: the rows of ResNet-21's binarizable layers carry
// the numbers that orders use, 1 to 21 in build order, with names unique
// under /model: the stem is 1, the first block's convolutions 2 and 3, the
// second stage's first block 6 and 7 and its 1x1 downsampling convolution 8
// (after the block's two, as in torchvision's ResNet-18 and the official
// code's module order), the classifier 21.
func TestResNet21LayerNumbers(t *testing.T) {
	p, _ := models.Lookup("resnet21")
	s, err := Of(p.Network, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	seen := map[string]bool{}
	next := 1
	for _, r := range s.Rows {
		if seen[r.Name] {
			t.Errorf("row name %q twice", r.Name)
		}
		seen[r.Name] = true
		if r.Kind == "batchnorm" {
			if r.Layer != 0 {
				t.Errorf("batch norm %s numbered %d", r.Name, r.Layer)
			}
			continue
		}
		if r.Layer != next {
			t.Errorf("layer %s numbered %d, want %d", r.Name, r.Layer, next)
		}
		names[r.Layer] = r.Name
		next++
	}
	want := map[int]string{1: "conv1", 2: "layer1_block0/conv1", 3: "layer1_block0/conv2", 6: "layer2_block0/conv1",
		7: "layer2_block0/conv2", 8: "layer2_block0/downsample", 21: "fc"}
	for n, name := range want {
		if names[n] != name {
			t.Errorf("layer %d is %q, want %q", n, names[n], name)
		}
	}
	if next != 22 {
		t.Errorf("%d binarizable layers, want 21", next-1)
	}
	if out := s.String(); !strings.Contains(out, "\n   8  layer2_block0/downsample ") {
		t.Errorf("the table does not number layer 8:\n%s", out)
	}
}

// TestOfRefusesInvalidNetwork: a malformed network is refused, naming the
// field, before a graph is built (where it failed with a division by zero
// or an index out of range).
func TestOfRefusesInvalidNetwork(t *testing.T) {
	for _, c := range []struct {
		net  models.Network
		want string
	}{
		{models.VGG{}, "summary: models: VGG has no Label (such as vgg5)"},
		{models.ResNetCIFAR{}, "summary: models: ResNetCIFAR has no Label (such as resnet20)"},
		{models.SmallCNN{}, "summary: models: cnn wants images [height, width, channels] of at least 2x2, got []"},
		{models.MLP{Inputs: 4, Hidden: []int{0}, Classes: 3}, "summary: models: mlp-4-0-3: Hidden[0] is 0, want 1..1048576"},
		{models.MLP{Inputs: 4, Hidden: []int{8}, Classes: 0}, "summary: models: mlp-4-8-0 needs at least 2 classes, got 0"},
		{nil, "summary: models: no network (nil)"},
	} {
		if s, err := Of(c.net, nil); err == nil || err.Error() != c.want {
			t.Errorf("Of(%#v) = %v, %v; want %q", c.net, s, err, c.want)
		}
	}
}
