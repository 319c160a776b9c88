package schedule

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Forward returns the 0-based order 0, 1, ..., n-1 (input layer first). It
// returns an empty slice for n <= 0.
func Forward(n int) []int {
	order := make([]int, max(n, 0))
	for i := range order {
		order[i] = i
	}
	return order
}

// Reverse returns the 0-based order n-1, ..., 1, 0 (output layer first). It
// returns an empty slice for n <= 0.
func Reverse(n int) []int {
	order := make([]int, max(n, 0))
	for i := range order {
		order[i] = len(order) - 1 - i
	}
	return order
}

// randomStream is the second PCG seed word of Random; the first is the seed.
const randomStream = 0x62696e6e6574 // "binnet"

// Random returns a 0-based random permutation of 0..n-1, the same for the
// same n and seed. It shuffles with Fisher–Yates driven by the raw output of
// a math/rand/v2 PCG generator seeded with (uint64(seed), 0x62696e6e6574),
// with its own rejection sampling, so the result does not depend on helper
// algorithms of the standard library that may change between Go releases.
// It returns an empty slice for n <= 0.
func Random(n int, seed int64) []int {
	order := Forward(n)
	pcg := rand.NewPCG(uint64(seed), randomStream)
	for i := len(order) - 1; i > 0; i-- {
		j := int(uniform(pcg, uint64(i)+1))
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// uniform returns a uniform integer in [0, bound) for bound >= 1 by
// rejection sampling.
func uniform(src *rand.PCG, bound uint64) uint64 {
	// limit is the largest multiple of bound that fits, minus one.
	limit := ^uint64(0) - (^uint64(0)%bound+1)%bound
	for {
		v := src.Uint64()
		if v <= limit {
			return v % bound
		}
	}
}

// FormatPermutation formats a 0-based order in 1-based layer numbers
// separated by commas: []int{0, 2, 1} gives "1,3,2". It is the inverse of
// ParsePermutation.
func FormatPermutation(order []int) string {
	var b strings.Builder
	for i, l := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(l + 1))
	}
	return b.String()
}

// ParsePermutation parses a comma-separated list of 1-based layer numbers,
// such as "1,3,2", into a 0-based order ([]int{0, 2, 1}) and checks with
// ValidatePermutation that it is a permutation of the n layers. Spaces
// around the numbers are allowed.
func ParsePermutation(s string, n int) ([]int, error) {
	if err := checkNumLayers(n); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("schedule: empty layer order: want a comma-separated list of layers 1..%d such as %s",
			n, FormatPermutation(Reverse(min(n, 3))))
	}
	fields := strings.Split(s, ",")
	order := make([]int, len(fields))
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("schedule: layer order %q: position %d is empty", s, i+1)
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("schedule: layer order %q: position %d: %q is not a layer number", s, i+1, f)
		}
		// Keep out-of-range numbers out of range after the shift to 0-based
		// (and away from overflow) so ValidatePermutation reports them.
		if v < 1 || v > n {
			return nil, fmt.Errorf("schedule: layer order %q: position %d: layer %d is out of range 1..%d", s, i+1, v, n)
		}
		order[i] = v - 1
	}
	if err := ValidatePermutation(order, n); err != nil {
		return nil, err
	}
	return order, nil
}

// checkNumLayers checks a number of layers an order is built for: 1..MaxLayers,
// the bound New applies to NumLayers, so that no order allocates for an
// absurd count.
func checkNumLayers(n int) error {
	if n < 1 {
		return fmt.Errorf("schedule: number of layers must be >= 1, got %d", n)
	}
	if n > MaxLayers {
		return fmt.Errorf("schedule: number of layers %d is more than the %d layers a schedule supports", n, MaxLayers)
	}
	return nil
}

// maxListed bounds the number of missing layers an error message lists.
const maxListed = 10

// ValidatePermutation checks that the 0-based order holds each layer
// 0..n-1 exactly once. Its error names, in 1-based layer numbers and
// positions, the first layer out of range, the first repeated layer (with
// both positions) or the missing layers.
func ValidatePermutation(order []int, n int) error {
	if err := checkNumLayers(n); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("schedule: empty layer order: want a permutation of layers 1..%d", n)
	}
	text := FormatPermutation(order)
	seen := make(map[int]int, len(order)) // 0-based layer -> 1-based position
	for i, l := range order {
		if l < 0 || l >= n {
			return fmt.Errorf("schedule: layer order %s: position %d: layer %d is out of range 1..%d",
				text, i+1, int64(l)+1, n)
		}
		if p, dup := seen[l]; dup {
			return fmt.Errorf("schedule: layer order %s: layer %d appears twice (positions %d and %d)",
				text, l+1, p, i+1)
		}
		seen[l] = i + 1
	}
	if len(order) != n {
		// Distinct and in range, so len(order) < n and layers are missing.
		var missing []string
		for l := 0; l < n && len(missing) < maxListed; l++ {
			if _, ok := seen[l]; !ok {
				missing = append(missing, strconv.Itoa(l+1))
			}
		}
		list := strings.Join(missing, ",")
		if k := n - len(order); k > len(missing) {
			list += fmt.Sprintf(" and %d more", k-len(missing))
		}
		return fmt.Errorf("schedule: layer order %s lists %d of the %d layers: missing %s",
			text, len(order), n, list)
	}
	return nil
}

// ErrNeedsSensitivity is wrapped by the error of ParseOrder for the orders
// "ascend" and "descend", which come from a sensitivity result.
var ErrNeedsSensitivity = errors.New("order needs a sensitivity result")

// OrderNames returns the order names a user may give (for a help text):
// those ParseOrder resolves, and "ascend" and "descend", which the caller
// resolves from a sensitivity result (see NeedsSensitivity). An explicit
// comma-separated permutation is accepted too.
func OrderNames() []string {
	return []string{"float", "binary", "forward", "reverse", "random", "ascend", "descend"}
}

// NeedsSensitivity reports whether the order name is one ranked by
// sensitivity pre-training ("ascend" or "descend", case-insensitive), which
// ParseOrder cannot resolve.
func NeedsSensitivity(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "ascend", "descend":
		return true
	}
	return false
}

// ParseOrder resolves a user's order name for a model of n binarizable
// layers into the schedule kind and, for an iterative schedule, the 0-based
// order:
//
//	float           KindFloat, nil       (never binarize)
//	binary          KindBinary, nil      (all layers binary from epoch 0)
//	forward         KindIterative, Forward(n)
//	reverse         KindIterative, Reverse(n)
//	random          KindIterative, Random(n, seed)
//	1,3,2           KindIterative, ParsePermutation (1-based layer numbers)
//	FILE.json       KindIterative, ReadOrderFile (binnet's layer numbers)
//
// Names are case-insensitive; n must be 1..MaxLayers. ParseOrder knows no network, so an order file
// must hold binnet's layer numbers; to accept a layer file of the paper's
// official code too, call ReadOrderFile with the network's OfficialLayers. "ascend" and "descend" need a sensitivity
// result, which the caller must read: for them ParseOrder returns an error
// wrapping ErrNeedsSensitivity.
func ParseOrder(name string, n int, seed int64) (Kind, []int, error) {
	if err := checkNumLayers(n); err != nil {
		return 0, nil, err
	}
	switch key := strings.ToLower(strings.TrimSpace(name)); key {
	case "float":
		return KindFloat, nil, nil
	case "binary":
		return KindBinary, nil, nil
	case "forward":
		return KindIterative, Forward(n), nil
	case "reverse":
		return KindIterative, Reverse(n), nil
	case "random":
		return KindIterative, Random(n, seed), nil
	case "ascend", "descend":
		return 0, nil, fmt.Errorf("schedule: order %q is ranked by per-layer sensitivity: "+
			"run the sensitivity pre-training first and take the order from its result file: %w", key, ErrNeedsSensitivity)
	case "":
		return 0, nil, fmt.Errorf("schedule: empty order name: want %s, or a comma-separated permutation of layers 1..%d",
			strings.Join(OrderNames(), ", "), n)
	}
	if IsOrderFile(name) {
		f, err := ReadOrderFile(strings.TrimSpace(name), n, nil)
		if err != nil {
			return 0, nil, err
		}
		return KindIterative, f.Order, nil
	}
	if strings.ContainsAny(name, "0123456789,") {
		order, err := ParsePermutation(name, n)
		if err != nil {
			return 0, nil, err
		}
		return KindIterative, order, nil
	}
	return 0, nil, fmt.Errorf("schedule: unknown order %q: want %s, or a comma-separated permutation of layers 1..%d such as %s",
		name, strings.Join(OrderNames(), ", "), n, FormatPermutation(Reverse(min(n, 3))))
}
