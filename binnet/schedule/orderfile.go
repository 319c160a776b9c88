package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// maxOrderFile bounds what ReadOrderFile reads: an order of a million
// layers is far less.
const maxOrderFile = 1 << 20

// IsOrderFile reports whether an order name names a JSON file (it ends in
// ".json"), which ParseOrder reads with ReadOrderFile.
func IsOrderFile(name string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(name)), ".json")
}

// OfficialLayers is how the paper's official code
// (github.com/rakutentech/iterative_training) names the binarizable layers
// of one network in its layer files (models/NAME_layers_ORDER.json): by
// their positions in PyTorch's Module.modules() list of its model.
type OfficialLayers struct {
	// Network names the network in messages, e.g. "mlp-300-100".
	Network string
	// Indices are the module indices of the network's binarizable layers,
	// ascending: Indices[i] is binnet's layer i+1 (both follow the
	// network's definition). Every layer file of the official code for the
	// network lists exactly these, in some order: mlp3_layers_132.json
	// holds [2, 9, 5] of the MLPs' {2, 5, 9}.
	Indices []int
}

// OrderFile is an order read from a file by ReadOrderFile.
type OrderFile struct {
	// Order is the 0-based order, ready for Config.Order.
	Order []int
	// Entries is the file's array as written.
	Entries []int
	// Official says that Entries are the official code's module indices
	// (OfficialLayers.Indices), ranked into Order, rather than binnet's
	// layer numbers.
	Official bool
}

// ReadOrderFile reads the order of a network of n binarizable layers from a
// JSON file holding one array of integers. The array is either
//
//   - a permutation of 1..n: binnet's 1-based layer numbers, as in
//     -order 1,3,2 (binnet summary numbers the layers); or
//   - when official is not nil, a permutation of official.Indices: a layer
//     file of the paper's official code for this network (e.g. its
//     mlp3_layers_132.json holds [2, 9, 5]), whose entries are the layers'
//     positions in PyTorch's Module.modules() list. That list follows the
//     network's definition, the order in which binnet numbers layers, so
//     the entries ranked give the layers: the smallest is layer 1, the
//     largest layer n. OrderFile.Official is then set.
//
// No other array is guessed at: one that is neither, such as [1, 2, 4] or
// [0, 1, 2] for three layers (a typo, or numbers counted from 0), is an
// error naming the file and both readings. So are an array of another
// length, a repeated entry, a negative one, and anything but an array of
// integers.
func ReadOrderFile(path string, n int, official *OfficialLayers) (OrderFile, error) {
	if err := checkNumLayers(n); err != nil {
		return OrderFile{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return OrderFile{}, fmt.Errorf("schedule: order file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOrderFile+1))
	if err != nil {
		return OrderFile{}, fmt.Errorf("schedule: order file %s: %w", path, err)
	}
	if len(b) > maxOrderFile {
		return OrderFile{}, fmt.Errorf("schedule: order file %s: larger than %d bytes, not an order", path, maxOrderFile)
	}
	return parseOrderJSON(path, b, n, official)
}

// parseOrderJSON is ReadOrderFile on the file's bytes.
func parseOrderJSON(path string, b []byte, n int, official *OfficialLayers) (OrderFile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var entries []int
	if err := dec.Decode(&entries); err != nil {
		return OrderFile{}, fmt.Errorf("schedule: order file %s: want a JSON array of layer numbers such as [1, 3, 2]: %v", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return OrderFile{}, fmt.Errorf("schedule: order file %s: want one JSON array of layer numbers, found more after it", path)
	}
	if len(entries) != n {
		return OrderFile{}, fmt.Errorf("schedule: order file %s lists %d layers, the network has %d binarizable layers", path, len(entries), n)
	}
	sorted := slices.Sorted(slices.Values(entries))
	for i, e := range sorted {
		switch {
		case e < 0:
			return OrderFile{}, fmt.Errorf("schedule: order file %s: entry %d is negative", path, e)
		case i > 0 && e == sorted[i-1]:
			return OrderFile{}, fmt.Errorf("schedule: order file %s: entry %d is listed twice", path, e)
		}
	}
	// Distinct, so a permutation of 1..n exactly when they lie in 1..n.
	outside := slices.IndexFunc(entries, func(e int) bool { return e < 1 || e > n })
	isOfficial := outside >= 0 && official != nil && slices.Equal(sorted, official.Indices)
	if outside >= 0 && !isOfficial {
		numbers := fmt.Sprintf("binnet's layer numbers 1..%d (%d is out of range)", n, entries[outside])
		if official == nil || len(official.Indices) == 0 {
			return OrderFile{}, fmt.Errorf("schedule: order file %s %s: not %s", path, formatArray(entries), numbers)
		}
		return OrderFile{}, fmt.Errorf("schedule: order file %s %s: neither %s nor the official code's module indices of %s (%s)",
			path, formatArray(entries), numbers, official.Network, formatList(official.Indices))
	}
	order := make([]int, n)
	for i, e := range entries {
		// Ranked: 1..n itself when the file holds layer numbers.
		order[i], _ = slices.BinarySearch(sorted, e)
	}
	return OrderFile{Order: order, Entries: entries, Official: isOfficial}, nil
}

// formatArray writes entries as the JSON array they were read from, such as
// [2,9,5].
func formatArray(entries []int) string { return "[" + formatList(entries) + "]" }

// formatList writes numbers separated by commas, such as 2,5,9.
func formatList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
