package cifar10

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/binnet/binnet/datasets"
)

// ValidationSize is the number of training examples the official code of
// "Iterative Training" holds out for validation (45,000 remain for
// training).
const ValidationSize = 5000

// SplitSeeded splits train into a training set and a validation set of
// valSize examples chosen at random: the validation examples are the first
// valSize entries of the permutation
// rand.New(rand.NewPCG(seed, 0)).Perm(train.Len()) (math/rand/v2), the
// others are the training examples. Each part keeps the original order of
// its examples and holds copies of them. The sets are named after train and
// the seed, e.g. "cifar10/train[seed 1: train 45000]".
//
// The split is deterministic given the seed, but it is not the split of the
// paper: for that, pass the official index file to [SplitFile]. It fails
// unless 0 < valSize < train.Len(), and, as Set.Validate does, when train
// does not hold Len()*ImageSize image bytes.
func SplitSeeded(train *Set, valSize int, seed uint64) (tr, val *Set, err error) {
	if err := train.checkImages(); err != nil {
		return nil, nil, err
	}
	n := train.Len()
	if valSize <= 0 || valSize >= n {
		return nil, nil, fmt.Errorf("cifar10: %s: cannot hold out %d of %d examples: want 0 < valSize < %d", train.Name, valSize, n, n)
	}
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(n)
	valIdx, trIdx := perm[:valSize], perm[valSize:]
	slices.Sort(valIdx)
	slices.Sort(trIdx)
	prefix := fmt.Sprintf("%s[seed %d: ", train.Name, seed)
	if tr, err = train.subset(trIdx, fmt.Sprintf("%strain %d]", prefix, len(trIdx))); err != nil {
		return nil, nil, err
	}
	if val, err = train.subset(valIdx, fmt.Sprintf("%sval %d]", prefix, len(valIdx))); err != nil {
		return nil, nil, err
	}
	return tr, val, nil
}

// SplitFile splits train as the index file at path says (see
// [ReadSplitFile]), e.g. with cifar10_split0613.json of the official code
// the paper's 45,000 training and 5,000 validation examples. The parts keep
// the order of the file and are named after train and the file, e.g.
// "cifar10/train[cifar10_split0613.json: val 5000]".
func SplitFile(train *Set, path string) (tr, val *Set, err error) {
	if err := train.checkImages(); err != nil {
		return nil, nil, err
	}
	trIdx, valIdx, err := ReadSplitFile(path, train.Len())
	if err != nil {
		return nil, nil, err
	}
	prefix := fmt.Sprintf("%s[%s: ", train.Name, filepath.Base(path))
	if tr, err = train.subset(trIdx, fmt.Sprintf("%strain %d]", prefix, len(trIdx))); err != nil {
		return nil, nil, err
	}
	if val, err = train.subset(valIdx, fmt.Sprintf("%sval %d]", prefix, len(valIdx))); err != nil {
		return nil, nil, err
	}
	return tr, val, nil
}

// maxSplitFile bounds the size of an index file (the official one is
// 339 kB).
const maxSplitFile = 64 << 20

// ReadSplitFile reads a split of n examples from the JSON index file at path,
// in the format of cifar10_split0613.json of the official code:
//
//	{"train": [43611, 8642, ...], "validation": [...]}
//
// ("val" is accepted for "validation"). The two lists must be disjoint and
// together hold each of 0..n-1 exactly once; errors match
// [datasets.ErrCorrupt] and name the file, the field and the position in
// it. A missing file gives an error matching [datasets.ErrNotFound]. Pass
// the indices to [Set.Subset], or use [SplitFile].
func ReadSplitFile(path string, n int) (trainIdx, valIdx []int, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, &datasets.FileError{Path: path, Kind: datasets.ErrNotFound, Msg: "not found", Err: err}
		}
		return nil, nil, &datasets.FileError{Path: path, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	return ReadSplit(f, path, n)
}

// ReadSplit is [ReadSplitFile] for a JSON index file read from r; name
// names it in errors.
func ReadSplit(r io.Reader, name string, n int) (trainIdx, valIdx []int, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSplitFile+1))
	if err != nil {
		return nil, nil, &datasets.FileError{Path: name, Msg: "read error", Err: err}
	}
	if len(data) > maxSplitFile {
		return nil, nil, corrupt(name, "larger than %d bytes", maxSplitFile)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, nil, &datasets.FileError{Path: name, Kind: datasets.ErrCorrupt, Msg: "not a JSON object", Err: err}
	}
	valKey := "validation"
	if _, ok := fields["val"]; ok {
		if _, both := fields[valKey]; both {
			return nil, nil, corrupt(name, `has both "validation" and "val"; want one of them`)
		}
		valKey = "val"
	}
	lists := [2][]int{}
	for i, key := range []string{"train", valKey} {
		raw, ok := fields[key]
		if !ok {
			return nil, nil, corrupt(name, "has no %q list", key)
		}
		if err := json.Unmarshal(raw, &lists[i]); err != nil || lists[i] == nil {
			if err == nil {
				err = errors.New("null")
			}
			return nil, nil, &datasets.FileError{Path: name, Kind: datasets.ErrCorrupt,
				Msg: fmt.Sprintf("%q is not a list of integers", key), Err: err}
		}
	}
	if err := checkSplit(name, n, [2]string{"train", valKey}, lists); err != nil {
		return nil, nil, err
	}
	return lists[0], lists[1], nil
}

// checkSplit checks that the two lists of indices are a partition of
// 0..n-1.
func checkSplit(name string, n int, keys [2]string, lists [2][]int) error {
	if n < 0 {
		return fmt.Errorf("cifar10: %s: split of %d examples", name, n)
	}
	type pos struct{ list, at int }
	seen := make([]pos, n) // list+1 and position of the first occurrence; zero means unseen
	for l, list := range lists {
		for k, i := range list {
			if i < 0 || i >= n {
				return corrupt(name, "%q[%d] = %d is out of range 0..%d", keys[l], k, i, n-1)
			}
			if p := seen[i]; p.list != 0 {
				if p.list-1 == l {
					return corrupt(name, "%q[%d] = %d repeats %q[%d]", keys[l], k, i, keys[l], p.at)
				}
				return corrupt(name, "%q[%d] = %d is also %q[%d]: the lists overlap", keys[l], k, i, keys[p.list-1], p.at)
			}
			seen[i] = pos{l + 1, k}
		}
	}
	if total := len(lists[0]) + len(lists[1]); total != n {
		missing := 0
		for i, p := range seen {
			if p.list == 0 {
				missing = i
				break
			}
		}
		return corrupt(name, "%q and %q hold %d + %d = %d indices, want all %d (index %d is in neither)",
			keys[0], keys[1], len(lists[0]), len(lists[1]), total, n, missing)
	}
	return nil
}
