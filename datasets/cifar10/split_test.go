package cifar10_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
)

// imageIDs returns, for each example of part, the index in whole of the
// example with the same image (all images of whole must differ).
func imageIDs(t *testing.T, whole, part *cifar10.Set) []int {
	t.Helper()
	byImage := map[string]int{}
	for i := range whole.Len() {
		byImage[string(whole.Image(i))] = i
	}
	if len(byImage) != whole.Len() {
		t.Fatalf("the test set has repeated images")
	}
	ids := make([]int, part.Len())
	for k := range part.Len() {
		i, ok := byImage[string(part.Image(k))]
		if !ok || part.Labels[k] != whole.Labels[i] {
			t.Fatalf("example %d of %s is not in %s", k, part.Name, whole.Name)
		}
		ids[k] = i
	}
	return ids
}

// distinctSet returns n CIFAR-shaped images that all differ.
func distinctSet(n int) *cifar10.Set {
	s := &cifar10.Set{Name: "distinct", Images: make([]uint8, n*3072), Labels: make([]uint8, n)}
	for i := range n {
		s.Images[i*3072], s.Images[i*3072+1] = uint8(i), uint8(i>>8)
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

func TestSplitSeeded(t *testing.T) {
	s := distinctSet(500)
	tr, val, err := cifar10.SplitSeeded(s, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 450 || val.Len() != 50 || tr.Name != "distinct[seed 1: train 450]" || val.Name != "distinct[seed 1: val 50]" {
		t.Fatalf("got %s (%d), %s (%d)", tr.Name, tr.Len(), val.Name, val.Len())
	}
	trIDs, valIDs := imageIDs(t, s, tr), imageIDs(t, s, val)
	if !slices.IsSorted(trIDs) || !slices.IsSorted(valIDs) {
		t.Errorf("parts are not in the original order")
	}
	all := slices.Sorted(slices.Values(append(slices.Clone(trIDs), valIDs...)))
	if !slices.Equal(all, seq(0, 500)) {
		t.Errorf("the parts are not a partition of the set")
	}
	if slices.Equal(valIDs, seq(450, 500)) || slices.Equal(valIDs, seq(0, 50)) {
		t.Errorf("validation set is not random: %v", valIDs)
	}

	// Deterministic, and the seed matters.
	tr2, val2, err := cifar10.SplitSeeded(s, 50, 1)
	if err != nil || !sameSet(tr, tr2) || !sameSet(val, val2) {
		t.Errorf("same seed, different split (%v)", err)
	}
	_, val3, err := cifar10.SplitSeeded(s, 50, 2)
	if err != nil || sameSet(val, val3) {
		t.Errorf("seeds 1 and 2 give the same split (%v)", err)
	}
	// The parts are copies.
	tr.Images[0]++
	if tr.Images[0] == s.Image(trIDs[0])[0] {
		t.Errorf("split shares memory with the set")
	}

	for _, v := range []int{0, -1, 500, 501} {
		if _, _, err := cifar10.SplitSeeded(s, v, 1); err == nil || !strings.Contains(err.Error(), "cannot hold out") {
			t.Errorf("SplitSeeded(%d): %v", v, err)
		}
	}
}

func TestReadSplit(t *testing.T) {
	tr, val, err := cifar10.ReadSplit(strings.NewReader(`{"train": [4, 0, 2], "validation": [3, 1]}`), "five.json", 5)
	if err != nil || !slices.Equal(tr, []int{4, 0, 2}) || !slices.Equal(val, []int{3, 1}) {
		t.Errorf("got %v, %v, %v", tr, val, err)
	}
	tr, val, err = cifar10.ReadSplit(strings.NewReader(`{"val": [0], "train": [1], "note": "x"}`), "val.json", 2)
	if err != nil || !slices.Equal(tr, []int{1}) || !slices.Equal(val, []int{0}) {
		t.Errorf(`with "val": %v, %v, %v`, tr, val, err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"train": [4, 0, 2], "validation": [3, 5]}`, `"validation"[1] = 5 is out of range 0..4`},
		{`{"train": [4, -1, 2], "validation": [3, 1]}`, `"train"[1] = -1 is out of range 0..4`},
		{`{"train": [4, 0, 2, 0], "validation": [3, 1]}`, `"train"[3] = 0 repeats "train"[1]`},
		{`{"train": [4, 0, 2], "validation": [3, 1, 3]}`, `"validation"[2] = 3 repeats "validation"[0]`},
		{`{"train": [4, 0, 2, 1], "validation": [3, 1]}`, `"validation"[1] = 1 is also "train"[3]: the lists overlap`},
		{`{"train": [4, 0], "validation": [3, 1]}`, `"train" and "validation" hold 2 + 2 = 4 indices, want all 5 (index 2 is in neither)`},
		{`{"train": [4, 0, 2]}`, `has no "validation" list`},
		{`{"validation": [4, 0, 2]}`, `has no "train" list`},
		{`{"train": [4, 0, 2], "validation": [3, 1], "val": [3, 1]}`, `has both "validation" and "val"`},
		{`{"train": [4, 0.5, 2], "validation": [3, 1]}`, `"train" is not a list of integers`},
		{`{"train": null, "validation": [3, 1]}`, `"train" is not a list of integers`},
		{`{"train": "0-4", "validation": [3, 1]}`, `"train" is not a list of integers`},
		{`[1, 2]`, `not a JSON object`},
		{`{"train": [4, 0, 2], `, `not a JSON object`},
		{``, `not a JSON object`},
	} {
		_, _, err := cifar10.ReadSplit(strings.NewReader(tc.json), "split.json", 5)
		checkFileError(t, err, datasets.ErrCorrupt, "split.json", tc.want)
	}
}

func TestReadSplitFile(t *testing.T) {
	s := distinctSet(20)
	dir := t.TempDir()
	p := filepath.Join(dir, "split.json")
	trIdx, valIdx := []int{19, 3, 5, 0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14}, []int{18, 15, 17, 16}
	data, err := json.Marshal(map[string][]int{"train": trIdx, "validation": valIdx})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gotTr, gotVal, err := cifar10.ReadSplitFile(p, 20)
	if err != nil || !slices.Equal(gotTr, trIdx) || !slices.Equal(gotVal, valIdx) {
		t.Fatalf("ReadSplitFile: %v, %v, %v", gotTr, gotVal, err)
	}
	tr, val, err := cifar10.SplitFile(s, p)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Name != "distinct[split.json: train 16]" || val.Name != "distinct[split.json: val 4]" {
		t.Errorf("names %q, %q", tr.Name, val.Name)
	}
	if ids := imageIDs(t, s, tr); !slices.Equal(ids, trIdx) {
		t.Errorf("training part holds %v, want %v", ids, trIdx)
	}
	if ids := imageIDs(t, s, val); !slices.Equal(ids, valIdx) {
		t.Errorf("validation part holds %v, want %v", ids, valIdx)
	}
	// The file is for 20 examples, not 21.
	_, _, err = cifar10.SplitFile(distinctSet(21), p)
	checkFileError(t, err, datasets.ErrCorrupt, p, "want all 21 (index 20 is in neither)")

	missing := filepath.Join(dir, "nope.json")
	_, _, err = cifar10.ReadSplitFile(missing, 20)
	checkFileError(t, err, datasets.ErrNotFound, missing, "not found")
}

// TestOfficialSplitFile reads the index file of the official code, if
// $CIFAR10_SPLIT_FILE names it (cifar10_split0613.json of
// github.com/rakutentech/iterative_training): 45,000 training and 5,000
// validation indices.
func TestOfficialSplitFile(t *testing.T) {
	p := os.Getenv("CIFAR10_SPLIT_FILE")
	if p == "" {
		t.Skip("$CIFAR10_SPLIT_FILE not set")
	}
	tr, val, err := cifar10.ReadSplitFile(p, 50000)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 45000 || len(val) != cifar10.ValidationSize {
		t.Errorf("%d training and %d validation indices", len(tr), len(val))
	}
	t.Logf("train starts %v, validation starts %v", tr[:5], val[:5])
}

// TestInconsistentSet: a set whose images and labels disagree is refused by
// SplitSeeded, SplitFile and Subset with NewSource's error (Validate's),
// where they panicked with a slice out of range; so is a nil set.
func TestInconsistentSet(t *testing.T) {
	bad := &cifar10.Set{Name: "bad", Images: make([]uint8, cifar10.ImageSize), Labels: []uint8{0, 1, 2}}
	const want = "cifar10: bad: 3072 image bytes for 3 labels, want 9216"
	if err := bad.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %q", err, want)
	}
	if _, err := cifar10.NewSource(bad, cifar10.SourceOptions{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewSource = %v, want it to say %q", err, want)
	}
	if tr, val, err := cifar10.SplitSeeded(bad, 1, 1); err == nil || err.Error() != want {
		t.Errorf("SplitSeeded = %v, %v, %v; want %q", tr, val, err, want)
	}
	if s, err := bad.Subset([]int{2}); err == nil || err.Error() != want {
		t.Errorf("Subset = %v, %v; want %q", s, err, want)
	}
	split := filepath.Join(t.TempDir(), "split.json")
	if err := os.WriteFile(split, []byte(`{"train": [0, 1], "val": [2]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if tr, val, err := cifar10.SplitFile(bad, split); err == nil || err.Error() != want {
		t.Errorf("SplitFile = %v, %v, %v; want %q", tr, val, err, want)
	}
	var none *cifar10.Set
	if _, _, err := cifar10.SplitSeeded(none, 1, 1); err == nil || err.Error() != "cifar10: no set (nil)" {
		t.Errorf("SplitSeeded(nil) = %v", err)
	}
	if _, err := none.Subset([]int{0}); err == nil || err.Error() != "cifar10: no set (nil)" {
		t.Errorf("Subset on nil = %v", err)
	}
}
