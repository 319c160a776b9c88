package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

// ReadOrderFile reads the order of a network of n binarizable layers from a
// JSON file holding one array of integers, and returns it 0-based. The
// array is either
//
//   - a permutation of 1..n: binnet's 1-based layer numbers, as in
//     -order 1,3,2 (binnet summary numbers the layers); or
//   - n other distinct non-negative integers: a layer file of the paper's
//     official code (models/NAME_layers_ORDER.json in
//     github.com/rakutentech/iterative_training, e.g. mlp3_layers_132.json
//     holds [2, 9, 5]), whose entries are the layers' positions in PyTorch's
//     Module.modules() list. That list follows the network's definition,
//     the order in which binnet numbers layers, so the entries ranked give
//     the layers: the smallest is layer 1, the largest layer n.
//
// An array of another length, a repeated entry, a negative one or anything
// but an array of integers is an error naming the file and the problem.
func ReadOrderFile(path string, n int) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("schedule: order file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOrderFile+1))
	if err != nil {
		return nil, fmt.Errorf("schedule: order file %s: %w", path, err)
	}
	if len(b) > maxOrderFile {
		return nil, fmt.Errorf("schedule: order file %s: larger than %d bytes, not an order", path, maxOrderFile)
	}
	return parseOrderJSON(path, b, n)
}

// parseOrderJSON is ReadOrderFile on the file's bytes.
func parseOrderJSON(path string, b []byte, n int) ([]int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var entries []int
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("schedule: order file %s: want a JSON array of layer numbers such as [1, 3, 2]: %v", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("schedule: order file %s: want one JSON array of layer numbers, found more after it", path)
	}
	if len(entries) != n {
		return nil, fmt.Errorf("schedule: order file %s lists %d layers, the network has %d binarizable layers", path, len(entries), n)
	}
	sorted := slices.Sorted(slices.Values(entries))
	for i, e := range sorted {
		switch {
		case e < 0:
			return nil, fmt.Errorf("schedule: order file %s: entry %d is negative", path, e)
		case i > 0 && e == sorted[i-1]:
			return nil, fmt.Errorf("schedule: order file %s: entry %d is listed twice", path, e)
		}
	}
	order := make([]int, n)
	for i, e := range entries {
		// Ranked: 1..n itself when the file holds layer numbers.
		order[i], _ = slices.BinarySearch(sorted, e)
	}
	return order, nil
}
