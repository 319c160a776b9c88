// Package sensitivity runs the per-layer sensitivity pre-training of Lan
// (2021, arXiv 2111.07046) and keeps its results: for each layer k, a model
// is trained with only layer k binary, and the validation accuracies rank
// the layers into the "ascend" and "descend" binarization orders.
//
// Layer numbers in a Result and in its JSON file are 1-based; Result.Order
// converts an order to the 0-based indices of the schedule package.
package sensitivity

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/internal/atomicfile"
)

// LayerResult is the outcome of training with only one layer binary.
type LayerResult struct {
	// Layer is the 1-based number of the binarized layer.
	Layer int `json:"layer"`
	// ValAccuracy is the final validation accuracy, in [0,1].
	ValAccuracy float64 `json:"val_accuracy"`
	// ValLoss is the final validation loss: finite and >= 0. JSON has no
	// NaN or infinity, so a caller whose run diverged should record
	// math.MaxFloat64 (the worst loss) rather than a non-finite value.
	ValLoss float64 `json:"val_loss"`
	// Epochs is the number of epochs trained (>= 1).
	Epochs int `json:"epochs"`
	// Seconds is the wall-clock training time (>= 0).
	Seconds float64 `json:"seconds"`
	// ValAccuracySD is the sample standard deviation of the validation
	// accuracy over the run's last NoiseEpochs epochs (all of them when
	// fewer; 0 for a run of one epoch): how much the accuracy still moves
	// from one epoch to the next, against which the difference between two
	// layers can be judged (see Result.Unresolved). Files written before it
	// was recorded leave it out: 0, unknown.
	ValAccuracySD float64 `json:"val_accuracy_sd,omitempty"`
}

// NoiseEpochs is the number of last epochs of a layer's run over which
// LayerResult.ValAccuracySD is taken.
const NoiseEpochs = 5

// NoiseWindow returns the number of last epochs over which TailSD takes the
// standard deviation of a run of epochs epochs: NoiseEpochs, or all of them
// when fewer. Below 2 there is no standard deviation (a run of one epoch):
// its noise is unknown, and Unresolved makes no claim about it.
func NoiseWindow(epochs int) int { return max(0, min(epochs, NoiseEpochs)) }

// TailSD returns the sample standard deviation of the last NoiseEpochs
// values of acc (all of them when fewer; 0 for fewer than two).
func TailSD(acc []float64) float64 {
	tail := acc[max(0, len(acc)-NoiseEpochs):]
	if len(tail) < 2 {
		return 0
	}
	mean := 0.0
	for _, a := range tail {
		mean += a
	}
	mean /= float64(len(tail))
	ss := 0.0
	for _, a := range tail {
		ss += (a - mean) * (a - mean)
	}
	return math.Sqrt(ss / float64(len(tail)-1))
}

// Unresolved returns the neighbours of the descend order (each pair as
// [higher, lower] accuracy, 1-based layers) whose validation accuracies
// differ by less than the standard deviation of a difference of two such
// epochs, sqrt(sd1² + sd2²) of their ValAccuracySD: the ranking puts one
// before the other, but the epoch-to-epoch movement of the accuracy is as
// large as the gap, so another seed or a run one epoch longer could order
// them the other way. Pairs where neither layer has a ValAccuracySD (runs
// of one epoch, older files) are left out: their noise is unknown. Call it
// on a finalized result.
func (r *Result) Unresolved() [][2]int {
	byLayer := make(map[int]LayerResult, len(r.Layers))
	for _, l := range r.Layers {
		byLayer[l.Layer] = l
	}
	var pairs [][2]int
	for i := 1; i < len(r.OrderDescend); i++ {
		a, b := byLayer[r.OrderDescend[i-1]], byLayer[r.OrderDescend[i]]
		noise := math.Hypot(a.ValAccuracySD, b.ValAccuracySD)
		if noise > 0 && math.Abs(a.ValAccuracy-b.ValAccuracy) < noise {
			pairs = append(pairs, [2]int{a.Layer, b.Layer})
		}
	}
	return pairs
}

// Result is a complete sensitivity pre-training: one LayerResult per
// binarizable layer of a model, and the orders they rank.
type Result struct {
	// Model names the model the layers belong to (required); CheckMatches
	// compares it with the model of a training run.
	Model string `json:"model"`
	// Dataset names the training data (training.Config.Dataset, e.g.
	// "mnist"); CheckDataset compares it with the data of a training run.
	Dataset string `json:"dataset"`
	// Epochs is the number of epochs each layer was trained (>= 1).
	Epochs int `json:"epochs"`
	// Seed is the random seed of the runs.
	Seed int64 `json:"seed"`
	// NumLayers is the number of binarizable layers of the model (>= 1).
	NumLayers int `json:"num_layers"`
	// Layers holds one result per layer 1..NumLayers, sorted by layer once
	// finalized.
	Layers []LayerResult `json:"layers"`
	// OrderAscend is the 1-based "ascend" order of Rank.
	OrderAscend []int `json:"order_ascend"`
	// OrderDescend is the 1-based "descend" order of Rank.
	OrderDescend []int `json:"order_descend"`
	// Seeds lists the seeds of the results a pooled result averages (see
	// Pool); Seed is then the first of them. Empty for a single run.
	Seeds []int64 `json:"seeds,omitempty"`
	// ResetLatent says that the layer runs set the latent weights of binary
	// layers to sign(w) after every epoch, the official code's evaluation
	// side effect (training.Config.ResetLatentEachEpoch); omitted when false
	// (and absent from results written before it was recorded).
	ResetLatent bool `json:"reset_latent_each_epoch,omitempty"`
}

// Pool averages sensitivity results of the same model, data, layers and
// epochs per layer (typically several seeds) into one finalized result:
// each layer's validation accuracy and loss are the means over the
// results, its ValAccuracySD the standard deviation of the mean,
// sqrt(Σ sd²)/n (0 when a result has none: unknown), and its Seconds the
// sum; the orders rank the means. A layer whose run diverged in any of the
// results (a loss of math.MaxFloat64, see LayerResult.ValLoss) keeps that
// loss, the worst, rather than a mean with the others. The seeds are listed in Seeds.
// A single result is returned as a finalized copy (Seeds empty). It fails,
// naming the result, when they do not match, and, naming the seed, when a
// seed comes twice (the same result given twice, or two runs of one seed,
// which are not independent samples and would understate the standard
// deviation).
func Pool(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, errors.New("sensitivity: no results to pool")
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("sensitivity: pooling result %d: no sensitivity result (nil)", i+1)
		}
	}
	first := rs[0]
	bySeed := make(map[int64]int, len(rs)) // seed -> 1-based result
	out := &Result{Model: first.Model, Dataset: first.Dataset, Epochs: first.Epochs, Seed: first.Seed, NumLayers: first.NumLayers,
		ResetLatent: first.ResetLatent}
	sums := make(map[int]*LayerResult, first.NumLayers)
	var sd2 = make(map[int]float64, first.NumLayers)
	known := true
	n := float64(len(rs))
	for i, r := range rs {
		if err := r.checkData(); err != nil {
			return nil, fmt.Errorf("sensitivity: pooling result %d (seed %d): %w", i+1, r.Seed, err)
		}
		if r.Model != first.Model || r.Dataset != first.Dataset || r.NumLayers != first.NumLayers || r.Epochs != first.Epochs {
			return nil, fmt.Errorf("sensitivity: cannot pool result %d (%s on %s, %d layers, %d epochs) with result 1 (%s on %s, %d layers, %d epochs)",
				i+1, r.Model, r.Dataset, r.NumLayers, r.Epochs, first.Model, first.Dataset, first.NumLayers, first.Epochs)
		}
		if r.ResetLatent != first.ResetLatent {
			return nil, fmt.Errorf("sensitivity: cannot pool result %d (seed %d, official-eval-reset %v) with result 1 (seed %d, official-eval-reset %v)",
				i+1, r.Seed, r.ResetLatent, first.Seed, first.ResetLatent)
		}
		seeds := r.Seeds
		if len(seeds) == 0 {
			seeds = []int64{r.Seed}
		}
		for _, seed := range seeds {
			if j, dup := bySeed[seed]; dup {
				what := fmt.Sprintf("result %d also has seed %d", j, seed)
				if j == i+1 {
					what = fmt.Sprintf("it lists seed %d twice", seed)
				} else if rs[j-1] == r {
					what = fmt.Sprintf("it is result %d again", j)
				}
				return nil, fmt.Errorf("sensitivity: cannot pool result %d (seed %d): %s; pool the results of different seeds", i+1, seed, what)
			}
			bySeed[seed] = i + 1
		}
		if len(rs) > 1 {
			out.Seeds = append(out.Seeds, r.Seed)
		}
		for _, l := range r.Layers {
			m := sums[l.Layer]
			if m == nil {
				m = &LayerResult{Layer: l.Layer}
				sums[l.Layer] = m
			}
			m.ValAccuracy += l.ValAccuracy
			// A diverged run's loss (math.MaxFloat64) has no mean with
			// others: the layer's pooled loss is that of a diverged run.
			// Divided first, the sum of the other losses cannot overflow.
			if l.ValLoss == math.MaxFloat64 || m.ValLoss == math.MaxFloat64 {
				m.ValLoss = math.MaxFloat64
			} else {
				m.ValLoss = min(m.ValLoss+l.ValLoss/n, math.MaxFloat64)
			}
			m.Epochs += l.Epochs
			m.Seconds += l.Seconds
			sd2[l.Layer] += l.ValAccuracySD * l.ValAccuracySD
			known = known && l.ValAccuracySD > 0
		}
	}
	for layer, m := range sums {
		m.ValAccuracy /= n
		m.Epochs /= len(rs)
		if known {
			m.ValAccuracySD = math.Sqrt(sd2[layer]) / n
		}
		out.Layers = append(out.Layers, *m)
	}
	if err := out.Finalize(); err != nil {
		return nil, err
	}
	return out, nil
}

// Order names accepted by Result.Order.
const (
	// Ascend is the order of increasing validation accuracy: most sensitive
	// layer first.
	Ascend = "ascend"
	// Descend is the order of decreasing validation accuracy: least
	// sensitive layer first.
	Descend = "descend"
)

// Rank orders layers by their sensitivity and returns two orders of 1-based
// layer numbers:
//
//   - ascend: by increasing validation accuracy. The layer whose
//     binarization alone hurts accuracy most — the most sensitive one — comes
//     first.
//   - descend: by decreasing validation accuracy: the least sensitive layer
//     first.
//
// Ties in accuracy are broken by the validation loss, a lower loss counting
// as a higher accuracy (so it comes later in ascend and earlier in descend);
// remaining ties put the lower layer number first in both orders. Descend is
// therefore the reverse of ascend except within groups of full ties. Rank
// does not validate its input: duplicated or missing layers are ranked as
// they come (Finalize and ReadResult check them). It does not modify layers.
func Rank(layers []LayerResult) (ascend, descend []int) {
	// cmp.Compare orders NaN below every number, which keeps the sort total.
	asc := slices.Clone(layers)
	slices.SortStableFunc(asc, func(a, b LayerResult) int {
		return cmp.Or(
			cmp.Compare(a.ValAccuracy, b.ValAccuracy),
			cmp.Compare(b.ValLoss, a.ValLoss), // higher loss = less accurate = earlier
			cmp.Compare(a.Layer, b.Layer),
		)
	})
	desc := slices.Clone(layers)
	slices.SortStableFunc(desc, func(a, b LayerResult) int {
		return cmp.Or(
			cmp.Compare(b.ValAccuracy, a.ValAccuracy),
			cmp.Compare(a.ValLoss, b.ValLoss),
			cmp.Compare(a.Layer, b.Layer),
		)
	})
	ascend = make([]int, len(asc))
	descend = make([]int, len(desc))
	for i := range asc {
		ascend[i] = asc[i].Layer
		descend[i] = desc[i].Layer
	}
	return ascend, descend
}

// Finalize checks the result and completes it: it sorts Layers by layer and
// sets OrderAscend and OrderDescend from Rank (replacing any orders already
// there). It fails, naming the field and the value, when NumLayers < 1, Model
// is empty, Epochs < 1, a layer number is outside 1..NumLayers, appears
// twice or is missing, an accuracy is outside [0,1], a loss is negative or
// not finite, or a layer's epochs or seconds are invalid. On error r is left
// unchanged.
func (r *Result) Finalize() error {
	if err := r.checkData(); err != nil {
		return fmt.Errorf("sensitivity: %w", err)
	}
	r.finish()
	return nil
}

// finish sorts the layers and fills the orders of a checked result.
func (r *Result) finish() {
	slices.SortFunc(r.Layers, func(a, b LayerResult) int { return cmp.Compare(a.Layer, b.Layer) })
	r.OrderAscend, r.OrderDescend = Rank(r.Layers)
}

// checkData validates everything but the orders.
func (r *Result) checkData() error {
	if r == nil {
		return errors.New("no sensitivity result (nil)")
	}
	if r.NumLayers < 1 {
		return fmt.Errorf("num_layers must be >= 1, got %d", r.NumLayers)
	}
	if strings.TrimSpace(r.Model) == "" {
		return errors.New("model is empty: want the name of the model the layers belong to")
	}
	if r.Epochs < 1 {
		return fmt.Errorf("epochs must be >= 1, got %d", r.Epochs)
	}
	seen := make(map[int]int, len(r.Layers)) // layer -> index in Layers
	for i, l := range r.Layers {
		if l.Layer < 1 || l.Layer > r.NumLayers {
			return fmt.Errorf("layers[%d]: layer %d is out of range 1..%d (num_layers is %d)",
				i, l.Layer, r.NumLayers, r.NumLayers)
		}
		if j, dup := seen[l.Layer]; dup {
			return fmt.Errorf("layers[%d]: layer %d appears twice (also layers[%d])", i, l.Layer, j)
		}
		seen[l.Layer] = i
		at := fmt.Sprintf("layers[%d] (layer %d)", i, l.Layer)
		if !(l.ValAccuracy >= 0 && l.ValAccuracy <= 1) {
			return fmt.Errorf("%s: val_accuracy %v is outside [0,1]", at, l.ValAccuracy)
		}
		if !(l.ValLoss >= 0) || math.IsInf(l.ValLoss, 1) {
			return fmt.Errorf("%s: val_loss %v must be a finite number >= 0", at, l.ValLoss)
		}
		if l.Epochs < 1 {
			return fmt.Errorf("%s: epochs must be >= 1, got %d", at, l.Epochs)
		}
		if !(l.Seconds >= 0) || math.IsInf(l.Seconds, 1) {
			return fmt.Errorf("%s: seconds %v must be a finite number >= 0", at, l.Seconds)
		}
		if !(l.ValAccuracySD >= 0 && l.ValAccuracySD <= 1) {
			return fmt.Errorf("%s: val_accuracy_sd %v is outside [0,1]", at, l.ValAccuracySD)
		}
	}
	if len(r.Layers) < r.NumLayers {
		// Every entry is distinct and in range, so some layers are missing.
		var missing []string
		for k := 1; k <= r.NumLayers && len(missing) < maxListed; k++ {
			if _, ok := seen[k]; !ok {
				missing = append(missing, strconv.Itoa(k))
			}
		}
		word := "layer"
		if r.NumLayers-len(r.Layers) > 1 {
			word = "layers"
		}
		list := strings.Join(missing, ",")
		if more := r.NumLayers - len(r.Layers) - len(missing); more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		return fmt.Errorf("layers: missing %s %s (num_layers is %d, found %d layer results)",
			word, list, r.NumLayers, len(r.Layers))
	}
	return nil
}

// maxListed bounds the number of missing layers an error message lists.
const maxListed = 10

// checkOrders validates the orders present in a result whose data passed
// checkData: each must be a permutation of 1..NumLayers equal to Rank's.
func (r *Result) checkOrders() error {
	ascend, descend := Rank(r.Layers)
	for _, o := range []struct {
		field      string
		got, want  []int
		definition string
	}{
		{"order_ascend", r.OrderAscend, ascend, "increasing validation accuracy"},
		{"order_descend", r.OrderDescend, descend, "decreasing validation accuracy"},
	} {
		if len(o.got) == 0 {
			continue
		}
		if err := checkPermutation(o.got, r.NumLayers); err != nil {
			return fmt.Errorf("%s: %v", o.field, err)
		}
		if !slices.Equal(o.got, o.want) {
			return fmt.Errorf("%s is %s, but the layer results rank %s by %s",
				o.field, formatLayers(o.got), formatLayers(o.want), o.definition)
		}
	}
	return nil
}

// checkPermutation checks that order holds each of the 1-based layers
// 1..n exactly once.
func checkPermutation(order []int, n int) error {
	seen := make(map[int]int, len(order))
	for i, l := range order {
		if l < 1 || l > n {
			return fmt.Errorf("position %d: layer %d is out of range 1..%d", i+1, l, n)
		}
		if p, dup := seen[l]; dup {
			return fmt.Errorf("layer %d appears twice (positions %d and %d)", l, p, i+1)
		}
		seen[l] = i + 1
	}
	if len(order) != n {
		return fmt.Errorf("lists %d layers, want all %d", len(order), n)
	}
	return nil
}

func formatLayers(order []int) string {
	s := make([]string, len(order))
	for i, l := range order {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, ",")
}

// Order returns the named order ("ascend" or "descend", case-insensitive;
// see Rank) as 0-based layer indices, ready for the schedule package. It
// checks the result first, including any stored orders, which must agree
// with Rank.
func (r *Result) Order(name string) ([]int, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if key != Ascend && key != Descend {
		return nil, fmt.Errorf("sensitivity: unknown order %q: want %q or %q", name, Ascend, Descend)
	}
	if err := r.checkData(); err != nil {
		return nil, fmt.Errorf("sensitivity: %w", err)
	}
	if err := r.checkOrders(); err != nil {
		return nil, fmt.Errorf("sensitivity: %w", err)
	}
	ascend, descend := Rank(r.Layers)
	order := ascend
	if key == Descend {
		order = descend
	}
	for i := range order {
		order[i]--
	}
	return order, nil
}

// ReadResult reads and validates a sensitivity result file written by
// WriteResultFile. Every error names the file. A JSON syntax or type error
// also gives its line, column and byte offset; a semantic error names the
// field: num_layers < 1, a missing model, a layer missing, repeated or out
// of range, an accuracy outside [0,1], an invalid loss, or orders (when
// present) that are not permutations of 1..num_layers consistent with Rank.
// Unknown fields and data after the JSON object are rejected. Missing
// orders are filled in; Layers come back sorted by layer.
func ReadResult(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sensitivity: %w", err)
	}
	var r Result
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(path, data, dec, err)
	}
	if end := dec.InputOffset(); len(bytes.TrimSpace(data[end:])) > 0 {
		rest := data[end:]
		line, col := position(data, end+int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n"))))
		return nil, fmt.Errorf("sensitivity: %s:%d:%d: unexpected data after the JSON object", path, line, col)
	}
	if err := r.checkData(); err != nil {
		return nil, fmt.Errorf("sensitivity: %s: %w", path, err)
	}
	if err := r.checkOrders(); err != nil {
		return nil, fmt.Errorf("sensitivity: %s: %w", path, err)
	}
	r.finish()
	return &r, nil
}

// decodeError turns a json decoding error into one naming the file and the
// position.
func decodeError(path string, data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("sensitivity: %s: empty file: want a JSON sensitivity result", path)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("sensitivity: %s: invalid JSON: unexpected end of file after %d bytes (truncated?)", path, len(data))
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := position(data, syn.Offset-1)
		return fmt.Errorf("sensitivity: %s:%d:%d: invalid JSON (byte offset %d): %v", path, line, col, syn.Offset-1, syn)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		if typ.Field == "" {
			return fmt.Errorf("sensitivity: %s:%d:%d: invalid JSON (byte offset %d): want an object, got %s",
				path, line, col, typ.Offset, typ.Value)
		}
		return fmt.Errorf("sensitivity: %s:%d:%d: field %s: cannot use JSON %s as %v (byte offset %d)",
			path, line, col, typ.Field, typ.Value, typ.Type, typ.Offset)
	}
	line, col := position(data, dec.InputOffset())
	return fmt.Errorf("sensitivity: %s:%d:%d: %v", path, line, col, err)
}

// position returns the 1-based line and column of a byte offset.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// WriteResultFile writes a finalized copy of r (see Finalize) to path as
// indented JSON, atomically: it writes a temporary file in the same
// directory, syncs it to disk and renames it over path, so that path holds
// either the old content or the complete new one. r itself is not modified.
func WriteResultFile(path string, r *Result) error {
	if r == nil {
		return errors.New("sensitivity: WriteResultFile: nil result")
	}
	c := *r
	c.Layers = slices.Clone(r.Layers)
	if err := c.checkData(); err != nil {
		return fmt.Errorf("sensitivity: not writing %s: %w", path, err)
	}
	c.finish()
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("sensitivity: not writing %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("sensitivity: %w", err)
	}
	return nil
}

// CheckMatches reports whether r can guide the training of a model named
// model with numLayers binarizable layers. A result made for another model
// (when model is not empty) or another layer count is rejected with a
// message naming both, as is an invalid result.
func CheckMatches(r *Result, numLayers int, model string) error {
	if r == nil {
		return errors.New("sensitivity: no sensitivity result (nil)")
	}
	if model != "" && r.Model != model {
		return fmt.Errorf("sensitivity: the sensitivity result was made for model %q (%d layers), not %q: "+
			"run the sensitivity pre-training for %q", r.Model, r.NumLayers, model, model)
	}
	if r.NumLayers != numLayers {
		name := ""
		if model != "" {
			name = fmt.Sprintf(" %q", model)
		}
		return fmt.Errorf("sensitivity: the sensitivity result has %d layers, but the model%s has %d binarizable layers",
			r.NumLayers, name, numLayers)
	}
	if err := r.checkData(); err != nil {
		return fmt.Errorf("sensitivity: %w", err)
	}
	if err := r.checkOrders(); err != nil {
		return fmt.Errorf("sensitivity: %w", err)
	}
	return nil
}

// CheckDataset reports whether r, made on the data set r.Dataset, can guide
// a run on the data set named dataset: a ranking measured on other data
// (Fashion-MNIST for MNIST) is rejected with a message naming both. Names
// are compared as training.Config.Dataset records them, except that the
// embedded "sample" (a subset of MNIST's images) and "mnist" count as one
// data set, as binnet infer counts them; an empty dataset (not known) or an
// empty r.Dataset (a file that does not record it) is not checked.
func CheckDataset(r *Result, dataset string) error {
	if r == nil {
		return errors.New("sensitivity: no sensitivity result (nil)")
	}
	if dataset == "" || r.Dataset == "" || datasets.SameData(r.Dataset, dataset) {
		return nil
	}
	return fmt.Errorf("sensitivity: the sensitivity result was made on data set %q, not %q: "+
		"run the sensitivity pre-training on %q", r.Dataset, dataset, dataset)
}
