package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet"
)

const (
	F = binnet.Float
	B = binnet.Binary
	Z = binnet.Frozen
)

// wantStage is a hand-computed stage: 0-based epochs [first, end) and modes.
type wantStage struct {
	first, end int
	modes      []binnet.Mode
}

func mustNew(t *testing.T, c Config) *Schedule {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return s
}

func binaryOf(modes []binnet.Mode) []int {
	out := []int{}
	for l, m := range modes {
		if m.IsBinary() {
			out = append(out, l)
		}
	}
	return out
}

// checkStages compares the stages of s with want, and Modes, BinaryLayers,
// StageAt and StageStarts at every epoch (and past the end) with them.
func checkStages(t *testing.T, s *Schedule, want []wantStage) {
	t.Helper()
	got := s.Stages()
	if len(got) != len(want) || s.NumStages() != len(want) {
		t.Fatalf("got %d stages (NumStages %d), want %d:\n%s", len(got), s.NumStages(), len(want), s)
	}
	for i, w := range want {
		g := got[i]
		if g.Index != i || g.FirstEpoch != w.first || g.EndEpoch != w.end ||
			!slices.Equal(g.Modes, w.modes) || !slices.Equal(g.Binary, binaryOf(w.modes)) {
			t.Errorf("stage %d = {Index %d, epochs [%d,%d), modes %v, binary %v}, want {epochs [%d,%d), modes %v, binary %v}",
				i, g.Index, g.FirstEpoch, g.EndEpoch, g.Modes, g.Binary, w.first, w.end, w.modes, binaryOf(w.modes))
		}
		if g.Epochs() != w.end-w.first {
			t.Errorf("stage %d Epochs() = %d, want %d", i, g.Epochs(), w.end-w.first)
		}
		for e := w.first; e < w.end; e++ {
			if m := s.Modes(e); !slices.Equal(m, w.modes) {
				t.Errorf("Modes(%d) = %v, want %v", e, m, w.modes)
			}
			if b := s.BinaryLayers(e); !slices.Equal(b, binaryOf(w.modes)) {
				t.Errorf("BinaryLayers(%d) = %v, want %v", e, b, binaryOf(w.modes))
			}
			if st := s.StageAt(e); st != i {
				t.Errorf("StageAt(%d) = %d, want %d", e, st, i)
			}
			if ss := s.StageStarts(e); ss != (e == w.first) {
				t.Errorf("StageStarts(%d) = %v, want %v", e, ss, e == w.first)
			}
		}
	}
	last := want[len(want)-1]
	if last.end != s.TotalEpochs() {
		t.Fatalf("test bug: last stage ends at %d, TotalEpochs %d", last.end, s.TotalEpochs())
	}
	for _, e := range []int{s.TotalEpochs(), s.TotalEpochs() + 7} {
		if m := s.Modes(e); !slices.Equal(m, last.modes) {
			t.Errorf("Modes(%d) past the end = %v, want the last stage's %v", e, m, last.modes)
		}
		if st := s.StageAt(e); st != len(want)-1 {
			t.Errorf("StageAt(%d) past the end = %d, want %d", e, st, len(want)-1)
		}
		if s.StageStarts(e) {
			t.Errorf("StageStarts(%d) past the end = true", e)
		}
	}
}

func TestForward(t *testing.T) {
	s, err := Iterative(Forward(3), 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, s, []wantStage{
		{0, 2, []binnet.Mode{B, F, F}},
		{2, 4, []binnet.Mode{B, B, F}},
		{4, 6, []binnet.Mode{B, B, B}},
	})
	st := s.Stages()
	for i, want := range [][]int{{0}, {1}, {2}} {
		if !slices.Equal(st[i].Added, want) {
			t.Errorf("stage %d Added = %v, want %v", i, st[i].Added, want)
		}
	}
	if s.Kind() != KindIterative || s.NumLayers() != 3 || s.TotalEpochs() != 6 || s.EpochsPerStage() != 2 ||
		!slices.Equal(s.Order(), []int{0, 1, 2}) {
		t.Errorf("accessors: kind %v layers %d total %d E %d order %v", s.Kind(), s.NumLayers(), s.TotalEpochs(), s.EpochsPerStage(), s.Order())
	}
}

func TestReverse(t *testing.T) {
	s, err := Iterative(Reverse(3), 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, s, []wantStage{
		{0, 2, []binnet.Mode{F, F, B}},
		{2, 4, []binnet.Mode{F, B, B}},
		{4, 6, []binnet.Mode{B, B, B}},
	})
}

func TestPermutationLastStageLonger(t *testing.T) {
	order, err := ParsePermutation("1,3,2", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int{0, 2, 1}) {
		t.Fatalf("ParsePermutation(1,3,2) = %v, want [0 2 1]", order)
	}
	s, err := Iterative(order, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, s, []wantStage{
		{0, 2, []binnet.Mode{B, F, F}},
		{2, 4, []binnet.Mode{B, F, B}},
		{4, 8, []binnet.Mode{B, B, B}},
	})
	if got := s.Stages()[1].Added; !slices.Equal(got, []int{2}) {
		t.Errorf("stage 2 Added = %v, want [2]", got)
	}
}

func TestLayersPerStage(t *testing.T) {
	// 5 layers, 2 per stage: stages {0,1}, {2,3}, {4}; E=3 needs >= 7 epochs.
	s := mustNew(t, Config{NumLayers: 5, Kind: KindIterative, Order: Forward(5), EpochsPerStage: 3, LayersPerStage: 2, TotalEpochs: 10})
	checkStages(t, s, []wantStage{
		{0, 3, []binnet.Mode{B, B, F, F, F}},
		{3, 6, []binnet.Mode{B, B, B, B, F}},
		{6, 10, []binnet.Mode{B, B, B, B, B}},
	})
	if got := s.Stages()[2].Added; !slices.Equal(got, []int{4}) {
		t.Errorf("last stage Added = %v, want [4]", got)
	}
	// The minimum total: the last stage gets exactly one epoch.
	s = mustNew(t, Config{NumLayers: 5, Kind: KindIterative, Order: Reverse(5), EpochsPerStage: 3, LayersPerStage: 2, TotalEpochs: 7})
	checkStages(t, s, []wantStage{
		{0, 3, []binnet.Mode{F, F, F, B, B}},
		{3, 6, []binnet.Mode{F, B, B, B, B}},
		{6, 7, []binnet.Mode{B, B, B, B, B}},
	})
	// More layers per stage than layers: one stage, all binary.
	s = mustNew(t, Config{NumLayers: 2, Kind: KindIterative, Order: Forward(2), EpochsPerStage: 5, LayersPerStage: 4, TotalEpochs: 3})
	checkStages(t, s, []wantStage{{0, 3, []binnet.Mode{B, B}}})
}

func TestFloatAndBinary(t *testing.T) {
	f, err := Float(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, f, []wantStage{{0, 5, []binnet.Mode{F, F, F}}})
	if f.Kind() != KindFloat || f.Order() != nil || f.EpochsPerStage() != 0 {
		t.Errorf("float: kind %v order %v E %d", f.Kind(), f.Order(), f.EpochsPerStage())
	}
	if a := f.Stages()[0].Added; len(a) != 0 {
		t.Errorf("float Added = %v, want none", a)
	}

	b, err := AllBinary(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, b, []wantStage{{0, 5, []binnet.Mode{B, B, B}}})
	if b.Kind() != KindBinary || b.Order() != nil {
		t.Errorf("binary: kind %v order %v", b.Kind(), b.Order())
	}

	// Fields that do not apply to the kind are ignored and reset.
	s := mustNew(t, Config{NumLayers: 2, Kind: KindBinary, EpochsPerStage: 150, LayersPerStage: 3, TotalEpochs: 4})
	if c := s.Config(); c.EpochsPerStage != 0 || c.LayersPerStage != 0 {
		t.Errorf("binary Config() = %+v, want EpochsPerStage and LayersPerStage reset", c)
	}
}

func TestFixed(t *testing.T) {
	s, err := Fixed(4, []int{2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, s, []wantStage{{0, 3, []binnet.Mode{F, F, B, F}}})
	if s.Kind() != KindFixed || s.Order() != nil {
		t.Errorf("fixed: kind %v order %v", s.Kind(), s.Order())
	}
	// Several layers, given unsorted: Config sorts them.
	binary := []int{3, 0}
	s = mustNew(t, Config{NumLayers: 4, Kind: KindFixed, Binary: binary, TotalEpochs: 2, EpochsPerStage: 9})
	checkStages(t, s, []wantStage{{0, 2, []binnet.Mode{B, F, F, B}}})
	if c := s.Config(); !slices.Equal(c.Binary, []int{0, 3}) || c.EpochsPerStage != 0 {
		t.Errorf("Config() = %+v, want Binary [0 3] and EpochsPerStage reset", c)
	}
	if !slices.Equal(binary, []int{3, 0}) {
		t.Errorf("New modified the caller's Binary: %v", binary)
	}
	s.Config().Binary[0] = 2
	if got := s.Config().Binary; !slices.Equal(got, []int{0, 3}) {
		t.Errorf("Config().Binary aliases the schedule: %v", got)
	}
}

func TestFreezeBinarized(t *testing.T) {
	s := mustNew(t, Config{NumLayers: 3, Kind: KindIterative, Order: []int{0, 2, 1}, EpochsPerStage: 2, TotalEpochs: 7, FreezeBinarized: true})
	checkStages(t, s, []wantStage{
		{0, 2, []binnet.Mode{B, F, F}},
		{2, 4, []binnet.Mode{Z, F, B}},
		{4, 7, []binnet.Mode{Z, B, Z}},
	})
	s = mustNew(t, Config{NumLayers: 5, Kind: KindIterative, Order: Forward(5), EpochsPerStage: 1, LayersPerStage: 2, TotalEpochs: 3, FreezeBinarized: true})
	checkStages(t, s, []wantStage{
		{0, 1, []binnet.Mode{B, B, F, F, F}},
		{1, 2, []binnet.Mode{Z, Z, B, B, F}},
		{2, 3, []binnet.Mode{Z, Z, Z, Z, B}},
	})
}

// TestPaperMNIST is the paper's MNIST protocol: 3 layers, 150 epochs per
// layer, 450 epochs in all.
func TestPaperMNIST(t *testing.T) {
	s, err := Iterative(Forward(3), 150, 450)
	if err != nil {
		t.Fatal(err)
	}
	checkStages(t, s, []wantStage{
		{0, 150, []binnet.Mode{B, F, F}},
		{150, 300, []binnet.Mode{B, B, F}},
		{300, 450, []binnet.Mode{B, B, B}},
	})
	// 300 epochs leave the last layer none: rejected.
	if _, err := Iterative(Forward(3), 150, 300); err == nil || !strings.Contains(err.Error(), "at least 301") {
		t.Errorf("Iterative(forward, 150, 300) error = %v, want one asking for at least 301 epochs", err)
	}
	if _, err := Iterative(Forward(3), 150, 301); err != nil {
		t.Errorf("Iterative(forward, 150, 301): %v", err)
	}
}

// TestPaperRule checks every epoch of many schedules against a direct
// transcription of the paper's code: before each epoch,
// layer = epoch // E; if layer < n: binarize order[layer].
func TestPaperRule(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for e := 1; e <= 4; e++ {
			for extra := 1; extra <= 5; extra++ {
				total := (n-1)*e + extra
				order := Random(n, int64(100*n+10*e+extra))
				s, err := Iterative(order, e, total)
				if err != nil {
					t.Fatalf("n=%d E=%d total=%d: %v", n, e, total, err)
				}
				binary := make([]bool, n)
				for epoch := range total + 3 {
					if layer := epoch / e; layer < n {
						binary[order[layer]] = true
					}
					want := []int{}
					for l, b := range binary {
						if b {
							want = append(want, l)
						}
					}
					if got := s.BinaryLayers(epoch); !slices.Equal(got, want) {
						t.Fatalf("order %v E=%d total=%d epoch %d: BinaryLayers = %v, paper rule gives %v",
							order, e, total, epoch, got, want)
					}
				}
			}
		}
	}
}

func TestModesPanicsOnNegativeEpoch(t *testing.T) {
	s, _ := Iterative(Forward(2), 1, 2)
	for name, f := range map[string]func(){
		"Modes":        func() { s.Modes(-1) },
		"BinaryLayers": func() { s.BinaryLayers(-1) },
		"StageAt":      func() { s.StageAt(-1) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "negative epoch -1") {
					t.Errorf("%s(-1) recovered %v, want a panic about negative epoch -1", name, r)
				}
			}()
			f()
		}()
	}
}

func TestResultsAreCopies(t *testing.T) {
	order := []int{1, 0}
	s, err := Iterative(order, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	order[0] = 0 // the schedule kept its own copy
	s.Modes(0)[0] = binnet.Frozen
	s.BinaryLayers(0)[0] = 99
	s.Order()[0] = 99
	s.Config().Order[0] = 99
	s.Stages()[0].Modes[0] = binnet.Frozen
	s.Stages()[0].Binary[0] = 99
	checkStages(t, s, []wantStage{
		{0, 1, []binnet.Mode{F, B}},
		{1, 2, []binnet.Mode{B, B}},
	})
}

func TestConfigRoundTrip(t *testing.T) {
	c := Config{NumLayers: 4, Kind: KindIterative, Order: []int{3, 1, 0, 2}, EpochsPerStage: 2, TotalEpochs: 9, FreezeBinarized: true}
	s := mustNew(t, c)
	got := s.Config()
	if got.LayersPerStage != 1 {
		t.Errorf("LayersPerStage default = %d, want 1", got.LayersPerStage)
	}
	s2 := mustNew(t, got)
	if s.String() != s2.String() {
		t.Errorf("New(s.Config()) differs:\n%s\nvs\n%s", s, s2)
	}
}

func TestString(t *testing.T) {
	iter, _ := Iterative([]int{0, 2, 1}, 2, 6)
	long, _ := Iterative(Forward(3), 150, 451)
	frozen := mustNew(t, Config{NumLayers: 3, Kind: KindIterative, Order: Forward(3), EpochsPerStage: 1, TotalEpochs: 3, FreezeBinarized: true})
	pairs := mustNew(t, Config{NumLayers: 3, Kind: KindIterative, Order: Reverse(3), EpochsPerStage: 1, LayersPerStage: 2, TotalEpochs: 12})
	float, _ := Float(2, 1)
	binary, _ := AllBinary(1, 10)
	ten, _ := Iterative(Forward(10), 1, 10)
	fixed1, _ := Fixed(3, []int{1}, 4)
	fixed2, _ := Fixed(3, []int{2, 0}, 4)
	for _, tc := range []struct {
		s    *Schedule
		want string
	}{
		{iter, `iterative schedule: 3 layers, order 1,3,2, 1 layer and 2 epochs per stage, 6 epochs
stage  epochs  binary layers
    1  1-2     1
    2  3-4     1,3
    3  5-6     1,2,3
`},
		{long, `iterative schedule: 3 layers, order 1,2,3, 1 layer and 150 epochs per stage, 451 epochs
stage  epochs   binary layers
    1  1-150    1
    2  151-300  1,2
    3  301-451  1,2,3
`},
		{frozen, `iterative schedule: 3 layers, order 1,2,3, 1 layer and 1 epoch per stage, 3 epochs, earlier stages frozen
stage  epochs  binary layers
    1  1       1
    2  2       1*,2
    3  3       1*,2*,3
* frozen: sign weights, no more updates
`},
		{pairs, `iterative schedule: 3 layers, order 3,2,1, 2 layers and 1 epoch per stage, 12 epochs
stage  epochs  binary layers
    1  1       2,3
    2  2-12    1,2,3
`},
		{float, `float schedule: 2 layers, 1 epoch, no layer binarized
stage  epochs  binary layers
    1  1       none
`},
		{binary, `binary schedule: 1 layer, 10 epochs, all layers binary from epoch 1
stage  epochs  binary layers
    1  1-10    1
`},
		{fixed1, `fixed schedule: 3 layers, 4 epochs, layer 2 binary from epoch 1, the others float
stage  epochs  binary layers
    1  1-4     2
`},
		{fixed2, `fixed schedule: 3 layers, 4 epochs, layers 1,3 binary from epoch 1, the others float
stage  epochs  binary layers
    1  1-4     1,3
`},
		{ten, `iterative schedule: 10 layers, order 1,2,3,4,5,6,7,8,9,10, 1 layer and 1 epoch per stage, 10 epochs
stage  epochs  binary layers
    1  1       1
    2  2       1,2
    3  3       1,2,3
    4  4       1,2,3,4
    5  5       1,2,3,4,5
    6  6       1,2,3,4,5,6
    7  7       1,2,3,4,5,6,7
    8  8       1,2,3,4,5,6,7,8
    9  9       1,2,3,4,5,6,7,8,9
   10  10      1,2,3,4,5,6,7,8,9,10
`},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() =\n%s\nwant\n%s", got, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	it := func(n int, order []int, e, total int) Config {
		return Config{NumLayers: n, Kind: KindIterative, Order: order, EpochsPerStage: e, TotalEpochs: total}
	}
	for _, tc := range []struct {
		name string
		c    Config
		want []string // substrings of the error
	}{
		{"no layers", Config{NumLayers: 0, Kind: KindFloat, TotalEpochs: 1}, []string{"NumLayers must be >= 1, got 0"}},
		{"negative layers", it(-2, nil, 1, 1), []string{"NumLayers must be >= 1, got -2"}},
		{"too many layers", Config{NumLayers: MaxLayers + 1, Kind: KindBinary, TotalEpochs: 1}, []string{"NumLayers 1048577"}},
		{"no epochs", it(2, Forward(2), 1, 0), []string{"TotalEpochs must be >= 1, got 0"}},
		{"kind unset", Config{NumLayers: 2, TotalEpochs: 3}, []string{"Kind is not set"}},
		{"kind unknown", Config{NumLayers: 2, Kind: 9, TotalEpochs: 3}, []string{"unknown Kind(9)"}},
		{"E zero", it(2, Forward(2), 0, 5), []string{"EpochsPerStage must be >= 1", "got 0"}},
		{"E negative", it(2, Forward(2), -3, 5), []string{"EpochsPerStage must not be negative, got -3"}},
		{"E negative float", Config{NumLayers: 2, Kind: KindFloat, EpochsPerStage: -1, TotalEpochs: 5}, []string{"EpochsPerStage must not be negative, got -1"}},
		{"layers per stage negative", Config{NumLayers: 2, Kind: KindIterative, Order: Forward(2), EpochsPerStage: 1, LayersPerStage: -1, TotalEpochs: 5},
			[]string{"LayersPerStage must not be negative, got -1"}},
		{"order on float", Config{NumLayers: 2, Kind: KindFloat, Order: []int{1, 0}, TotalEpochs: 5}, []string{"float schedule takes no Order", "2,1"}},
		{"freeze on binary", Config{NumLayers: 2, Kind: KindBinary, FreezeBinarized: true, TotalEpochs: 5}, []string{"FreezeBinarized needs an iterative schedule"}},
		{"no order", it(3, nil, 1, 5), []string{"empty layer order", "1..3"}},
		{"missing layer", it(3, []int{0, 2}, 1, 5), []string{"1,3 lists 2 of the 3 layers: missing 2"}},
		{"repeated layer", it(3, []int{0, 2, 0}, 1, 5), []string{"layer 1 appears twice (positions 1 and 3)"}},
		{"out of range", it(3, []int{0, 3, 1}, 1, 5), []string{"position 2: layer 4 is out of range 1..3"}},
		{"negative layer", it(3, []int{0, -1, 1}, 1, 5), []string{"position 2: layer 0 is out of range 1..3"}},
		{"too long", it(2, []int{0, 1, 1}, 1, 5), []string{"layer 2 appears twice (positions 2 and 3)"}},
		{"more stages than epochs", it(3, Forward(3), 150, 300),
			[]string{"more stages than epochs", "3 stages", "150 epochs", "at least 301", "got 300"}},
		{"more stages than epochs per 2", Config{NumLayers: 5, Kind: KindIterative, Order: Forward(5), EpochsPerStage: 3, LayersPerStage: 2, TotalEpochs: 6},
			[]string{"more stages than epochs", "5 layers at 2 layers per stage make 3 stages", "at least 7", "got 6"}},
		{"binary on iterative", Config{NumLayers: 2, Kind: KindIterative, Order: Forward(2), Binary: []int{1}, EpochsPerStage: 1, TotalEpochs: 5},
			[]string{"iterative schedule takes no Binary layer list, got 2", "KindFixed"}},
		{"fixed without layers", Config{NumLayers: 2, Kind: KindFixed, TotalEpochs: 5}, []string{"fixed schedule needs at least one layer in Binary"}},
		{"fixed out of range", Config{NumLayers: 2, Kind: KindFixed, Binary: []int{0, 2}, TotalEpochs: 5},
			[]string{"Binary layers 1,3: position 2: layer 3 is out of range 1..2"}},
		{"fixed repeated", Config{NumLayers: 3, Kind: KindFixed, Binary: []int{1, 1}, TotalEpochs: 5}, []string{"Binary layers 2,2: layer 2 appears twice"}},
		{"fixed with order", Config{NumLayers: 3, Kind: KindFixed, Binary: []int{1}, Order: Forward(3), TotalEpochs: 5}, []string{"fixed schedule takes no Order"}},
		{"fixed frozen", Config{NumLayers: 3, Kind: KindFixed, Binary: []int{1}, FreezeBinarized: true, TotalEpochs: 5}, []string{"FreezeBinarized needs an iterative schedule"}},
		{"huge E", it(3, Forward(3), math.MaxInt, 10), []string{"schedule: more stages than epochs: 3 layers at 1 layer per stage make 3 stages of 9223372036854775807 epochs; " +
			"the last stage would start at epoch more than 9223372036854775807, beyond any TotalEpochs: " +
			"fewer epochs per stage are needed for the last layer to train binary for at least one epoch, got TotalEpochs 10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c)
			if err == nil {
				t.Fatalf("New(%+v) succeeded:\n%s", tc.c, s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "schedule: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// Iterative derives NumLayers from the order.
	if _, err := Iterative(nil, 1, 1); err == nil || !strings.Contains(err.Error(), "NumLayers must be >= 1") {
		t.Errorf("Iterative(nil) error = %v", err)
	}
	if _, err := Float(0, 1); err == nil {
		t.Error("Float(0, 1) succeeded")
	}
	if _, err := AllBinary(1, 0); err == nil {
		t.Error("AllBinary(1, 0) succeeded")
	}
}

func TestForwardReverse(t *testing.T) {
	if got := Forward(4); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("Forward(4) = %v", got)
	}
	if got := Reverse(4); !slices.Equal(got, []int{3, 2, 1, 0}) {
		t.Errorf("Reverse(4) = %v", got)
	}
	if len(Forward(0)) != 0 || len(Reverse(-1)) != 0 || len(Random(0, 1)) != 0 {
		t.Error("n <= 0 must give empty orders")
	}
}

func TestRandom(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for seed := int64(-3); seed <= 3; seed++ {
			a, b := Random(n, seed), Random(n, seed)
			if !slices.Equal(a, b) {
				t.Fatalf("Random(%d, %d) not deterministic: %v vs %v", n, seed, a, b)
			}
			if err := ValidatePermutation(a, n); err != nil {
				t.Fatalf("Random(%d, %d) = %v: %v", n, seed, a, err)
			}
		}
	}
	// Different seeds give different orders (for enough layers).
	seen := map[string]int64{}
	for seed := int64(0); seed < 50; seed++ {
		k := FormatPermutation(Random(8, seed))
		if prev, ok := seen[k]; ok {
			t.Errorf("Random(8, %d) = Random(8, %d) = %s", seed, prev, k)
		}
		seen[k] = seed
	}
	// Every order of 3 layers shows up: the shuffle is not stuck.
	all := map[string]bool{}
	for seed := int64(0); seed < 200; seed++ {
		all[FormatPermutation(Random(3, seed))] = true
	}
	if len(all) != 6 {
		t.Errorf("Random(3, 0..199) gave %d of the 6 orders: %v", len(all), all)
	}
	// Pinned values: changing them changes every recorded random run.
	for _, tc := range []struct {
		n    int
		seed int64
		want string
	}{
		{5, 1, "5,1,4,2,3"},
		{8, 42, "2,4,7,3,1,8,6,5"},
	} {
		if got := FormatPermutation(Random(tc.n, tc.seed)); got != tc.want {
			t.Errorf("Random(%d, %d) = %s, want the pinned %s", tc.n, tc.seed, got, tc.want)
		}
	}
}

func TestParsePermutation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want []int
	}{
		{"1,3,2", 3, []int{0, 2, 1}},
		{" 2 , 1 ", 2, []int{1, 0}},
		{"1", 1, []int{0}},
	} {
		got, err := ParsePermutation(tc.in, tc.n)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePermutation(%q, %d) = %v, %v; want %v", tc.in, tc.n, got, err, tc.want)
		}
		if back := FormatPermutation(got); strings.ReplaceAll(tc.in, " ", "") != back {
			t.Errorf("FormatPermutation(%v) = %q, want %q", got, back, tc.in)
		}
	}
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, "empty layer order"},
		{"1,,2", 3, `position 2 is empty`},
		{"1,x,2", 3, `position 2: "x" is not a layer number`},
		{"1,2,0", 3, "position 3: layer 0 is out of range 1..3"},
		{"1,4,2", 3, "position 2: layer 4 is out of range 1..3"},
		{"1,2,99999999999999999999", 3, "position 3"},
		{"2,2,1", 3, "layer 2 appears twice (positions 1 and 2)"},
		{"3,1", 3, "missing 2"},
		{"1", 25, "missing 2,3,4,5,6,7,8,9,10,11 and 14 more"},
		{"1,2", 0, "number of layers must be >= 1"},
	} {
		_, err := ParsePermutation(tc.in, tc.n)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePermutation(%q, %d) error = %v, want it to contain %q", tc.in, tc.n, err, tc.want)
		}
	}
}

func TestParseOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  Kind
		order []int
	}{
		{"float", KindFloat, nil},
		{"Binary", KindBinary, nil},
		{"forward", KindIterative, []int{0, 1, 2, 3}},
		{" REVERSE ", KindIterative, []int{3, 2, 1, 0}},
		{"random", KindIterative, Random(4, 7)},
		{"2,4,1,3", KindIterative, []int{1, 3, 0, 2}},
	} {
		k, o, err := ParseOrder(tc.name, 4, 7)
		if err != nil || k != tc.kind || !slices.Equal(o, tc.order) {
			t.Errorf("ParseOrder(%q) = %v, %v, %v; want %v, %v", tc.name, k, o, err, tc.kind, tc.order)
		}
	}
	for _, name := range []string{"ascend", "Descend"} {
		_, _, err := ParseOrder(name, 4, 7)
		if !errors.Is(err, ErrNeedsSensitivity) || !strings.Contains(err.Error(), "sensitivity") {
			t.Errorf("ParseOrder(%q) error = %v, want ErrNeedsSensitivity", name, err)
		}
		if !NeedsSensitivity(name) {
			t.Errorf("NeedsSensitivity(%q) = false", name)
		}
	}
	if NeedsSensitivity("forward") {
		t.Error(`NeedsSensitivity("forward") = true`)
	}
	for _, tc := range []struct{ name, want string }{
		{"sideways", `unknown order "sideways": want float, binary, forward, reverse, random, ascend, descend`},
		{"", "empty order name"},
		{"1,2", "missing 3,4"},
	} {
		_, _, err := ParseOrder(tc.name, 4, 7)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseOrder(%q) error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := ParseOrder("forward", 0, 0); err == nil {
		t.Error("ParseOrder with 0 layers succeeded")
	}
}

func TestKind(t *testing.T) {
	for _, k := range []Kind{KindFloat, KindBinary, KindIterative, KindFixed} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("forward"); err == nil {
		t.Error(`ParseKind("forward") succeeded`)
	}
	if _, err := Kind(0).MarshalText(); err == nil {
		t.Error("Kind(0).MarshalText succeeded")
	}
}

func TestJSON(t *testing.T) {
	s := mustNew(t, Config{NumLayers: 3, Kind: KindIterative, Order: []int{0, 2, 1}, EpochsPerStage: 2, TotalEpochs: 7, FreezeBinarized: true})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"iterative","num_layers":3,"order":[1,3,2],"epochs_per_stage":2,"layers_per_stage":1,"total_epochs":7,"freeze_binarized":true,` +
		`"stages":[{"stage":1,"first_epoch":1,"last_epoch":2,"binary":[1]},` +
		`{"stage":2,"first_epoch":3,"last_epoch":4,"binary":[1,3],"frozen":[1]},` +
		`{"stage":3,"first_epoch":5,"last_epoch":7,"binary":[1,2,3],"frozen":[1,3]}]}`
	if string(b) != want {
		t.Errorf("json.Marshal =\n%s\nwant\n%s", b, want)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != s.String() || !slices.Equal(back.Order(), s.Order()) {
		t.Errorf("round trip:\n%s\nwant\n%s", &back, s)
	}

	f, _ := Float(2, 3)
	b, _ = json.Marshal(f)
	if want := `{"kind":"float","num_layers":2,"total_epochs":3,"stages":[{"stage":1,"first_epoch":1,"last_epoch":3,"binary":[]}]}`; string(b) != want {
		t.Errorf("float JSON = %s, want %s", b, want)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Kind() != KindFloat {
		t.Errorf("float round trip: %v, %v", back.Kind(), err)
	}

	fx, _ := Fixed(3, []int{2}, 4)
	b, _ = json.Marshal(fx)
	if want := `{"kind":"fixed","num_layers":3,"binary_layers":[3],"total_epochs":4,"stages":[{"stage":1,"first_epoch":1,"last_epoch":4,"binary":[3]}]}`; string(b) != want {
		t.Errorf("fixed JSON = %s, want %s", b, want)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Kind() != KindFixed || !slices.Equal(back.Config().Binary, []int{2}) {
		t.Errorf("fixed round trip: %v, %v, %v", back.Kind(), back.Config().Binary, err)
	}

	for _, tc := range []struct{ in, want string }{
		{`{"kind":"fixed","num_layers":3,"binary_layers":[4],"total_epochs":3}`, "layer 4 is out of range 1..3"},
		{`{"kind":"iterative","num_layers":3,"order":[1,3,3],"epochs_per_stage":1,"total_epochs":3}`, "layer 3 appears twice"},
		{`{"kind":"iterative","num_layers":3,"order":[1,3,2],"epochs_per_stage":1,"total_epochs":2}`, "at least 3"},
		{`{"kind":"sideways","num_layers":3,"total_epochs":2}`, `unknown kind "sideways"`},
		{`{"kind":"float","num_layers":3,"total_epochs":2,"extra":1}`, `unknown field "extra"`},
		{`{"num_layers":3,"total_epochs":2}`, "Kind is not set"},
	} {
		var s Schedule
		err := json.Unmarshal([]byte(tc.in), &s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) error = %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

// TestTooFewEpochsError: the error of too few epochs is a
// *TooFewEpochsError, whose Explain says it in a caller's terms.
func TestTooFewEpochsError(t *testing.T) {
	_, err := New(Config{NumLayers: 3, Kind: KindIterative, Order: Forward(3), EpochsPerStage: 150, TotalEpochs: 1})
	var e *TooFewEpochsError
	if !errors.As(err, &e) || e.Stages != 3 || e.EpochsPerStage != 150 || e.TotalEpochs != 1 || e.Need() != "301" {
		t.Fatalf("New with 1 epoch: %#v, %v; want a TooFewEpochsError of 3 stages of 150, 1 epoch, needing 301", e, err)
	}
	want := "more stages than epochs: 3 layers at 1 layer per stage make 3 stages of 150 epochs (-epochs-per-layer 150); " +
		"the last stage starts at epoch 301, so -epochs must be at least 301 for the last layer to train binary for at least one epoch, got 1 (given)"
	if got := e.Explain("-epochs", "-epochs-per-layer 150", "given"); got != want {
		t.Errorf("Explain:\n got %s\nwant %s", got, want)
	}
	if got := err.Error(); !strings.HasPrefix(got, "schedule: more stages than epochs") || !strings.Contains(got, "150 epochs; the last") ||
		!strings.Contains(got, "so TotalEpochs must be at least 301") {
		t.Errorf("Error: %s", got)
	}
}

// TestHugeCounts checks that layer counts beyond MaxLayers are refused
// before anything is allocated for them, and that a LayersPerStage as large
// as an int goes is one stage rather than an overflow.
func TestHugeCounts(t *testing.T) {
	const want = "schedule: number of layers 1099511627776 is more than the 1048576 layers a schedule supports"
	for _, name := range []string{"forward", "reverse", "random", "float", "1,2", "x.json"} {
		if _, _, err := ParseOrder(name, 1<<40, 0); err == nil || err.Error() != want {
			t.Errorf("ParseOrder(%q, 1<<40) error = %v, want %q", name, err, want)
		}
	}
	if _, err := ParsePermutation("1,2", 1<<40); err == nil || err.Error() != want {
		t.Errorf("ParsePermutation(1<<40) error = %v, want %q", err, want)
	}
	if err := ValidatePermutation([]int{0}, 1<<40); err == nil || err.Error() != want {
		t.Errorf("ValidatePermutation(1<<40) error = %v, want %q", err, want)
	}
	if _, err := ReadOrderFile("x.json", 1<<40, nil); err == nil || err.Error() != want {
		t.Errorf("ReadOrderFile(1<<40) error = %v, want %q", err, want)
	}
	// MaxLayers itself is accepted.
	if _, order, err := ParseOrder("reverse", MaxLayers, 0); err != nil || len(order) != MaxLayers || order[0] != MaxLayers-1 {
		t.Errorf("ParseOrder(reverse, MaxLayers) = %d layers starting %v, %v", len(order), order[:min(len(order), 1)], err)
	}

	for _, lps := range []int{4, 1 << 62, math.MaxInt} {
		s, err := New(Config{NumLayers: 3, Kind: KindIterative, Order: []int{0, 1, 2},
			EpochsPerStage: 1, LayersPerStage: lps, TotalEpochs: 5})
		if err != nil {
			t.Fatalf("LayersPerStage %d: %v", lps, err)
		}
		st := s.Stages()
		if len(st) != 1 || !slices.Equal(st[0].Binary, []int{0, 1, 2}) || st[0].EndEpoch != 5 {
			t.Errorf("LayersPerStage %d: stages %+v, want one stage binarizing 1,2,3 for 5 epochs", lps, st)
		}
	}
	// Near the overflow with several stages.
	s, err := New(Config{NumLayers: 3, Kind: KindIterative, Order: []int{2, 1, 0},
		EpochsPerStage: 1, LayersPerStage: 2, TotalEpochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stages(); len(st) != 2 || !slices.Equal(st[0].Binary, []int{1, 2}) || !slices.Equal(st[1].Binary, []int{0, 1, 2}) {
		t.Errorf("LayersPerStage 2: stages %+v", st)
	}
}
