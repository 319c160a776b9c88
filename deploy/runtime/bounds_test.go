package runtime

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/binnet/binnet/deploy/bnn"
)

// TestLoadRefusesHugeWindow loads the audit's crafted file (a max pooling
// with a 65535x65535 window over a 1x1 input with same padding, written by
// bnn.Encode as 1x1 and rewritten, checksums recomputed): Load must refuse
// it instead of allocating 64 GiB at the first Logits.
func TestLoadRefusesHugeWindow(t *testing.T) {
	m := &bnn.Model{Name: "p", InputShape: []int{1, 1, 1}, InputMean: []float32{0}, InputStd: []float32{1},
		Layers: []bnn.Layer{
			{Name: "pool", Kind: bnn.MaxPool2D, KernelH: 1, KernelW: 1, Stride: 1, Padding: bnn.PadSame},
			{Name: "flat", Kind: bnn.Flatten}}}
	b, err := bnn.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	crc := func(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
	d := 64 + 8 + 8 // header, name, normalization
	le.PutUint16(b[d+16:], 0xffff)
	le.PutUint16(b[d+18:], 0xffff)
	le.PutUint32(b[d+60:], crc(b[d:d+60]))
	end := len(b) - sha256.Size
	sum := sha256.Sum256(b[:end])
	copy(b[end:], sum[:])
	path := filepath.Join(t.TempDir(), "bigpool.bnn")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Load(path)
	want := path + ": bnn: model at offset 64: layer 1 (pool, maxpool2d): window 65535x65535 larger than its 1x1 input (padded 65535x65535): " +
		"want a window no larger than the padded input, and at most the input's height and width of padding on each side"
	if err == nil || err.Error() != want {
		t.Fatalf("Load: got %v (network %v)\nwant %s", err, n != nil, want)
	}
	// The same model handed to New directly.
	m.Layers[0].KernelH, m.Layers[0].KernelW = 0xffff, 0xffff
	if _, err := New(m); err == nil || !bytes.Contains([]byte(err.Error()), []byte("window 65535x65535 larger than its 1x1 input")) {
		t.Fatalf("New: %v", err)
	}
}
