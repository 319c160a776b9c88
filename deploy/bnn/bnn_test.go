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
	return &Model{Name: "test model", InputShape: []int{7, 10}, InputMean: 0.1307, InputStd: 0.3081,
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
	// Sizes: header 64, name 10 -> 16, per layer 64 + padded weights + 8*outputs, trailer 32.
	want := 64 + 16 + (64 + 8*2*65 + 8*65) + (64 + pad8(4*65*9) + 8*9) + (64 + 8*3 + 8*3) + 32
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
	l1 := 64 + 16 // first descriptor
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
		{"version", resum(damage(good, 8, 2)), "header.version", 8, "version 2"},
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
	l1 := 64 + 16
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
		{"chain", func(m *Model) { m.Layers[1].Inputs = 64; m.Layers[1].Weights = m.Layers[1].Weights[:64*9] }, "65 outputs"},
		{"bits", func(m *Model) { m.Layers[0].Bits = m.Layers[0].Bits[1:] }, "sign words"},
		{"pad bits", func(m *Model) { m.Layers[0].Bits[1] |= 1 << 63 }, "past input"},
		{"scale", func(m *Model) { m.Layers[2].Scale = nil }, "scales"},
		{"input", func(m *Model) { m.InputShape = []int{71} }, "input shape"},
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
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil {
			if _, err := Encode(m); err != nil {
				t.Fatalf("decoded a model that does not encode: %v", err)
			}
		}
	})
}
