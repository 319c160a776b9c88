package bnn

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testModel returns a 3-layer model 70-65-9-3: a binary layer whose fan-in is
// not a multiple of 64, a float layer, a binary classifier.
func testModel(r *rand.Rand) *Model {
	floats := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	binLayer := func(name string, in, out int, act Activation) Layer {
		return Layer{Name: name, Kind: Dense, Encoding: SignBits, Activation: act, Inputs: in, Outputs: out,
			Bits: PackSigns(floats(in*out), in, out), Scale: floats(out), Offset: floats(out)}
	}
	return &Model{Name: "test model", InputShape: []int{7, 10}, InputMean: []float32{0.1307}, InputStd: []float32{0.3081},
		Layers: []Layer{
			binLayer("dense1", 70, 65, ReLU),
			{Name: "dense2", Kind: Dense, Encoding: Float32, Activation: ReLU, Inputs: 65, Outputs: 9,
				Weights: floats(65 * 9), Scale: floats(9), Offset: floats(9)},
			binLayer("dense3", 9, 3, None),
		}}
}

func TestRoundTrip(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(1, 2)))
	path := filepath.Join(t.TempDir(), "m.bnn")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	b, _ := os.ReadFile(path)
	// Sizes: header 64, name 10 -> 16, normalization 8, per layer 64 + padded weights + 8*outputs, trailer 32.
	want := 64 + 16 + 8 + (64 + 8*2*65 + 8*65) + (64 + pad8(4*65*9) + 8*9) + (64 + 8*3 + 8*3) + 32
	if len(b) != want {
		t.Errorf("file is %d bytes, want %d", len(b), want)
	}
	if binary.LittleEndian.Uint64(b[16:]) != uint64(len(b)) {
		t.Errorf("file size field does not match")
	}
}

func TestPackSigns(t *testing.T) {
	// 2 outputs, 66 inputs: weights of output 0 are +,-,0(+),...; output 1 all negative but input 65.
	in, out := 66, 2
	w := make([]float32, in*out)
	for i := 0; i < in; i++ {
		w[i] = float32(i%3) - 1 // -1, 0, 1, -1, 0, 1...
		w[in+i] = -1
	}
	w[in+65] = 2
	bits := PackSigns(w, in, out)
	if len(bits) != 4 {
		t.Fatalf("%d words, want 4", len(bits))
	}
	l := Layer{Inputs: in, Outputs: out, Encoding: SignBits, Bits: bits}
	for i := 0; i < in; i++ {
		want := float32(1)
		if w[i] < 0 {
			want = -1
		}
		if l.Sign(0, i) != want {
			t.Errorf("output 0 input %d: sign %v, want %v (w=%v; sign(0) must be +1)", i, l.Sign(0, i), want, w[i])
		}
	}
	if bits[2] != 0 || bits[3] != 2 {
		t.Errorf("output 1 words %x %x, want 0 2", bits[2], bits[3])
	}
}

// damage returns a copy of b with byte at off changed, and (optionally)
// the header, descriptor and file checksums recomputed, so that the check
// under test is the one that fires.
func damage(b []byte, off int, v byte) []byte {
	c := bytes.Clone(b)
	c[off] = v
	return c
}

func resum(b []byte) []byte {
	end := len(b) - trailerSize
	binary.LittleEndian.PutUint32(b[60:], crc(b[:60]))
	sum := sha256.Sum256(b[:end])
	copy(b[end:], sum[:])
	return b
}

func TestCorruption(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(3, 4)))
	good, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	l1 := 64 + 16 + 8 // first descriptor
	l1w := l1 + 64
	l1p := l1w + 8*2*65
	l2 := l1p + 8*65
	end := len(good) - trailerSize
	cases := []struct {
		name  string
		bytes []byte
		field string
		off   int64
		msg   string
	}{
		{"empty", nil, "header.magic", 0, "not a .bnn file"},
		{"magic", damage(good, 0, 'X'), "header.magic", 0, "not a .bnn file"},
		{"version", resum(damage(good, 8, 3)), "header.version", 8, "version 3"},
		{"normalization", damage(good, 64+16+5, good[64+16+5]^1), "normalization", 64 + 16, "damaged"},
		{"header crc", damage(good, 30, 1), "header.crc", 60, "header"},
		{"truncated", resum(bytes.Clone(good[:len(good)-100])), "header.file_size", 16, "truncated"},
		{"trailing", append(bytes.Clone(good), 0), "header.file_size", 16, "trailing"},
		{"descriptor", damage(good, l1+8, 99), "layer 1.descriptor_crc", int64(l1 + 60), "damaged"},
		{"weights", damage(good, l1w+5, good[l1w+5]^0x10), "layer 1 (dense1).weights", int64(l1w), "damaged"},
		{"scale", damage(good, l1p+3, good[l1p+3]^1), "layer 1 (dense1).scale_offset", int64(l1p), "damaged"},
		{"float weights", damage(good, l2+64+100, good[l2+64+100]^4), "layer 2 (dense2).weights", int64(l2 + 64), "damaged"},
		{"trailer", damage(good, end+3, good[end+3]^1), "trailer.sha256", int64(end), "damaged"},
	}
	for _, c := range cases {
		_, err := Decode(c.bytes)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want a *FormatError wrapping ErrCorrupt", c.name, err)
			continue
		}
		if fe.Field != c.field || fe.Offset != c.off || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %q (field %q, offset %d), want field %q offset %d mentioning %q", c.name, err, fe.Field, fe.Offset, c.field, c.off, c.msg)
		}
	}
}

// TestCorruptionFieldsWithValidCRC rewrites descriptor fields with a
// recomputed CRC (a writer bug, not a bit flip) and checks the named field.
func TestCorruptionFieldsWithValidCRC(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(5, 6)))
	good, _ := Encode(m)
	l1 := 64 + 16 + 8
	edit := func(off int, put func(b []byte)) []byte {
		c := bytes.Clone(good)
		put(c[off:])
		binary.LittleEndian.PutUint32(c[l1+60:], crc(c[l1:l1+60]))
		return resum(c)
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		name, field string
		b           []byte
	}{
		{"kind", "layer 1 (dense1).kind", edit(l1, func(b []byte) { b[0] = 9 })},
		{"encoding", "layer 1 (dense1).encoding", edit(l1+1, func(b []byte) { b[0] = 7 })},
		{"inputs", "layer 1 (dense1).words_per_row", edit(l1+4, func(b []byte) { le.PutUint32(b, 700) })},
		{"outputs", "layer 1 (dense1).weights_length", edit(l1+8, func(b []byte) { le.PutUint32(b, 66) })},
		{"zero outputs", "layer 1 (dense1).outputs", edit(l1+8, func(b []byte) { le.PutUint32(b, 0) })},
		{"huge length", "layer 1 (dense1).weights_length", edit(l1+24, func(b []byte) { le.PutUint64(b, 1<<62) })},
	} {
		_, err := Decode(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want field %q", c.name, err, c.field)
		}
	}
}

// TestEveryByteFlipIsDetected flips each byte of a file in turn: every
// damaged copy must be rejected.
func TestEveryByteFlipIsDetected(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(7, 8)))
	good, _ := Encode(m)
	for off := range good {
		if _, err := Decode(damage(good, off, good[off]^0x40)); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", off)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipping byte %d: %v does not wrap ErrCorrupt", off, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"chain", func(m *Model) { m.Layers[1].Inputs = 64; m.Layers[1].Weights = m.Layers[1].Weights[:64*9] }, "[65] has 65 values"},
		{"bits", func(m *Model) { m.Layers[0].Bits = m.Layers[0].Bits[1:] }, "sign words"},
		{"pad bits", func(m *Model) { m.Layers[0].Bits[1] |= 1 << 63 }, "past input"},
		{"scale", func(m *Model) { m.Layers[2].Scale = nil }, "scales"},
		{"input", func(m *Model) { m.InputShape = []int{71} }, "[71] has 71 values"},
		{"norm channels", func(m *Model) { m.InputMean = []float32{0, 0}; m.InputStd = []float32{1, 1} }, "2 input means"},
		{"std", func(m *Model) { m.InputStd = []float32{0} }, "positive std"},
		{"conv geometry", func(m *Model) { m.Layers[0].Kind = Conv2D }, "bad conv2d geometry"},
		{"name", func(m *Model) { m.Layers[0].Name = strings.Repeat("x", 17) }, "name longer"},
	} {
		m := testModel(r)
		c.edit(m)
		if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(testModel(rand.New(rand.NewPCG(1, 1))))
	f.Add(good)
	f.Add(good[:100])
	conv, _ := Encode(convModel(rand.New(rand.NewPCG(1, 1))))
	f.Add(conv)
	v1, _ := os.ReadFile(filepath.Join("testdata", "v1-dense.bnn"))
	f.Add(v1)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil {
			if _, err := Encode(m); err != nil {
				t.Fatalf("decoded a model that does not encode: %v", err)
			}
		}
	})
}

// convModel returns a small conv network over 9x8x3 images with every layer
// kind: a binary conv (same padding, stride 1), a float conv (valid, stride
// 2), a max pooling with padding, a flatten, a binary dense classifier; and
// per-channel input normalization.
func convModel(r *rand.Rand) *Model {
	floats := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	return &Model{Name: "conv test", InputShape: []int{9, 8, 3},
		InputMean: []float32{0.4914, 0.4822, 0.4465}, InputStd: []float32{0.2023, 0.1994, 0.2010},
		Layers: []Layer{
			{Name: "conv1", Kind: Conv2D, Encoding: SignBits, Activation: ReLU, Inputs: 27, Outputs: 20,
				KernelH: 3, KernelW: 3, Stride: 1, Padding: PadSame, Bits: PackSigns(floats(27*20), 27, 20), Scale: floats(20), Offset: floats(20)},
			{Name: "conv2", Kind: Conv2D, Encoding: Float32, Activation: ReLU, Inputs: 3 * 2 * 20, Outputs: 5,
				KernelH: 3, KernelW: 2, Stride: 2, Padding: PadValid, Weights: floats(120 * 5), Scale: floats(5), Offset: floats(5)},
			{Name: "pool", Kind: MaxPool2D, KernelH: 3, KernelW: 3, Stride: 2, Padding: PadSame},
			{Name: "flat", Kind: Flatten},
			{Name: "dense", Kind: Dense, Encoding: SignBits, Inputs: 2 * 2 * 5, Outputs: 4,
				Bits: PackSigns(floats(20*4), 20, 4), Scale: floats(4), Offset: floats(4)},
		}}
}

func TestConvShapesAndRoundTrip(t *testing.T) {
	m := convModel(rand.New(rand.NewPCG(11, 12)))
	shapes, err := m.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	// 9x8 -> same 3x3 -> 9x8x20 -> valid 3x2 stride 2 -> 4x4x5 -> pool 3 stride 2 pad 1 -> 2x2x5 -> 20 -> 4
	want := [][]int{{9, 8, 3}, {9, 8, 20}, {4, 4, 5}, {2, 2, 5}, {20}, {4}}
	if !reflect.DeepEqual(shapes, want) {
		t.Errorf("shapes %v, want %v", shapes, want)
	}
	if m.NumClasses() != 4 {
		t.Errorf("NumClasses %d", m.NumClasses())
	}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	if mean, std := got.Normalization(2); mean != 0.4465 || std != 0.2010 {
		t.Errorf("channel 2 normalization %v %v", mean, std)
	}
	for off := range b {
		if _, err := Decode(damage(b, off, b[off]^0x08)); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", off)
		}
	}
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"conv fan-in", func(m *Model) {
			m.InputShape = []int{9, 8, 2}
			m.InputMean, m.InputStd = m.InputMean[:1], m.InputStd[:1]
		}, "a 3x3 window over 2 channels"},
		{"conv rank", func(m *Model) { m.InputShape = []int{216}; m.InputMean, m.InputStd = m.InputMean[:1], m.InputStd[:1] }, "wants an image"},
		{"too small", func(m *Model) { m.Layers[2].KernelH, m.Layers[2].Padding = 5, PadValid }, "does not fit"},
		{"pool weights", func(m *Model) { m.Layers[2].Scale = []float32{1} }, "has no weights"},
		{"pool activation", func(m *Model) { m.Layers[2].Activation = ReLU }, "has no weights"},
		{"flatten window", func(m *Model) { m.Layers[3].Stride = 1 }, "window fields"},
		{"stride", func(m *Model) { m.Layers[2].Stride = 0 }, "geometry"},
		{"dense fan-in", func(m *Model) { m.Layers[3] = Layer{Name: "pool2", Kind: MaxPool2D, KernelH: 2, KernelW: 2, Stride: 2} }, "has 5 values"},
		{"not a vector", func(m *Model) { m.Layers = m.Layers[:3] }, "vector of logits"},
		{"per-channel count", func(m *Model) { m.InputShape = []int{9, 8, 3}; m.InputMean = m.InputMean[:2] }, "input means"},
	} {
		m := convModel(rand.New(rand.NewPCG(11, 12)))
		c.edit(m)
		if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

// TestReadsVersion1 decodes a file written by the version 1 writer
// (testdata/v1-dense.bnn, testModel with seed 7, 8): the same model, its
// scalar normalization as one channel.
func TestReadsVersion1(t *testing.T) {
	m, err := ReadFile(filepath.Join("testdata", "v1-dense.bnn"))
	if err != nil {
		t.Fatal(err)
	}
	want := testModel(rand.New(rand.NewPCG(7, 8)))
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("version 1 file:\n got %+v\nwant %+v", m, want)
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "v1-dense.bnn"))
	if v := binary.LittleEndian.Uint32(b[8:]); v != 1 {
		t.Fatalf("testdata file has version %d", v)
	}
	// Re-encoded, it is a version 2 file of the same model.
	b2, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(b2[8:]); v != Version {
		t.Errorf("Encode wrote version %d", v)
	}
	if len(b2) != len(b)+8 {
		t.Errorf("version 2 file is %d bytes, version 1 %d: want 8 more (the normalization section)", len(b2), len(b))
	}
	// Every byte flip of the version 1 file is still detected.
	for off := range b {
		if _, err := Decode(damage(b, off, b[off]^0x40)); err == nil {
			t.Fatalf("version 1: flipping byte %d went unnoticed", off)
		}
	}
	// A version 1 file cannot hold the new layer kinds.
	c := bytes.Clone(b)
	l1 := 64 + 16
	c[l1] = byte(MaxPool2D)
	binary.LittleEndian.PutUint32(c[l1+60:], crc(c[l1:l1+60]))
	var fe *FormatError
	if _, err := Decode(resum(c)); !errors.As(err, &fe) || fe.Field != "layer 1 (dense1).kind" || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("maxpool in a version 1 file: %v", err)
	}
}
