package bnn

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strings"

	"github.com/binnet/binnet/internal/atomicfile"
)

// File layout, version 3. All integers and floats are little endian; every
// section starts at a multiple of 8 bytes.
//
//	header (64 bytes)
//	   0  [8]byte  magic "BNNMODEL"
//	   8  uint32   version (3)
//	  12  uint32   header size (64)
//	  16  uint64   file size in bytes, the SHA-256 trailer included
//	  24  uint32   number of layers L (1..65535)
//	  28  uint32   input rank R (1..4)
//	  32  [4]uint32 input dimensions (unused ones 0)
//	  48  uint32   normalization channels C: 1, or the last input dimension
//	  52  uint32   CRC-32C of the normalization section
//	  56  uint32   name length N (0..4096)
//	  60  uint32   CRC-32C (Castagnoli) of bytes 0..59
//	name: N bytes of UTF-8, zero-padded to a multiple of 8
//	normalization: C float32 means, then C float32 stds
//	L times:
//	  layer descriptor (64 bytes)
//	     0  uint8   kind: 1 dense, 2 conv2d, 3 maxpool2d, 4 flatten, 5 add, 6 globalavgpool
//	     1  uint8   weight encoding: 0 float32, 1 sign bits (0 without weights)
//	     2  uint8   activation: 0 none, 1 ReLU (dense, conv2d: after scale/offset; add: after the sum; else 0)
//	     3  uint8   padding of conv2d and maxpool2d: 0 valid, 1 same (0 for the others)
//	     4  uint32  inputs I (fan-in of one output; conv: kh*kw*in channels; 0 without weights)
//	     8  uint32  outputs O (units or channels; 0 without weights)
//	    12  uint32  words per row W = ceil(I/64) for sign bits, 0 for float32
//	    16  uint16  kernel height (conv2d, maxpool2d; else 0)
//	    18  uint16  kernel width (conv2d, maxpool2d; else 0)
//	    20  uint16  stride (conv2d, maxpool2d; add: subsampling of the residual, >= 1; else 0)
//	    22  uint16  channel offset of the residual (add; else 0)
//	    24  uint64  weights length in bytes (sign bits: 8*W*O; float32: 4*I*O)
//	    32  uint32  CRC-32C of the weights (unpadded)
//	    36  uint32  CRC-32C of the scale and offset arrays
//	    40  [16]byte name, zero-padded
//	    56  uint16  input: the activation the layer reads, 0 for the model's
//	                input, k for the output of layer k (1-based), below the
//	                layer's own number; k-1 for layer k reading its predecessor
//	    58  uint16  residual: the activation an add layer adds (same numbering; 0 for the other kinds)
//	    60  uint32  CRC-32C of descriptor bytes 0..59
//	  weights, zero-padded to a multiple of 8:
//	    sign bits: O rows of W uint64; bit i%64 of word i/64 of row o is 1 when
//	               the weight from input i to output o is +1 (latent w >= 0),
//	               0 when it is -1; bits past I are 0
//	    float32:   O rows of I float32 (row o: the weights of output o)
//	  scale:  O float32
//	  offset: O float32
//	trailer: SHA-256 of all preceding bytes (32 bytes)
//
// Output o of a dense or conv2d layer is act(scale[o] * sum_i w[o][i]*x[i] +
// offset[o]); an add layer is described at Layer. Version 2 has the same
// layout with bytes 22..23 and 56..59 of every descriptor 0 (reserved): each
// layer reads its predecessor's output; its kinds are 1 to 4. Version 1
// differs from version 2 in the header (48: float32 input mean, 52: float32
// input std, no normalization section) and has dense and conv2d layers only.
const (
	headerSize     = 64
	descriptorSize = 64
	trailerSize    = sha256.Size
	nameField      = 16
	maxNameLen     = 4096
	maxLayers      = 65535
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func pad8(n int) int { return (n + 7) &^ 7 }

// Encode returns the bytes of m in the .bnn format.
func Encode(m *Model) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(m.Layers) > maxLayers {
		return nil, fmt.Errorf("bnn: %d layers, at most %d", len(m.Layers), maxLayers)
	}
	if len(m.Name) > maxNameLen {
		return nil, fmt.Errorf("bnn: name of %d bytes, at most %d", len(m.Name), maxNameLen)
	}
	le := binary.LittleEndian
	var buf bytes.Buffer
	hdr := make([]byte, headerSize)
	copy(hdr, Magic)
	le.PutUint32(hdr[8:], Version)
	le.PutUint32(hdr[12:], headerSize)
	// file size at 16 is filled in at the end
	le.PutUint32(hdr[24:], uint32(len(m.Layers)))
	le.PutUint32(hdr[28:], uint32(len(m.InputShape)))
	for i, d := range m.InputShape {
		le.PutUint32(hdr[32+4*i:], uint32(d))
	}
	norm := append(floatBytes(m.InputMean), floatBytes(m.InputStd)...)
	le.PutUint32(hdr[48:], uint32(len(m.InputMean)))
	le.PutUint32(hdr[52:], crc(norm))
	le.PutUint32(hdr[56:], uint32(len(m.Name)))
	buf.Write(hdr)
	buf.WriteString(m.Name)
	buf.Write(make([]byte, pad8(len(m.Name))-len(m.Name)))
	buf.Write(norm)

	for i := range m.Layers {
		l := &m.Layers[i]
		var weights []byte
		if l.Encoding == SignBits {
			weights = make([]byte, 8*len(l.Bits))
			for j, w := range l.Bits {
				le.PutUint64(weights[8*j:], w)
			}
		} else {
			weights = floatBytes(l.Weights)
		}
		params := append(floatBytes(l.Scale), floatBytes(l.Offset)...)
		d := make([]byte, descriptorSize)
		d[0], d[1], d[2], d[3] = byte(l.Kind), byte(l.Encoding), byte(l.Activation), l.Padding
		le.PutUint32(d[4:], uint32(l.Inputs))
		le.PutUint32(d[8:], uint32(l.Outputs))
		if l.Encoding == SignBits {
			le.PutUint32(d[12:], uint32(l.WordsPerRow()))
		}
		le.PutUint16(d[16:], uint16(l.KernelH))
		le.PutUint16(d[18:], uint16(l.KernelW))
		le.PutUint16(d[20:], uint16(l.Stride))
		le.PutUint16(d[22:], uint16(l.ChannelOffset))
		le.PutUint16(d[56:], uint16(ActivationOf(i, l.From)))
		if l.Kind == Add {
			le.PutUint16(d[58:], uint16(ActivationOf(i, l.Residual)))
		}
		le.PutUint64(d[24:], uint64(len(weights)))
		le.PutUint32(d[32:], crc(weights))
		le.PutUint32(d[36:], crc(params))
		copy(d[40:40+nameField], l.Name)
		le.PutUint32(d[60:], crc(d[:60]))
		buf.Write(d)
		buf.Write(weights)
		buf.Write(make([]byte, pad8(len(weights))-len(weights)))
		buf.Write(params)
	}
	out := buf.Bytes()
	le.PutUint64(out[16:], uint64(len(out)+trailerSize))
	le.PutUint32(out[60:], crc(out[:60]))
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// Write writes m to w in the .bnn format.
func Write(w io.Writer, m *Model) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteFile writes m to path atomically: a temporary file in the same
// folder, synced and renamed into place, so that path holds either its old
// content or the whole new model, and a failed write (a full disk) leaves
// no partial file behind.
func WriteFile(path string, m *Model) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// ReadFile reads and verifies a .bnn file. Errors about its content wrap
// ErrCorrupt, are *FormatError values and start with the path. A file that
// is not a regular file (a device, a pipe) is read as Read reads: no more
// than the size its header records, so that /dev/zero is refused after its
// first bytes.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b []byte
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		b, err = io.ReadAll(f)
	} else {
		b, err = readModelBytes(f)
	}
	if err == nil {
		var m *Model
		if m, err = Decode(b); err == nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", path, err)
}

// Read reads and verifies a model from r. It reads the first 24 bytes
// (magic, version, header size, file size) and, if the magic is right, no
// more than the file size they record and one byte (to notice trailing
// data); otherwise it refuses what it read. Memory grows only with the
// bytes that arrive: an endless stream that is not a .bnn file is refused
// after its first bytes.
func Read(r io.Reader) (*Model, error) {
	b, err := readModelBytes(r)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// readModelBytes reads a model's bytes for Read; more bytes than the
// header's file size (with a valid header CRC) are a *FormatError.
func readModelBytes(r io.Reader) ([]byte, error) {
	head := make([]byte, 24)
	n, err := io.ReadFull(r, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF || (err == nil && string(head[:len(Magic)]) != Magic) {
		return head[:n], nil // Decode says what is wrong
	} else if err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint64(head[16:])
	limit := int64(1) // one byte past the recorded size
	if size > 24 {
		limit += int64(min(size-24, math.MaxInt64-1))
	}
	rest, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, err
	}
	b := append(head, rest...)
	if uint64(len(b)) > size && len(b) >= headerSize && binary.LittleEndian.Uint32(b[60:]) == crc(b[:60]) {
		return nil, bad(16, "header.file_size", "header says %d bytes, more follow: it has trailing bytes", size)
	}
	return b, nil
}

type decoder struct {
	b       []byte
	version uint32
}

func (d *decoder) u16(off int) uint16 { return binary.LittleEndian.Uint16(d.b[off:]) }
func (d *decoder) u32(off int) uint32 { return binary.LittleEndian.Uint32(d.b[off:]) }
func (d *decoder) u64(off int) uint64 { return binary.LittleEndian.Uint64(d.b[off:]) }

func bad(off int, field, format string, args ...any) error {
	return &FormatError{Offset: int64(off), Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode verifies b and returns the model it holds. It checks, in order: the
// magic, the version, the header's CRC and fields, the file size (truncation),
// each layer descriptor (CRC, kinds, sizes), each layer's data (CRC, padding),
// and finally the SHA-256 of the whole file; the first failure is returned
// as a *FormatError naming the offset and the field.
func Decode(b []byte) (*Model, error) {
	d := &decoder{b: b}
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		n := min(len(b), len(Magic))
		return nil, bad(0, "header.magic", "got %q, want %q: not a .bnn file", b[:n], Magic)
	}
	if len(b) < 12 {
		return nil, bad(len(b), "header.version", "file ends after %d bytes", len(b))
	}
	d.version = d.u32(8)
	if d.version < MinVersion || d.version > Version {
		return nil, bad(8, "header.version", "version %d; this reader reads versions %d to %d", d.version, MinVersion, Version)
	}
	if len(b) < headerSize+trailerSize {
		return nil, bad(len(b), "header", "file is %d bytes, shorter than a header and a checksum (%d)", len(b), headerSize+trailerSize)
	}
	if got, want := d.u32(60), crc(b[:60]); got != want {
		return nil, bad(60, "header.crc", "CRC-32C %08x, computed %08x: the header (bytes 0..59) is damaged", got, want)
	}
	if hs := d.u32(12); hs != headerSize {
		return nil, bad(12, "header.header_size", "%d, want %d", hs, headerSize)
	}
	if fs := d.u64(16); fs != uint64(len(b)) {
		what := "truncated"
		if fs < uint64(len(b)) {
			what = "has trailing bytes"
		}
		return nil, bad(16, "header.file_size", "header says %d bytes, the file has %d: it is %s", fs, len(b), what)
	}
	m := &Model{}
	nl := int(d.u32(24))
	if nl < 1 || nl > maxLayers {
		return nil, bad(24, "header.layers", "%d layers: want 1 to %d", nl, maxLayers)
	}
	rank := int(d.u32(28))
	if rank < 1 || rank > 4 {
		return nil, bad(28, "header.input_rank", "%d: want 1 to 4", rank)
	}
	for i := 0; i < 4; i++ {
		v := int(d.u32(32 + 4*i))
		if i < rank {
			if v < 1 || v > maxDim {
				return nil, bad(32+4*i, fmt.Sprintf("header.input_dims[%d]", i), "%d: want 1 to %d", v, maxDim)
			}
			m.InputShape = append(m.InputShape, v)
		} else if v != 0 {
			return nil, bad(32+4*i, fmt.Sprintf("header.input_dims[%d]", i), "%d past the rank %d: want 0", v, rank)
		}
	}
	normChannels := 1
	if d.version == 1 {
		mean, std := math.Float32frombits(d.u32(48)), math.Float32frombits(d.u32(52))
		if !finiteNorm(mean, std) {
			return nil, bad(48, "header.input_mean/std", "mean %v, std %v: want finite values and a positive std", mean, std)
		}
		m.InputMean, m.InputStd = []float32{mean}, []float32{std}
	} else {
		normChannels = int(d.u32(48))
		if last := m.InputShape[rank-1]; normChannels != 1 && normChannels != last {
			return nil, bad(48, "header.norm_channels", "%d: want 1 or the input's channels (%d)", normChannels, last)
		}
	}
	nameLen := int(d.u32(56))
	if nameLen > maxNameLen {
		return nil, bad(56, "header.name_length", "%d: at most %d", nameLen, maxNameLen)
	}
	end := len(b) - trailerSize
	off := headerSize
	if off+pad8(nameLen) > end {
		return nil, bad(56, "header.name_length", "%d bytes of name run past the data (%d bytes)", nameLen, end)
	}
	m.Name = string(b[off : off+nameLen])
	off += pad8(nameLen)
	if d.version >= 2 {
		nb := 8 * normChannels
		if off+nb > end {
			return nil, bad(off, "normalization", "%d bytes of input means and stds run past the data (%d bytes left)", nb, end-off)
		}
		norm := b[off : off+nb]
		if got, want := d.u32(52), crc(norm); got != want {
			return nil, bad(off, "normalization", "CRC-32C %08x, computed %08x: bytes %d..%d are damaged", got, want, off, off+nb-1)
		}
		m.InputMean, m.InputStd = readFloats(norm[:nb/2]), readFloats(norm[nb/2:])
		for c := range m.InputMean {
			if !finiteNorm(m.InputMean[c], m.InputStd[c]) {
				return nil, bad(off+4*c, "normalization", "channel %d: mean %v, std %v: want finite values and a positive std", c, m.InputMean[c], m.InputStd[c])
			}
		}
		off += nb
	}

	for li := 0; li < nl; li++ {
		l, next, err := d.layer(li, off, end)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, l)
		off = next
	}
	if off != end {
		return nil, bad(off, "data", "%d unexpected bytes after the last layer", end-off)
	}
	sum := sha256.Sum256(b[:end])
	if !bytes.Equal(sum[:], b[end:]) {
		return nil, bad(end, "trailer.sha256", "SHA-256 of bytes 0..%d does not match: the file is damaged", end-1)
	}
	if err := m.Validate(); err != nil {
		return nil, &FormatError{Offset: headerSize, Field: "model", Msg: strings.TrimPrefix(err.Error(), "bnn: ")}
	}
	return m, nil
}

// layer decodes the descriptor at off and its data, and returns the offset
// after them.
func (d *decoder) layer(li, off, end int) (Layer, int, error) {
	le := binary.LittleEndian
	field := func(name string) string { return fmt.Sprintf("layer %d.%s", li+1, name) }
	if off+descriptorSize > end {
		return Layer{}, 0, bad(off, field("descriptor"), "needs %d bytes, only %d left before the checksum", descriptorSize, end-off)
	}
	desc := d.b[off : off+descriptorSize]
	if got, want := le.Uint32(desc[60:]), crc(desc[:60]); got != want {
		return Layer{}, 0, bad(off+60, field("descriptor_crc"), "CRC-32C %08x, computed %08x: descriptor bytes %d..%d are damaged", got, want, off, off+59)
	}
	name := strings.TrimRight(string(desc[40:40+nameField]), "\x00")
	field = func(n string) string { return fmt.Sprintf("layer %d (%s).%s", li+1, name, n) }
	l := Layer{Name: name, Kind: Kind(desc[0]), Encoding: Encoding(desc[1]), Activation: Activation(desc[2]), Padding: desc[3],
		Inputs: int(le.Uint32(desc[4:])), Outputs: int(le.Uint32(desc[8:])),
		KernelH: int(le.Uint16(desc[16:])), KernelW: int(le.Uint16(desc[18:])), Stride: int(le.Uint16(desc[20:]))}
	maxKind := map[uint32]Kind{1: Conv2D, 2: Flatten, 3: GlobalAvgPool}[d.version]
	if l.Kind == 0 || l.Kind > maxKind {
		return l, 0, bad(off, field("kind"), "unknown kind %d in a version %d file", desc[0], d.version)
	}
	if d.version >= 3 {
		// The activations read: explicit numbers, stored as From and
		// Residual in their canonical form (Previous, ModelInput, k).
		ref := func(at int, name string) (int, error) {
			a := int(le.Uint16(desc[at:]))
			if a > li {
				return 0, bad(off+at, field(name), "activation %d: want 0 (the model's input) to %d (the previous layer's output)", a, li)
			}
			switch {
			case a == li:
				return Previous, nil
			case a == 0:
				return ModelInput, nil
			}
			return a, nil
		}
		var err error
		if l.From, err = ref(56, "input"); err != nil {
			return l, 0, err
		}
		if l.Kind == Add {
			if l.Residual, err = ref(58, "residual"); err != nil {
				return l, 0, err
			}
			l.ChannelOffset = int(le.Uint16(desc[22:]))
		} else if r := le.Uint16(desc[58:]); r != 0 {
			return l, 0, bad(off+58, field("residual"), "%d: a %s layer has no residual", r, l.Kind)
		}
	}
	if !l.Kind.HasWeights() {
		// No data: every field but the kind, the window (an add's stride and
		// channel offset, and activation), the references and the name is 0.
		for i, v := range desc[:60] {
			allowed := i == 0 || i == 3 || (i >= 16 && i < 22) || (i >= 40 && i < 56) ||
				(d.version >= 3 && i >= 56) || (l.Kind == Add && (i == 2 || i == 22 || i == 23))
			if v != 0 && !allowed {
				return l, 0, bad(off+i, field("descriptor"), "byte %d is %d, want 0 in the descriptor of a %s layer (no weights, scale or offset)", i, v, l.Kind)
			}
		}
		if l.Kind == Add && l.Activation > ReLU {
			return l, 0, bad(off+2, field("activation"), "unknown activation %d", desc[2])
		}
		return l, off + descriptorSize, nil
	}
	if d.version >= 3 && le.Uint16(desc[22:]) != 0 {
		return l, 0, bad(off+22, field("channel_offset"), "%d: a %s layer has no channel offset", le.Uint16(desc[22:]), l.Kind)
	}
	switch {
	case l.Encoding >= numEncode:
		return l, 0, bad(off+1, field("encoding"), "unknown weight encoding %d", desc[1])
	case l.Activation > ReLU:
		return l, 0, bad(off+2, field("activation"), "unknown activation %d", desc[2])
	case l.Inputs < 1 || l.Inputs > maxDim:
		return l, 0, bad(off+4, field("inputs"), "%d: want 1 to %d", l.Inputs, maxDim)
	case l.Outputs < 1 || l.Outputs > maxDim:
		return l, 0, bad(off+8, field("outputs"), "%d: want 1 to %d", l.Outputs, maxDim)
	}
	wantWords := 0
	if l.Encoding == SignBits {
		wantWords = l.WordsPerRow()
	}
	if w := int(le.Uint32(desc[12:])); w != wantWords {
		return l, 0, bad(off+12, field("words_per_row"), "%d, want %d for %d inputs in %s", w, wantWords, l.Inputs, l.Encoding)
	}
	wlen := le.Uint64(desc[24:])
	if wlen != uint64(l.WeightBytes()) {
		return l, 0, bad(off+24, field("weights_length"), "%d bytes, want %d for %d inputs x %d outputs in %s", wlen, l.WeightBytes(), l.Inputs, l.Outputs, l.Encoding)
	}
	off += descriptorSize
	wbytes := int(wlen)
	plen := 8 * l.Outputs
	if off+pad8(wbytes)+plen > end {
		return l, 0, bad(off, field("weights"), "%d bytes of weights and %d of scale/offset run past the data (%d bytes left)", pad8(wbytes), plen, end-off)
	}
	weights := d.b[off : off+wbytes]
	if got, want := le.Uint32(desc[32:]), crc(weights); got != want {
		return l, 0, bad(off, field("weights"), "CRC-32C %08x, computed %08x: weight bytes %d..%d are damaged", got, want, off, off+wbytes-1)
	}
	for i := off + wbytes; i < off+pad8(wbytes); i++ {
		if d.b[i] != 0 {
			return l, 0, bad(i, field("weights_padding"), "padding byte is %d, want 0", d.b[i])
		}
	}
	if l.Encoding == SignBits {
		l.Bits = make([]uint64, wbytes/8)
		for j := range l.Bits {
			l.Bits[j] = le.Uint64(weights[8*j:])
		}
		if pad := l.Inputs % 64; pad != 0 {
			w := l.WordsPerRow()
			for o := 0; o < l.Outputs; o++ {
				if l.Bits[o*w+w-1]>>uint(pad) != 0 {
					return l, 0, bad(off+8*(o*w+w-1), field("weights"), "row %d has sign bits set past input %d", o, l.Inputs)
				}
			}
		}
	} else {
		l.Weights = readFloats(weights)
	}
	off += pad8(wbytes)
	params := d.b[off : off+plen]
	if got, want := le.Uint32(desc[36:]), crc(params); got != want {
		return l, 0, bad(off, field("scale_offset"), "CRC-32C %08x, computed %08x: scale/offset bytes %d..%d are damaged", got, want, off, off+plen-1)
	}
	l.Scale = readFloats(params[:plen/2])
	l.Offset = readFloats(params[plen/2:])
	return l, off + plen, nil
}

func finiteNorm(mean, std float32) bool {
	m, s := float64(mean), float64(std)
	return s > 0 && !math.IsInf(s, 0) && !math.IsNaN(m) && !math.IsInf(m, 0)
}

func readFloats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
