package models

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// officialLayerFiles are layer files of the official code
// (github.com/rakutentech/iterative_training, models/), copied: for each
// preset, the official model's files whose entries must be a permutation
// of the preset's OfficialLayers.
var officialLayerFiles = map[string]map[string][]int{
	"mlp-300-100": {"mlp3_layers_132.json": {2, 9, 5}, "mlp3_layers_312.json": {9, 2, 5}},
	"mlp-784-784": {"mlp3_layers_213.json": {5, 2, 9}, "mlp3_layers_reverse.json": {9, 5, 2}},
	"vgg5":        {"vgg5_layers_ascend.json": {16, 13, 2, 10, 5}, "vgg5_layers_random.json": {5, 16, 2, 10, 13}},
	"vgg9":        {"vgg9_layers_ascend.json": {27, 30, 2, 24, 19, 9, 16, 5, 12}, "vgg9_layers_descend.json": {12, 5, 16, 9, 19, 24, 2, 30, 27}},
	"resnet20": {"resnet20_layers_descend.json": {60, 51, 49, 30, 38, 5, 55, 45, 32, 43, 7, 24, 11, 36, 26, 1, 19, 13, 17, 57},
		"resnet20_layers_random.json": {11, 43, 30, 32, 38, 17, 26, 5, 45, 24, 51, 19, 55, 49, 60, 13, 1, 57, 36, 7}},
	"resnet21": {"resnet21_layers_ascend.json": {42, 32, 16, 45, 29, 10, 7, 23, 58, 20, 55, 13, 1, 52, 48, 64, 36, 39, 61, 26, 67}},
}

// TestOfficialLayers checks each preset's official module indices: one per
// binarizable layer, ascending, and the set of every official layer file
// above; cnn, which the official code lacks, has none.
func TestOfficialLayers(t *testing.T) {
	for _, name := range Names() {
		p, _ := Lookup(name)
		files, ok := officialLayerFiles[name]
		if !ok {
			if p.OfficialLayers != nil {
				t.Errorf("%s: official layers %v, but the official code has no such model", name, p.OfficialLayers)
			}
			continue
		}
		if len(p.OfficialLayers) != p.Network.NumBinarizable() || !slices.IsSorted(p.OfficialLayers) {
			t.Errorf("%s: official layers %v: want %d ascending indices", name, p.OfficialLayers, p.Network.NumBinarizable())
		}
		for file, entries := range files {
			if !slices.Equal(slices.Sorted(slices.Values(entries)), p.OfficialLayers) {
				t.Errorf("%s: %s holds %v, not a permutation of the preset's %v", name, file, entries, p.OfficialLayers)
			}
		}
	}
}

// TestOfficialLayersMirror checks every layer file of a local bare clone of
// the official repository, when BINNET_OFFICIAL_REPO names one (its git
// directory), against the presets' official module indices.
func TestOfficialLayersMirror(t *testing.T) {
	repo := os.Getenv("BINNET_OFFICIAL_REPO")
	if repo == "" {
		t.Skip("BINNET_OFFICIAL_REPO (the git directory of a clone of rakutentech/iterative_training) not set")
	}
	git := func(args ...string) []byte {
		out, err := exec.Command("git", append([]string{"--git-dir=" + repo}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return out
	}
	byPrefix := map[string][]string{"mlp3": {"mlp-300-100", "mlp-784-784"}, "vgg5": {"vgg5"}, "vgg9": {"vgg9"}, "resnet20": {"resnet20"}, "resnet21": {"resnet21"}}
	n := 0
	for _, f := range strings.Fields(string(git("ls-tree", "-r", "--name-only", "HEAD", "models"))) {
		prefix, _, ok := strings.Cut(path.Base(f), "_layers_")
		if !ok || path.Ext(f) != ".json" {
			continue
		}
		var entries []int
		if err := json.Unmarshal(git("show", "HEAD:"+f), &entries); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, name := range byPrefix[prefix] {
			p, _ := Lookup(name)
			if !slices.Equal(slices.Sorted(slices.Values(entries)), p.OfficialLayers) {
				t.Errorf("%s holds %v, not a permutation of %s's %v", f, entries, name, p.OfficialLayers)
			}
		}
		if byPrefix[prefix] == nil {
			t.Errorf("%s: no preset for the official model %s", f, prefix)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no layer files found under models/")
	}
	t.Logf("%d official layer files checked", n)
}
