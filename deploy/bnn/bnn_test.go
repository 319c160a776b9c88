package bnn

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// normals returns n standard normal draws.
func normals(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// encodeDecode encodes m and decodes the bytes, failing the test unless the
// decoded model equals m; it returns the bytes and the decoded model.
func encodeDecode(t *testing.T, m *Model) ([]byte, *Model) {
	t.Helper()
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
	return b, got
}

// testModel returns a 3-layer model 70-65-9-3: a binary layer whose fan-in is
// not a multiple of 64, a float layer, a binary classifier.
func testModel(r *rand.Rand) *Model {
	floats := func(n int) []float32 { return normals(r, n) }
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
	// Out of range, Sign panics naming the layer, even where the bit index
	// would land inside Bits (input -1 of output 1 is bit 63 of output 1's first word).
	for _, c := range [][2]int{{1, -1}, {0, in}, {out, 0}, {-1, 0}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "outside a layer of 2 outputs and 66 inputs") {
					t.Errorf("Sign(%d, %d): recovered %v", c[0], c[1], r)
				}
			}()
			l.Sign(c[0], c[1])
		}()
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
		{"version", resum(damage(good, 8, 4)), "header.version", 8, "version 4"},
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

// checkFlipsRejected flips bit in each byte of the file b in turn: Decode
// must reject every damaged copy with an error that wraps ErrCorrupt.
func checkFlipsRejected(t *testing.T, what string, b []byte, bit byte) {
	t.Helper()
	for off := range b {
		if _, err := Decode(damage(b, off, b[off]^bit)); err == nil {
			t.Fatalf("%s: flipping byte %d went unnoticed", what, off)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: flipping byte %d: %v does not wrap ErrCorrupt", what, off, err)
		}
	}
}

// TestEveryByteFlipIsDetected flips each byte of a file in turn: every
// damaged copy must be rejected.
func TestEveryByteFlipIsDetected(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(7, 8)))
	good, _ := Encode(m)
	checkFlipsRejected(t, "version 3", good, 0x40)
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
	v2, _ := os.ReadFile(filepath.Join("testdata", "v2-conv.bnn"))
	f.Add(v2)
	res, _ := Encode(residualModel(rand.New(rand.NewPCG(1, 1))))
	f.Add(res)
	f.Add(bigPoolFile(f))
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
	floats := func(n int) []float32 { return normals(r, n) }
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
	b, got := encodeDecode(t, m)
	if mean, std := got.Normalization(2); mean != 0.4465 || std != 0.2010 {
		t.Errorf("channel 2 normalization %v %v", mean, std)
	}
	checkFlipsRejected(t, "version 3", b, 0x08)
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
		{"too small", func(m *Model) { m.Layers[2].KernelH, m.Layers[2].Padding = 5, PadValid }, "layer 3 (pool, maxpool2d): window 5x3 larger than its 4x4 input (padded 4x4)"},
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
	// Re-encoded, it is a current-version file of the same model.
	b2, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(b2[8:]); v != Version {
		t.Errorf("Encode wrote version %d", v)
	}
	if len(b2) != len(b)+8 {
		t.Errorf("version %d file is %d bytes, version 1 %d: want 8 more (the normalization section)", Version, len(b2), len(b))
	}
	// Every byte flip of the version 1 file is still detected.
	checkFlipsRejected(t, "version 1", b, 0x40)
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

// TestReadsVersion2 decodes a file written by the version 2 writer
// (testdata/v2-conv.bnn, convModel with seed 13, 14): the same model, every
// layer reading its predecessor. Re-encoded as version 3 it has the same
// size; every byte flip of the version 2 file is detected, and a version 2
// file cannot hold the kinds or the references of version 3.
func TestReadsVersion2(t *testing.T) {
	path := filepath.Join("testdata", "v2-conv.bnn")
	m, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := convModel(rand.New(rand.NewPCG(13, 14))); !reflect.DeepEqual(m, want) {
		t.Fatalf("version 2 file:\n got %+v\nwant %+v", m, want)
	}
	b, _ := os.ReadFile(path)
	if v := binary.LittleEndian.Uint32(b[8:]); v != 2 {
		t.Fatalf("testdata file has version %d", v)
	}
	b3, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b3[8:]) != Version || len(b3) != len(b) {
		t.Errorf("re-encoded: version %d, %d bytes; want version %d, %d bytes", binary.LittleEndian.Uint32(b3[8:]), len(b3), Version, len(b))
	}
	checkFlipsRejected(t, "version 2", b, 0x40)
	// Layer 1's descriptor follows the header, the 16 bytes of name ("conv
	// test" padded) and the 3+3 floats of normalization.
	l1 := 64 + 16 + 24
	edit := func(at int, v byte) []byte {
		c := bytes.Clone(b)
		c[l1+at] = v
		binary.LittleEndian.PutUint32(c[l1+60:], crc(c[l1:l1+60]))
		return resum(c)
	}
	var fe *FormatError
	if _, err := Decode(edit(0, byte(Add))); !errors.As(err, &fe) || fe.Field != "layer 1 (conv1).kind" || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("add in a version 2 file: %v", err)
	}
	// Version 2 ignores the reserved bytes of layers with weights, as its
	// reader did: layers read their predecessor whatever bytes 56..59 hold.
	if got, err := Decode(edit(56, 1)); err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("version 2 with reserved byte 56 set: %v", err)
	}
}

// residualModel returns a small residual network over 8x8x3 images with
// every version 3 feature: a stem conv, an add of the model's input at a
// channel offset, an identity shortcut, an option-A shortcut (stride 2,
// channel offset), a 1x1 stride-2 downsampling conv reading an earlier
// layer, an add whose first operand is not its predecessor, global average
// pooling and a dense classifier.
func residualModel(r *rand.Rand) *Model {
	floats := func(n int) []float32 { return normals(r, n) }
	conv := func(name string, bin bool, k, stride, cin, cout int, act Activation) Layer {
		in := k * k * cin
		l := Layer{Name: name, Kind: Conv2D, Activation: act, Inputs: in, Outputs: cout, KernelH: k, KernelW: k, Stride: stride,
			Scale: floats(cout), Offset: floats(cout)}
		if k > 1 {
			l.Padding = PadSame
		}
		if bin {
			l.Encoding, l.Bits = SignBits, PackSigns(floats(in*cout), in, cout)
		} else {
			l.Encoding, l.Weights = Float32, floats(in*cout)
		}
		return l
	}
	ds := conv("downsample", true, 1, 2, 16, 24, None)
	ds.From = 8
	add3 := Layer{Name: "add3", Kind: Add, Activation: ReLU, From: 10, Stride: 1}
	return &Model{Name: "residual test", InputShape: []int{8, 8, 3},
		InputMean: []float32{0.4914, 0.4822, 0.4465}, InputStd: []float32{0.2023, 0.1994, 0.2010},
		Layers: []Layer{
			conv("stem", false, 3, 1, 3, 8, ReLU),                                                 // 1: 8x8x8
			{Name: "add0", Kind: Add, Residual: ModelInput, Stride: 1, ChannelOffset: 5},          // 2: + input at channels 5..7
			conv("b1c1", true, 3, 1, 8, 8, ReLU),                                                  // 3
			conv("b1c2", true, 3, 1, 8, 8, None),                                                  // 4
			{Name: "add1", Kind: Add, Activation: ReLU, Residual: 2, Stride: 1},                   // 5: identity shortcut
			conv("b2c1", true, 3, 2, 8, 16, ReLU),                                                 // 6: 4x4x16
			conv("b2c2", false, 3, 1, 16, 16, None),                                               // 7
			{Name: "add2", Kind: Add, Activation: ReLU, Residual: 5, Stride: 2, ChannelOffset: 4}, // 8: option A
			conv("b3c1", true, 3, 2, 16, 24, ReLU),                                                // 9: 2x2x24
			conv("b3c2", true, 3, 1, 24, 24, None),                                                // 10
			ds,                                                                                    // 11: from 8
			add3,                                                                                  // 12: 10 + 11
			{Name: "pool", Kind: GlobalAvgPool},                                                   // 13: [24]
			{Name: "fc", Kind: Dense, Encoding: Float32, Inputs: 24, Outputs: 5, Weights: floats(24 * 5), Scale: floats(5), Offset: floats(5)},
		}}
}

func TestResidualShapesAndRoundTrip(t *testing.T) {
	m := residualModel(rand.New(rand.NewPCG(15, 16)))
	shapes, err := m.Shapes()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{8, 8, 3}, {8, 8, 8}, {8, 8, 8}, {8, 8, 8}, {8, 8, 8}, {8, 8, 8}, {4, 4, 16}, {4, 4, 16}, {4, 4, 16},
		{2, 2, 24}, {2, 2, 24}, {2, 2, 24}, {2, 2, 24}, {24}, {5}}
	if !reflect.DeepEqual(shapes, want) {
		t.Errorf("shapes %v, want %v", shapes, want)
	}
	for i, w := range map[int][]int{0: {0}, 1: {1, 0}, 4: {4, 2}, 7: {7, 5}, 10: {8}, 11: {10, 11}, 13: {13}} {
		if got := m.Reads(i); !reflect.DeepEqual(got, w) {
			t.Errorf("layer %d reads %v, want %v", i+1, got, w)
		}
	}
	b, _ := encodeDecode(t, m)
	// The descriptors hold explicit activation numbers.
	off := 64 + 16 + 24
	le := binary.LittleEndian
	for i := range m.Layers {
		d := b[off:]
		reads := m.Reads(i)
		if int(le.Uint16(d[56:])) != reads[0] {
			t.Errorf("layer %d: input field %d, want %d", i+1, le.Uint16(d[56:]), reads[0])
		}
		if len(reads) == 2 && int(le.Uint16(d[58:])) != reads[1] || len(reads) == 1 && le.Uint16(d[58:]) != 0 {
			t.Errorf("layer %d: residual field %d, reads %v", i+1, le.Uint16(d[58:]), reads)
		}
		off += descriptorSize + pad8(m.Layers[i].WeightBytes()) + 8*m.Layers[i].Outputs
	}
	checkFlipsRejected(t, "version 3", b, 0x08)
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"forward reference", func(m *Model) { m.Layers[2].From = 3 }, "from 3"},
		{"from below -1", func(m *Model) { m.Layers[2].From = -2 }, "from -2"},
		{"residual forward", func(m *Model) { m.Layers[4].Residual = 5 }, "residual 5"},
		{"residual on conv", func(m *Model) { m.Layers[2].Residual = 1 }, "has no residual"},
		{"add shapes", func(m *Model) { m.Layers[11].Residual = ModelInput }, "adds a residual [8 8 3] subsampled by 1 at channel offset 0 to [2 2 24]"},
		{"residual at a channel offset", func(m *Model) { m.Layers[4].Residual = ModelInput; m.Layers[4].ChannelOffset = 6 }, "channels 6..8"},
		{"add offset", func(m *Model) { m.Layers[7].ChannelOffset = 9 }, "channels 9..16"},
		{"add stride", func(m *Model) { m.Layers[7].Stride = 1 }, "8x8 positions"},
		{"add zero stride", func(m *Model) { m.Layers[4].Stride = 0 }, "bad add geometry"},
		{"add kernel", func(m *Model) { m.Layers[4].KernelH = 1 }, "bad add geometry"},
		{"add weights", func(m *Model) { m.Layers[4].Scale = []float32{1} }, "has no weights"},
		{"offset on conv", func(m *Model) { m.Layers[2].ChannelOffset = 1 }, "channel offset 1"},
		{"pool activation", func(m *Model) { m.Layers[12].Activation = ReLU }, "no activation but add"},
		{"pool window", func(m *Model) { m.Layers[12].Stride = 1 }, "window fields"},
		{"pool of a vector", func(m *Model) { m.Layers = append(m.Layers, Layer{Name: "pool2", Kind: GlobalAvgPool}) }, "wants an image"},
		{"dense fan-in", func(m *Model) { m.Layers[13].From = 11 }, "has 96 values"},
		{"vector add", func(m *Model) {
			m.Layers = append(m.Layers, Layer{Name: "addv", Kind: Add, Residual: 13, Stride: 1})
		}, "need the same shape"},
	} {
		m := residualModel(rand.New(rand.NewPCG(15, 16)))
		c.edit(m)
		if _, err := Encode(m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
	// Two vectors of the same shape add.
	v := residualModel(rand.New(rand.NewPCG(15, 16)))
	v.Layers = append(v.Layers, Layer{Name: "addv", Kind: Add, From: 14, Residual: 14, Stride: 1})
	if _, err := Encode(v); err != nil {
		t.Errorf("adding two vectors: %v", err)
	}
}

// TestResidualFieldsWithValidCRC rewrites the reference and add fields of
// version 3 descriptors with recomputed CRCs and checks the named field.
func TestResidualFieldsWithValidCRC(t *testing.T) {
	m := residualModel(rand.New(rand.NewPCG(17, 18)))
	good, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	desc := make([]int, len(m.Layers))
	off := 64 + 16 + 24
	for i := range m.Layers {
		desc[i] = off
		off += descriptorSize + pad8(m.Layers[i].WeightBytes()) + 8*m.Layers[i].Outputs
	}
	le := binary.LittleEndian
	edit := func(layer, at int, put func(b []byte)) []byte {
		c := bytes.Clone(good)
		d := desc[layer]
		put(c[d+at:])
		le.PutUint32(c[d+60:], crc(c[d:d+60]))
		return resum(c)
	}
	for _, c := range []struct {
		name, field, msg string
		b                []byte
	}{
		{"input forward", "layer 3 (b1c1).input", "activation 3", edit(2, 56, func(b []byte) { le.PutUint16(b, 3) })},
		{"residual forward", "layer 5 (add1).residual", "activation 9", edit(4, 58, func(b []byte) { le.PutUint16(b, 9) })},
		{"residual on conv", "layer 3 (b1c1).residual", "no residual", edit(2, 58, func(b []byte) { le.PutUint16(b, 1) })},
		{"offset on conv", "layer 3 (b1c1).channel_offset", "no channel offset", edit(2, 22, func(b []byte) { le.PutUint16(b, 1) })},
		{"pool activation", "layer 13 (pool).descriptor", "byte 2", edit(12, 2, func(b []byte) { b[0] = 1 })},
		{"add encoding", "layer 5 (add1).descriptor", "byte 1", edit(4, 1, func(b []byte) { b[0] = 1 })},
		{"add activation", "layer 5 (add1).activation", "unknown activation 2", edit(4, 2, func(b []byte) { b[0] = 2 })},
		{"add shapes", "model", "adds a residual [8 8 3]", edit(11, 58, func(b []byte) { le.PutUint16(b, 0) })},
	} {
		_, err := Decode(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want field %q mentioning %q", c.name, err, c.field, c.msg)
		}
	}
	// A valid rewrite: the downsampling conv reading the model's input
	// instead is refused by the shapes, not by the decoder's field checks.
	if _, err := Decode(edit(10, 56, func(b []byte) { le.PutUint16(b, 0) })); err == nil || !strings.Contains(err.Error(), "window over 3 channels") {
		t.Errorf("downsample reading the input: %v", err)
	}
}

// TestNilModel: the entry points that take a model return an error for
// nil, as they do for an empty one.
func TestNilModel(t *testing.T) {
	if err := (*Model)(nil).Validate(); err == nil || err.Error() != "bnn: no model (nil)" {
		t.Errorf("Validate(nil) = %v", err)
	}
	if _, err := Encode(nil); err == nil || err.Error() != "bnn: no model (nil)" {
		t.Errorf("Encode(nil) = %v", err)
	}
}
