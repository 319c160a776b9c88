package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// reportRun is one training run found by report.
type reportRun struct {
	res      *training.Results
	protocol string
	order    string // the order's canonical name: float, binary, forward, reverse, or the permutation
}

// reportKey groups runs that differ only by seed.
type reportKey struct {
	model, dataset, protocol, order string
}

type reportGroup struct {
	test, val, sec []float64
	seeds          []int64
	// Runs without a test accuracy: still running (or killed), stopped by
	// an interrupt (both resume when re-run), failed (diverged).
	running, interrupted, failed int
}

func (g *reportGroup) add(r *training.Results) {
	switch {
	case r.Interrupted():
		g.interrupted++
		return
	case r.Status == training.StatusFailed:
		g.failed++
		return
	case r.Status != training.StatusCompleted || len(r.History) == 0:
		g.running++
		return
	}
	g.test = append(g.test, r.TestAccuracy)
	g.val = append(g.val, r.History[len(r.History)-1].ValAccuracy)
	g.sec = append(g.sec, r.TrainSeconds)
	g.seeds = append(g.seeds, r.Seed)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("report", "Summarizes the results.json and sensitivity.json files found under a folder as\nMarkdown tables: test accuracy per model, protocol and order, as mean ± standard\ndeviation over seeds, with training times. Guided orders are reported too: for\neach sensitivity result, the runs of the same model, data and seed whose order is\nits ascend (or descend) order (preferring a sensitivity result whose epochs equal\nthe run's epochs per layer).", stderr)
	dir := flags.String("runs", "binnet-runs", "folder to search")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	var runs []reportRun
	var sens []*sensitivity.Result
	err := filepath.WalkDir(*dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Name() {
		case sensitivity.ResultFile:
			r, err := sensitivity.ReadResult(path)
			if err != nil {
				return err
			}
			sens = append(sens, r)
		case training.ResultsFile:
			if strings.Contains(filepath.ToSlash(path), "/layer-") {
				return nil // a sensitivity run's layer
			}
			r, err := training.ReadResults(path)
			if err != nil {
				return err
			}
			runs = append(runs, reportRun{res: r, protocol: protocol(r.Schedule), order: canonicalOrder(r)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	groups := map[reportKey]*reportGroup{}
	group := func(k reportKey) *reportGroup {
		if groups[k] == nil {
			groups[k] = &reportGroup{}
		}
		return groups[k]
	}
	for _, r := range runs {
		group(reportKey{r.res.Model, dataName(r.res), r.protocol, r.order}).add(r.res)
	}
	// Guided orders: the permutation runs that a sensitivity result of the
	// same model, data and seed picks. A sensitivity result trained with as
	// many epochs per layer as the run's stages is preferred; without one,
	// the only sensitivity result of that model, data and seed counts, and
	// the label says its epochs.
	for _, r := range runs {
		sch := r.res.Schedule
		if sch == nil || sch.Kind() != schedule.KindIterative {
			continue
		}
		perm := schedule.FormatPermutation(sch.Order())
		type match struct {
			name   string
			epochs int
		}
		var exact, any []match
		results := 0
		for _, s := range sens {
			if s.Model != r.res.Model || s.Dataset != r.res.Dataset || s.Seed != r.res.Seed {
				continue
			}
			results++
			for _, guided := range []struct {
				name  string
				order []int
			}{{"ascend", s.OrderAscend}, {"descend", s.OrderDescend}} {
				if schedule.FormatPermutation(zeroBased(guided.order)) != perm {
					continue
				}
				m := match{guided.name, s.Epochs}
				any = append(any, m)
				if s.Epochs == sch.EpochsPerStage() {
					exact = append(exact, m)
				}
			}
		}
		if len(exact) > 0 {
			for _, m := range exact {
				group(reportKey{r.res.Model, dataName(r.res), r.protocol, m.name + " (guided)"}).add(r.res)
			}
			continue
		}
		if results != 1 {
			continue // several sensitivity protocols, none with this run's epochs: no pairing
		}
		for _, m := range any {
			group(reportKey{r.res.Model, dataName(r.res), r.protocol, fmt.Sprintf("%s (guided, %d-epoch sensitivity)", m.name, m.epochs)}).add(r.res)
		}
	}
	var keys []reportKey
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.model != b.model {
			return a.model < b.model
		}
		if a.protocol != b.protocol {
			return a.protocol < b.protocol
		}
		if orderRank(a.order) != orderRank(b.order) {
			return orderRank(a.order) < orderRank(b.order)
		}
		return a.order < b.order
	})
	fmt.Fprintln(stdout, "| model | data | protocol | order | runs | test accuracy | final val accuracy | train time per run (s) |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|")
	for _, k := range keys {
		g := groups[k]
		var parts []string
		if len(g.test) > 0 {
			parts = append(parts, fmt.Sprintf("%d (seeds %s)", len(g.test), joinSeeds(g.seeds)))
		}
		for _, c := range []struct {
			n    int
			what string
		}{{g.failed, "failed"}, {g.interrupted, "interrupted"}, {g.running, "running"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		runs := strings.Join(parts, ", ")
		if len(g.test) == 0 {
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | | | |\n", k.model, k.dataset, k.protocol, k.order, runs)
			continue
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", k.model, k.dataset, k.protocol, k.order, runs,
			meanStd(g.test, 4), meanStd(g.val, 4), meanStd(g.sec, 0))
	}
	if len(sens) > 0 {
		sort.Slice(sens, func(i, j int) bool {
			a, b := sens[i], sens[j]
			if a.Model != b.Model || a.Epochs != b.Epochs {
				return a.Model < b.Model || a.Model == b.Model && a.Epochs < b.Epochs
			}
			return a.Seed < b.Seed
		})
		fmt.Fprintln(stdout, "\n| model | data | epochs | seed | layer val accuracies | order ascend | order descend | seconds |")
		fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|")
		for _, r := range sens {
			var accs []string
			total := 0.0
			for _, l := range r.Layers {
				accs = append(accs, fmt.Sprintf("%d: %.4f", l.Layer, l.ValAccuracy))
				total += l.Seconds
			}
			fmt.Fprintf(stdout, "| %s | %s | %d | %d | %s | %s | %s | %.0f |\n", r.Model, r.Dataset, r.Epochs, r.Seed,
				strings.Join(accs, ", "), schedule.FormatPermutation(zeroBased(r.OrderAscend)), schedule.FormatPermutation(zeroBased(r.OrderDescend)), total)
		}
	}
	return nil
}

// canonicalOrder names a run's order by its schedule: float, binary, forward
// and reverse by name, other iterative orders by their permutation.
func canonicalOrder(r *training.Results) string {
	s := r.Schedule
	if s == nil {
		return r.Order
	}
	switch s.Kind() {
	case schedule.KindFloat:
		return "float"
	case schedule.KindBinary:
		return "binary"
	case schedule.KindIterative:
		o := s.Order()
		switch {
		case slices.Equal(o, schedule.Forward(len(o))):
			return "forward"
		case slices.Equal(o, schedule.Reverse(len(o))):
			return "reverse"
		}
		return schedule.FormatPermutation(o)
	}
	return r.Order
}

// protocol describes a schedule's length, e.g. "40 epochs, 10/layer", or
// "6 epochs, 1/stage of 4 layers" when stages binarize several layers.
func protocol(s *schedule.Schedule) string {
	if s == nil {
		return "?"
	}
	if s.Kind() == schedule.KindIterative {
		if lps := s.Config().LayersPerStage; lps > 1 {
			return fmt.Sprintf("%d epochs, %d/stage of %d layers", s.TotalEpochs(), s.EpochsPerStage(), lps)
		}
		return fmt.Sprintf("%d epochs, %d/layer", s.TotalEpochs(), s.EpochsPerStage())
	}
	return fmt.Sprintf("%d epochs", s.TotalEpochs())
}

// dataName names a run's data with its training-set size, e.g. "mnist, 55000 train".
func dataName(r *training.Results) string {
	return fmt.Sprintf("%s, %d train", r.Dataset, r.TrainExamples)
}

func orderRank(o string) int {
	for i, n := range []string{"float", "binary", "forward", "reverse", "ascend (guided)", "descend (guided)"} {
		if o == n {
			return i
		}
	}
	return 100
}

func joinSeeds(s []int64) string {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var out []string
	for _, v := range s {
		out = append(out, fmt.Sprint(v))
	}
	return strings.Join(out, ",")
}
