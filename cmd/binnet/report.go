package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("report", "Summarizes the results.json and sensitivity.json files found under a folder as\nMarkdown tables: test accuracy per model, protocol and order, as mean ± standard\ndeviation over seeds, with training times.", stderr)
	dir := flags.String("runs", "binnet-runs", "folder to search")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	type key struct {
		model, dataset, protocol, order string
	}
	type agg struct {
		test, val, sec []float64
		seeds          []int64
		running        int
	}
	groups := map[key]*agg{}
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
			k := key{model: r.Model, dataset: r.Dataset, order: r.Order, protocol: protocol(r.Schedule)}
			a := groups[k]
			if a == nil {
				a = &agg{}
				groups[k] = a
			}
			if r.Status != training.StatusCompleted {
				a.running++
				return nil
			}
			a.test = append(a.test, r.TestAccuracy)
			a.val = append(a.val, r.History[len(r.History)-1].ValAccuracy)
			a.sec = append(a.sec, r.TrainSeconds)
			a.seeds = append(a.seeds, r.Seed)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var keys []key
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
		return orderRank(a.order) < orderRank(b.order) || orderRank(a.order) == orderRank(b.order) && a.order < b.order
	})
	fmt.Fprintln(stdout, "| model | data | protocol | order | runs | test accuracy | final val accuracy | train time per run (s) |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|")
	for _, k := range keys {
		a := groups[k]
		if len(a.test) == 0 {
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %d running | | | |\n", k.model, k.dataset, k.protocol, k.order, a.running)
			continue
		}
		runs := fmt.Sprintf("%d (seeds %s)", len(a.test), joinSeeds(a.seeds))
		if a.running > 0 {
			runs += fmt.Sprintf(", %d running", a.running)
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", k.model, k.dataset, k.protocol, k.order, runs,
			meanStd(a.test, 4), meanStd(a.val, 4), meanStd(a.sec, 0))
	}
	if len(sens) > 0 {
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

// protocol describes a schedule's length, e.g. "40 epochs, 10/layer".
func protocol(s *schedule.Schedule) string {
	if s == nil {
		return "?"
	}
	if s.Kind() == schedule.KindIterative {
		return fmt.Sprintf("%d epochs, %d/layer", s.TotalEpochs(), s.EpochsPerStage())
	}
	return fmt.Sprintf("%d epochs", s.TotalEpochs())
}

func orderRank(o string) int {
	for i, n := range []string{"float", "binary", "forward", "reverse", "ascend", "descend", "random"} {
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
