package bnn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// bigPoolFile returns the audit's crafted file: a 1x1 input, a max pooling
// layer with same padding whose window the writer wrote as 1x1, rewritten
// to 65535x65535 (descriptor CRC, header CRC and SHA-256 recomputed), and a
// flatten. Before windows were bounded it decoded and loaded, and its first
// Logits tried to allocate 64 GiB of window taps.
func bigPoolFile(t testing.TB) []byte {
	m := &Model{Name: "p", InputShape: []int{1, 1, 1}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []Layer{
			{Name: "pool", Kind: MaxPool2D, KernelH: 1, KernelW: 1, Stride: 1, Padding: PadSame},
			{Name: "flat", Kind: Flatten}}}
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	d := headerSize + 8 + 8 // header, name "p" padded, normalization
	le := binary.LittleEndian
	le.PutUint16(b[d+16:], 0xffff)
	le.PutUint16(b[d+18:], 0xffff)
	le.PutUint32(b[d+60:], crc(b[d:d+60]))
	return resum(b)
}

func TestCraftedBigWindowRejected(t *testing.T) {
	b := bigPoolFile(t)
	if len(b) != 240 {
		t.Fatalf("crafted file of %d bytes, want the audit's 240", len(b))
	}
	_, err := Decode(b)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want a *FormatError", err)
	}
	want := "bnn: model at offset 64: layer 1 (pool, maxpool2d): window 65535x65535 larger than its 1x1 input (padded 65535x65535): " +
		"want a window no larger than the padded input, and at most the input's height and width of padding on each side"
	if err.Error() != want || fe.Field != "model" {
		t.Errorf("got  %q\nwant %q", err, want)
	}
}

// TestWindowBounds checks each bound of a window against its input, and
// the activation budget of one example, with the exact errors.
func TestWindowBounds(t *testing.T) {
	pool := func(in []int, kh, kw, stride int, pad uint8) *Model {
		return &Model{InputShape: in, InputMean: []float32{0}, InputStd: []float32{1},
			Layers: []Layer{
				{Name: "pool", Kind: MaxPool2D, KernelH: kh, KernelW: kw, Stride: stride, Padding: pad},
				{Name: "flat", Kind: Flatten}}}
	}
	for _, c := range []struct {
		name string
		m    *Model
		want string // "" for a valid model
	}{
		{"3x3 same on 1x1", pool([]int{1, 1, 2}, 3, 3, 1, PadSame), ""},
		{"global valid", pool([]int{7, 5, 2}, 7, 5, 1, PadValid), ""},
		{"huge stride", pool([]int{7, 5, 2}, 2, 2, 65535, PadValid), ""},
		{"5x5 same on 1x1", pool([]int{1, 1, 2}, 5, 5, 1, PadSame),
			"bnn: layer 1 (pool, maxpool2d): window 5x5 larger than its 1x1 input (padded 5x5): want a window no larger than the padded input, and at most the input's height and width of padding on each side"},
		{"7x1 same on 2x4", pool([]int{2, 4, 1}, 7, 1, 1, PadSame),
			"bnn: layer 1 (pool, maxpool2d): window 7x1 larger than its 2x4 input (padded 8x4): want a window no larger than the padded input, and at most the input's height and width of padding on each side"},
		{"valid too wide", pool([]int{7, 5, 2}, 2, 6, 1, PadValid),
			"bnn: layer 1 (pool, maxpool2d): window 2x6 larger than its 7x5 input (padded 7x5): want a window no larger than the padded input, and at most the input's height and width of padding on each side"},
		{"window area", pool([]int{4097, 4097, 1}, 4097, 4097, 1, PadValid),
			"bnn: layer 1 (pool, maxpool2d): window 4097x4097 covers 16785409 positions of its 4097x4097 input, more than 16777216"},
		{"operations budget", pool([]int{8192, 8192, 1}, 4096, 4096, 1, PadValid),
			"bnn: layer 1 (pool, maxpool2d): brings the operations of one example to 281612432441344, more than 274877906944"},
		{"activation budget", pool([]int{16384, 16384, 1}, 1, 1, 1, PadValid),
			"bnn: layer 1 (pool, maxpool2d): output [16384 16384 1] brings the activations of one example to 536870912 values, more than 268435456 (1024 MiB of float32)"},
	} {
		err := c.m.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s:\ngot  %v\nwant %s", c.name, err, c.want)
		}
	}
	// OutputShape is exported: a zero stride is an error, not a division by zero.
	l := Layer{Kind: Conv2D, KernelH: 3, KernelW: 3, Stride: 0, Inputs: 9}
	if _, err := l.OutputShape([]int{5, 5, 1}); err == nil || err.Error() != "window 3x3 with stride 0: want a window and a stride of at least 1" {
		t.Errorf("stride 0: %v", err)
	}
	// A conv with same padding: the same bound on the padding.
	m := &Model{InputShape: []int{2, 2, 1}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []Layer{
			{Name: "conv", Kind: Conv2D, Encoding: Float32, Inputs: 49, Outputs: 1, KernelH: 7, KernelW: 7, Stride: 1, Padding: PadSame,
				Weights: make([]float32, 49), Scale: []float32{1}, Offset: []float32{0}},
			{Name: "flat", Kind: Flatten}}}
	want := "bnn: layer 1 (conv, conv2d): window 7x7 larger than its 2x2 input (padded 8x8): want a window no larger than the padded input, and at most the input's height and width of padding on each side"
	if err := m.Validate(); err == nil || err.Error() != want {
		t.Errorf("conv:\ngot  %v\nwant %s", err, want)
	}
}

// TestNonFiniteRejected: NaN or infinite weights, scales and offsets are
// refused by Validate (so Encode, Decode and runtime.New), with the layer
// and the parameter named; a file written with a finite scale and then
// given a NaN one (its CRCs and SHA-256 recomputed) is refused by Decode.
func TestNonFiniteRejected(t *testing.T) {
	m := testModel(rand.New(rand.NewPCG(3, 4)))
	good, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	l1 := 64 + 16 + 8       // first descriptor (dense1: 70 inputs, 65 outputs, sign bits)
	l1p := l1 + 64 + 8*2*65 // scale, after 65 rows of 2 sign words
	b := bytes.Clone(good)
	le := binary.LittleEndian
	le.PutUint32(b[l1p+4*3:], math.Float32bits(float32(math.NaN())))
	le.PutUint32(b[l1+36:], crc(b[l1p:l1p+8*65]))
	le.PutUint32(b[l1+60:], crc(b[l1:l1+60]))
	_, err = Decode(resum(b))
	want := "bnn: model at offset 64: layer 1 (dense1): scale[3] is NaN: want finite values (a diverged or damaged checkpoint)"
	if err == nil || err.Error() != want {
		t.Errorf("NaN scale in the file:\ngot  %v\nwant %s", err, want)
	}
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"NaN weight", func(m *Model) { m.Layers[1].Weights[7] = float32(math.NaN()) },
			"bnn: layer 2 (dense2): weights[7] is NaN: want finite values (a diverged or damaged checkpoint)"},
		{"Inf offset", func(m *Model) { m.Layers[2].Offset[1] = float32(math.Inf(-1)) },
			"bnn: layer 3 (dense3): offset[1] is -Inf: want finite values (a diverged or damaged checkpoint)"},
		{"Inf scale", func(m *Model) { m.Layers[0].Scale[64] = float32(math.Inf(1)) },
			"bnn: layer 1 (dense1): scale[64] is +Inf: want finite values (a diverged or damaged checkpoint)"},
	} {
		m := testModel(rand.New(rand.NewPCG(3, 4)))
		c.edit(m)
		if err := m.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("%s:\ngot  %v\nwant %s", c.name, err, c.want)
		}
		if _, err := Encode(m); err == nil || err.Error() != c.want {
			t.Errorf("%s: Encode: %v", c.name, err)
		}
	}
}

// TestReadIsBounded: Read stops at the file size the header records (an
// endless stream is refused after its first bytes), and ReadFile of a
// device is refused at once.
func TestReadIsBounded(t *testing.T) {
	good, err := Encode(testModel(rand.New(rand.NewPCG(3, 4))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	_, err = Read(io.MultiReader(bytes.NewReader(good), zeros{}))
	want := fmt.Sprintf("bnn: header.file_size at offset 16: header says %d bytes, more follow: it has trailing bytes", len(good))
	if err == nil || err.Error() != want {
		t.Errorf("endless trailing data:\ngot  %v\nwant %s", err, want)
	}
	_, err = Read(zeros{})
	want = `bnn: header.magic at offset 0: got "\x00\x00\x00\x00\x00\x00\x00\x00", want "BNNMODEL": not a .bnn file`
	if err == nil || err.Error() != want {
		t.Errorf("endless zeros:\ngot  %v\nwant %s", err, want)
	}
	_, err = Read(bytes.NewReader(good[:len(good)-10]))
	want = fmt.Sprintf("bnn: header.file_size at offset 16: header says %d bytes, the file has %d: it is truncated", len(good), len(good)-10)
	if err == nil || err.Error() != want {
		t.Errorf("truncated:\ngot  %v\nwant %s", err, want)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err = ReadFile("/dev/zero")
		want = `/dev/zero: bnn: header.magic at offset 0: got "\x00\x00\x00\x00\x00\x00\x00\x00", want "BNNMODEL": not a .bnn file`
		if err == nil || err.Error() != want {
			t.Errorf("/dev/zero:\ngot  %v\nwant %s", err, want)
		}
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
