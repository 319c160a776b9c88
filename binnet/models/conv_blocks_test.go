package models

import (
	"fmt"
	"testing"
)

// TestResidualBlocks checks the block plans of resnet20 and resnet21
// against hand-written tables: stage, block, channels, stride and whether
// the shortcut is the identity.
func TestResidualBlocks(t *testing.T) {
	for _, c := range []struct {
		preset, want, lastScope string
	}{
		{"resnet20", "1.0 16>16 s1 id|1.1 16>16 s1 id|1.2 16>16 s1 id|2.0 16>32 s2 proj|2.1 32>32 s1 id|2.2 32>32 s1 id|" +
			"3.0 32>64 s2 proj|3.1 64>64 s1 id|3.2 64>64 s1 id", "layer3_block2"},
		{"resnet21", "1.0 64>64 s1 id|1.1 64>64 s1 id|2.0 64>128 s2 proj|2.1 128>128 s1 id|3.0 128>256 s2 proj|" +
			"3.1 256>256 s1 id|4.0 256>512 s2 proj|4.1 512>512 s1 id", "layer4_block1"},
	} {
		p, err := Lookup(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		var blocks []ResidualBlock
		switch n := p.Network.(type) {
		case ResNetCIFAR:
			blocks = n.ResidualBlocks()
		case ResNet18:
			blocks = n.ResidualBlocks()
		default:
			t.Fatalf("%s is a %T", c.preset, n)
		}
		got := ""
		for i, b := range blocks {
			kind := "proj"
			if b.Identity() {
				kind = "id"
			}
			if i > 0 {
				got += "|"
			}
			got += fmt.Sprintf("%d.%d %d>%d s%d %s", b.Stage, b.Block, b.In, b.Planes, b.Stride, kind)
		}
		if got != c.want {
			t.Errorf("%s blocks:\n got %s\nwant %s", c.preset, got, c.want)
		}
		if s := blocks[len(blocks)-1].Scope(); s != c.lastScope {
			t.Errorf("%s: last block's scope %q, want %q", c.preset, s, c.lastScope)
		}
	}
}
