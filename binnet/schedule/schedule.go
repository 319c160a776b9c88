// Package schedule decides, for every epoch of a training run, which layers
// of a network are float, binary or frozen.
//
// It implements the iterative layer binarization of Lan (2021, arXiv
// 2111.07046): training starts with the first layer of an order binarized;
// every EpochsPerStage epochs the next layer (or the next LayersPerStage
// layers) of the order is binarized too, until all layers are binary; training
// then continues until TotalEpochs. This is the rule of the paper's code,
// evaluated before each 0-based epoch:
//
//	layer = epoch // epochs_per_layer
//	if layer < n: binarize order[layer]
//
// so the first layer of the order is binary from epoch 0, the second from
// epoch EpochsPerStage, and so on. The float baseline (no layer ever
// binarized) and the all-binary baseline (every layer binary from epoch 0)
// are schedules of a single stage, as is the fixed schedule of sensitivity
// pre-training (a chosen set of layers binary for the whole run).
//
// Layer numbering: the Go API uses 0-based layer indices and 0-based epochs.
// Everything meant for people — String, ParsePermutation, ParseOrder,
// FormatPermutation and the JSON form of a Schedule — uses 1-based layer
// numbers (and 1-based epochs in String and JSON).
package schedule

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/binnet/binnet/binnet"
)

// Kind is the kind of a schedule.
type Kind int

const (
	// KindFloat never binarizes any layer: the full-precision baseline.
	KindFloat Kind = iota + 1
	// KindBinary binarizes every layer from epoch 0: the usual binary
	// network training.
	KindBinary
	// KindIterative binarizes the layers one stage at a time, following
	// Config.Order.
	KindIterative
	// KindFixed keeps the layers of Config.Binary binary, and the others
	// float, for the whole run: the runs of sensitivity pre-training, which
	// binarize a single layer.
	KindFixed
)

// String returns "float", "binary", "iterative" or "fixed".
func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindBinary:
		return "binary"
	case KindIterative:
		return "iterative"
	case KindFixed:
		return "fixed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "float", "binary", "iterative" or "fixed"
// (case-insensitive, as written by Kind.String).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "float":
		return KindFloat, nil
	case "binary":
		return KindBinary, nil
	case "iterative":
		return KindIterative, nil
	case "fixed":
		return KindFixed, nil
	}
	return 0, fmt.Errorf("schedule: unknown kind %q: want float, binary, iterative or fixed", s)
}

// MarshalText implements encoding.TextMarshaler; it fails for an unknown
// Kind.
func (k Kind) MarshalText() ([]byte, error) {
	switch k {
	case KindFloat, KindBinary, KindIterative, KindFixed:
		return []byte(k.String()), nil
	}
	return nil, fmt.Errorf("schedule: cannot marshal unknown %v", k)
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseKind.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// MaxLayers is the largest NumLayers New accepts. It only guards against
// absurd counts (from a corrupted file, say).
const MaxLayers = 1 << 20

// Config describes a schedule. Build a Schedule from it with New, which
// validates every field.
type Config struct {
	// NumLayers is the number of binarizable layers of the model
	// (1..MaxLayers).
	NumLayers int
	// Kind selects float, all-binary, iterative or fixed training. It must
	// be set.
	Kind Kind
	// Binary lists, for KindFixed, the 0-based layers that are binary for
	// the whole run (at least one, each once; New sorts them). It must be
	// empty for the other kinds.
	Binary []int
	// Order is, for KindIterative, the order in which layers are binarized:
	// a permutation of the 0-based indices 0..NumLayers-1. It must be empty
	// for the other kinds.
	Order []int
	// EpochsPerStage is, for KindIterative, the number of epochs between two
	// binarization steps (the paper's epochs-per-layer; >= 1). It is ignored
	// (and reset to 0 by New) for the other kinds.
	EpochsPerStage int
	// LayersPerStage is, for KindIterative, how many layers of the order are
	// binarized at each stage; 0 means 1. The last stage may binarize fewer.
	// It is ignored (and reset to 0 by New) for the other kinds.
	LayersPerStage int
	// TotalEpochs is the length of the training run (>= 1). For
	// KindIterative it must leave the last stage at least one epoch:
	// TotalEpochs >= (stages-1)*EpochsPerStage + 1.
	TotalEpochs int
	// FreezeBinarized is an optional variant of KindIterative (not the
	// paper's method, which keeps training every binary layer): when a stage
	// starts, the layers binarized in earlier stages become binnet.Frozen
	// (sign weights, no more updates) and only the layers of the current
	// stage are binnet.Binary. It must be false for the other kinds.
	FreezeBinarized bool
}

// Stage is a run of epochs during which the mode of every layer stays the
// same.
type Stage struct {
	// Index is the 0-based stage number.
	Index int
	// FirstEpoch is the 0-based first epoch of the stage.
	FirstEpoch int
	// EndEpoch is the 0-based epoch after the last one of the stage
	// (exclusive). The last stage ends at TotalEpochs.
	EndEpoch int
	// Modes is the mode of each layer, indexed by 0-based layer.
	Modes []binnet.Mode
	// Binary lists, sorted, the 0-based layers whose forward pass uses
	// sign(w): those whose mode is binnet.Binary or binnet.Frozen.
	Binary []int
	// Added lists the 0-based layers binarized when this stage starts, in
	// the order of the schedule. For the first stage it equals the layers
	// binary from epoch 0 (none for a float schedule).
	Added []int
}

// Epochs returns the number of epochs of the stage.
func (st Stage) Epochs() int { return st.EndEpoch - st.FirstEpoch }

func (st Stage) clone() Stage {
	st.Modes = slices.Clone(st.Modes)
	st.Binary = slices.Clone(st.Binary)
	st.Added = slices.Clone(st.Added)
	return st
}

// Schedule says which layers are float, binary or frozen at each epoch. It
// is immutable once built; build one with New, Float, AllBinary, Fixed or
// Iterative, or decode one from JSON (the zero Schedule is not usable). Its
// methods are safe for concurrent use.
type Schedule struct {
	cfg    Config
	stages []Stage
}

// New validates c and builds its schedule. Every problem — a missing kind, a
// non-positive layer or epoch count, an order that is not a permutation
// (named in 1-based layer numbers), more stages than epochs — is reported
// before any training starts, in an error that names the field and the
// values.
func New(c Config) (*Schedule, error) {
	c.Order = slices.Clone(c.Order)
	c.Binary = slices.Clone(c.Binary)
	if err := normalize(&c); err != nil {
		return nil, err
	}
	s := &Schedule{cfg: c}
	s.stages = buildStages(c)
	return s, nil
}

// normalize validates c and applies the defaults in place.
func normalize(c *Config) error {
	if c.NumLayers < 1 {
		return fmt.Errorf("schedule: NumLayers must be >= 1, got %d", c.NumLayers)
	}
	if c.NumLayers > MaxLayers {
		return fmt.Errorf("schedule: NumLayers %d is more than the %d layers a schedule supports", c.NumLayers, MaxLayers)
	}
	if c.TotalEpochs < 1 {
		return fmt.Errorf("schedule: TotalEpochs must be >= 1, got %d", c.TotalEpochs)
	}
	if c.EpochsPerStage < 0 {
		return fmt.Errorf("schedule: EpochsPerStage must not be negative, got %d", c.EpochsPerStage)
	}
	if c.LayersPerStage < 0 {
		return fmt.Errorf("schedule: LayersPerStage must not be negative, got %d", c.LayersPerStage)
	}
	switch c.Kind {
	case KindFloat, KindBinary, KindIterative, KindFixed:
	case 0:
		return errors.New("schedule: Kind is not set: want KindFloat, KindBinary, KindIterative or KindFixed")
	default:
		return fmt.Errorf("schedule: unknown %v: want KindFloat, KindBinary, KindIterative or KindFixed", c.Kind)
	}
	if len(c.Binary) > 0 && c.Kind != KindFixed {
		return fmt.Errorf("schedule: a %v schedule takes no Binary layer list, got %s (use KindFixed for a fixed set of binary layers)",
			c.Kind, FormatPermutation(c.Binary))
	}
	if c.Kind != KindFixed {
		c.Binary = nil
	}
	if c.Kind != KindIterative {
		if len(c.Order) > 0 {
			return fmt.Errorf("schedule: a %v schedule takes no Order, got %s (use KindIterative to binarize in an order)",
				c.Kind, FormatPermutation(c.Order))
		}
		if c.FreezeBinarized {
			return fmt.Errorf("schedule: FreezeBinarized needs an iterative schedule, not a %v one", c.Kind)
		}
		c.Order = nil
		c.EpochsPerStage = 0
		c.LayersPerStage = 0
		if c.Kind == KindFixed {
			return checkFixed(c)
		}
		return nil
	}
	if c.EpochsPerStage < 1 {
		return fmt.Errorf("schedule: EpochsPerStage must be >= 1 for an iterative schedule, got %d", c.EpochsPerStage)
	}
	if c.LayersPerStage == 0 {
		c.LayersPerStage = 1
	}
	if err := ValidatePermutation(c.Order, c.NumLayers); err != nil {
		return err
	}
	stages := numStages(c.NumLayers, c.LayersPerStage)
	// The last stage starts at 0-based epoch (stages-1)*EpochsPerStage and
	// needs at least one epoch; divisions keep the test free of overflow.
	if stages-1 > (c.TotalEpochs-1)/c.EpochsPerStage {
		return &TooFewEpochsError{NumLayers: c.NumLayers, LayersPerStage: c.LayersPerStage, Stages: stages,
			EpochsPerStage: c.EpochsPerStage, TotalEpochs: c.TotalEpochs}
	}
	return nil
}

// TooFewEpochsError is the error of New for an iterative schedule whose
// last stage would begin after its last epoch: more stages than epochs.
// Its fields let a caller say it in its own terms (a command line's flag
// names); Error says it in Config's.
type TooFewEpochsError struct {
	NumLayers, LayersPerStage, Stages int
	EpochsPerStage, TotalEpochs       int
}

// Need returns the fewest total epochs that give the last stage one epoch,
// (Stages-1)*EpochsPerStage+1, as text: "more than 9223372036854775807"
// when that overflows an int.
func (e *TooFewEpochsError) Need() string {
	if e.Stages-1 > (math.MaxInt-1)/e.EpochsPerStage {
		return "more than " + strconv.Itoa(math.MaxInt)
	}
	return strconv.Itoa((e.Stages-1)*e.EpochsPerStage + 1)
}

// Explain returns the message, without the package's prefix, with the
// total epochs named total (Error's "TotalEpochs", or a command line's
// flag); perStageNote and totalNote, when not "", are put in parentheses
// after the epochs per stage and the total (such as where a default came
// from).
func (e *TooFewEpochsError) Explain(total, perStageNote, totalNote string) string {
	need := e.Need()
	if strings.HasPrefix(need, "more than ") {
		// No int is enough: say so rather than "at least more than".
		return fmt.Sprintf("more stages than epochs: %s at %s per stage make %d stages of %s%s; "+
			"the last stage would start at epoch %s, beyond any %s: "+
			"fewer epochs per stage are needed for the last layer to train binary for at least one epoch, got %s %d%s",
			plural(e.NumLayers, "layer"), plural(e.LayersPerStage, "layer"), e.Stages,
			plural(e.EpochsPerStage, "epoch"), parenthesized(perStageNote), need, total, total, e.TotalEpochs, parenthesized(totalNote))
	}
	return fmt.Sprintf("more stages than epochs: %s at %s per stage make %d stages of %s%s; "+
		"the last stage starts at epoch %s, so %s must be at least %s "+
		"for the last layer to train binary for at least one epoch, got %d%s",
		plural(e.NumLayers, "layer"), plural(e.LayersPerStage, "layer"), e.Stages,
		plural(e.EpochsPerStage, "epoch"), parenthesized(perStageNote), need, total, need, e.TotalEpochs, parenthesized(totalNote))
}

// parenthesized returns " (note)", or "" for no note.
func parenthesized(note string) string {
	if note == "" {
		return ""
	}
	return " (" + note + ")"
}

// Error returns the message in Config's terms.
func (e *TooFewEpochsError) Error() string {
	return "schedule: " + e.Explain("TotalEpochs", "", "")
}

// checkFixed validates and sorts the Binary list of a fixed schedule.
func checkFixed(c *Config) error {
	if len(c.Binary) == 0 {
		return fmt.Errorf("schedule: a fixed schedule needs at least one layer in Binary (use KindFloat for none)")
	}
	text := FormatPermutation(c.Binary)
	seen := make(map[int]bool, len(c.Binary))
	for i, l := range c.Binary {
		if l < 0 || l >= c.NumLayers {
			return fmt.Errorf("schedule: Binary layers %s: position %d: layer %d is out of range 1..%d",
				text, i+1, int64(l)+1, c.NumLayers)
		}
		if seen[l] {
			return fmt.Errorf("schedule: Binary layers %s: layer %d appears twice", text, l+1)
		}
		seen[l] = true
	}
	slices.Sort(c.Binary)
	return nil
}

// numStages returns ceil(numLayers/perStage) for numLayers, perStage >= 1,
// without overflow for a perStage as large as math.MaxInt.
func numStages(numLayers, perStage int) int {
	return (numLayers-1)/perStage + 1
}

func buildStages(c Config) []Stage {
	n := c.NumLayers
	switch c.Kind {
	case KindFloat:
		return []Stage{{
			Index: 0, FirstEpoch: 0, EndEpoch: c.TotalEpochs,
			Modes: make([]binnet.Mode, n), Binary: []int{}, Added: []int{},
		}}
	case KindBinary:
		return []Stage{{
			Index: 0, FirstEpoch: 0, EndEpoch: c.TotalEpochs,
			Modes: slices.Repeat([]binnet.Mode{binnet.Binary}, n), Binary: Forward(n), Added: Forward(n),
		}}
	case KindFixed:
		modes := make([]binnet.Mode, n)
		for _, l := range c.Binary {
			modes[l] = binnet.Binary
		}
		return []Stage{{
			Index: 0, FirstEpoch: 0, EndEpoch: c.TotalEpochs,
			Modes: modes, Binary: slices.Clone(c.Binary), Added: slices.Clone(c.Binary),
		}}
	}
	k := numStages(n, c.LayersPerStage)
	stages := make([]Stage, k)
	for i := range stages {
		lo := i * c.LayersPerStage
		hi := lo + min(c.LayersPerStage, n-lo)
		modes := make([]binnet.Mode, n)
		for j, layer := range c.Order[:hi] {
			if c.FreezeBinarized && j < lo {
				modes[layer] = binnet.Frozen
			} else {
				modes[layer] = binnet.Binary
			}
		}
		binary := slices.Clone(c.Order[:hi])
		slices.Sort(binary)
		end := (i + 1) * c.EpochsPerStage
		if i == k-1 {
			end = c.TotalEpochs
		}
		stages[i] = Stage{
			Index:      i,
			FirstEpoch: i * c.EpochsPerStage,
			EndEpoch:   end,
			Modes:      modes,
			Binary:     binary,
			Added:      slices.Clone(c.Order[lo:hi]),
		}
	}
	return stages
}

// Float returns the float baseline: numLayers layers, none ever binarized,
// for totalEpochs epochs.
func Float(numLayers, totalEpochs int) (*Schedule, error) {
	return New(Config{NumLayers: numLayers, Kind: KindFloat, TotalEpochs: totalEpochs})
}

// AllBinary returns the all-binary baseline: numLayers layers, all binary
// from epoch 0, for totalEpochs epochs.
func AllBinary(numLayers, totalEpochs int) (*Schedule, error) {
	return New(Config{NumLayers: numLayers, Kind: KindBinary, TotalEpochs: totalEpochs})
}

// Fixed returns the schedule of a sensitivity run: the 0-based layers of
// binary are binary, and the others float, for all totalEpochs epochs.
func Fixed(numLayers int, binary []int, totalEpochs int) (*Schedule, error) {
	return New(Config{NumLayers: numLayers, Kind: KindFixed, Binary: binary, TotalEpochs: totalEpochs})
}

// Iterative returns the paper's schedule: one layer of order (0-based, a
// permutation of 0..len(order)-1) binarized every epochsPerStage epochs,
// for totalEpochs epochs in all.
func Iterative(order []int, epochsPerStage, totalEpochs int) (*Schedule, error) {
	return New(Config{
		NumLayers:      len(order),
		Kind:           KindIterative,
		Order:          order,
		EpochsPerStage: epochsPerStage,
		TotalEpochs:    totalEpochs,
	})
}

// Config returns the validated configuration: Order and Binary copied,
// Binary sorted, LayersPerStage defaulted to 1 for an iterative schedule,
// and the fields that do not apply to the kind reset to zero.
// New(s.Config()) builds the same schedule.
func (s *Schedule) Config() Config {
	c := s.cfg
	c.Order = slices.Clone(c.Order)
	c.Binary = slices.Clone(c.Binary)
	return c
}

// Kind returns the kind of the schedule.
func (s *Schedule) Kind() Kind { return s.cfg.Kind }

// NumLayers returns the number of binarizable layers.
func (s *Schedule) NumLayers() int { return s.cfg.NumLayers }

// TotalEpochs returns the planned number of epochs.
func (s *Schedule) TotalEpochs() int { return s.cfg.TotalEpochs }

// EpochsPerStage returns the epochs between two binarization steps of an
// iterative schedule, 0 for the other kinds.
func (s *Schedule) EpochsPerStage() int { return s.cfg.EpochsPerStage }

// Order returns a copy of the 0-based binarization order of an iterative
// schedule, nil for the other kinds.
func (s *Schedule) Order() []int { return slices.Clone(s.cfg.Order) }

// NumStages returns the number of stages (1 for float, binary and fixed
// schedules).
func (s *Schedule) NumStages() int { return len(s.stages) }

// Stages returns a copy of the stages, in epoch order. They cover the epochs
// 0..TotalEpochs-1 without gap or overlap.
func (s *Schedule) Stages() []Stage {
	out := make([]Stage, len(s.stages))
	for i, st := range s.stages {
		out[i] = st.clone()
	}
	return out
}

// StageAt returns the 0-based index of the stage of the 0-based epoch.
// It panics if epoch < 0. An epoch >= TotalEpochs belongs to the last stage,
// so that a run extended past its plan keeps the final modes.
func (s *Schedule) StageAt(epoch int) int {
	if epoch < 0 {
		panic(fmt.Sprintf("schedule: negative epoch %d", epoch))
	}
	if s.cfg.Kind != KindIterative {
		return 0
	}
	return min(epoch/s.cfg.EpochsPerStage, len(s.stages)-1)
}

// Modes returns a new slice with the mode of every layer (0-based) during
// the 0-based epoch. It panics if epoch < 0; an epoch >= TotalEpochs gets the
// modes of the last stage (see StageAt).
func (s *Schedule) Modes(epoch int) []binnet.Mode {
	return slices.Clone(s.stages[s.StageAt(epoch)].Modes)
}

// BinaryLayers returns a new sorted slice of the 0-based layers whose
// forward pass uses sign(w) (binary or frozen) during the 0-based epoch. It
// panics if epoch < 0; an epoch >= TotalEpochs gets the last stage's layers.
func (s *Schedule) BinaryLayers(epoch int) []int {
	return slices.Clone(s.stages[s.StageAt(epoch)].Binary)
}

// StageStarts reports whether a new stage starts at the 0-based epoch, that
// is whether epoch is the first epoch of a stage (true for epoch 0). A
// training loop uses it to know when layer modes change.
func (s *Schedule) StageStarts(epoch int) bool {
	i := s.StageAt(epoch)
	return s.stages[i].FirstEpoch == epoch
}

// String returns a readable stage table with 1-based epochs (inclusive
// ranges) and 1-based layer numbers. Frozen layers are marked with a "*"
// and a legend line. For example:
//
//	iterative schedule: 3 layers, order 1,3,2, 1 layer and 2 epochs per stage, 6 epochs
//	stage  epochs  binary layers
//	    1  1-2     1
//	    2  3-4     1,3
//	    3  5-6     1,2,3
func (s *Schedule) String() string {
	var b strings.Builder
	c := s.cfg
	switch c.Kind {
	case KindFloat:
		fmt.Fprintf(&b, "float schedule: %s, %s, no layer binarized\n",
			plural(c.NumLayers, "layer"), plural(c.TotalEpochs, "epoch"))
	case KindBinary:
		fmt.Fprintf(&b, "binary schedule: %s, %s, all layers binary from epoch 1\n",
			plural(c.NumLayers, "layer"), plural(c.TotalEpochs, "epoch"))
	case KindFixed:
		word := "layer"
		if len(c.Binary) > 1 {
			word = "layers"
		}
		fmt.Fprintf(&b, "fixed schedule: %s, %s, %s %s binary from epoch 1, the others float\n",
			plural(c.NumLayers, "layer"), plural(c.TotalEpochs, "epoch"), word, FormatPermutation(c.Binary))
	default:
		fmt.Fprintf(&b, "iterative schedule: %s, order %s, %s and %s per stage, %s",
			plural(c.NumLayers, "layer"), FormatPermutation(c.Order),
			plural(c.LayersPerStage, "layer"), plural(c.EpochsPerStage, "epoch"),
			plural(c.TotalEpochs, "epoch"))
		if c.FreezeBinarized {
			b.WriteString(", earlier stages frozen")
		}
		b.WriteByte('\n')
	}
	rows := make([][3]string, len(s.stages))
	w0, w1 := len("stage"), len("epochs")
	frozen := false
	for i, st := range s.stages {
		ep := strconv.Itoa(st.FirstEpoch + 1)
		if st.EndEpoch-st.FirstEpoch != 1 {
			ep += "-" + strconv.Itoa(st.EndEpoch)
		}
		var layers []string
		for _, l := range st.Binary {
			t := strconv.Itoa(l + 1)
			if st.Modes[l] == binnet.Frozen {
				t += "*"
				frozen = true
			}
			layers = append(layers, t)
		}
		lt := strings.Join(layers, ",")
		if lt == "" {
			lt = "none"
		}
		rows[i] = [3]string{strconv.Itoa(i + 1), ep, lt}
		w0, w1 = max(w0, len(rows[i][0])), max(w1, len(ep))
	}
	fmt.Fprintf(&b, "%-*s  %-*s  %s\n", w0, "stage", w1, "epochs", "binary layers")
	for _, r := range rows {
		fmt.Fprintf(&b, "%*s  %-*s  %s\n", w0, r[0], w1, r[1], r[2])
	}
	if frozen {
		b.WriteString("* frozen: sign weights, no more updates\n")
	}
	return b.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
