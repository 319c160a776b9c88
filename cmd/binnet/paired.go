package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The paired table of report -paired: every order against a baseline, seed by seed.

// pairedMetrics are the figures report -paired-by compares seed by seed,
// with what the paired table calls them.
var pairedMetrics = []struct{ name, what string }{
	{"test", "test accuracy (last epoch)"},
	{"tail", "mean test accuracy of the last %d epochs"},
	{"best", "best test accuracy of the last stage"},
	{"official", "best test accuracy of any epoch (the official scripts' figure)"},
}

// writePaired writes the table of report -paired: each group's finished
// runs against those of the baseline order with the same model, data,
// settings and number of epochs, seed by seed (keys in the main table's
// order), by the figure metric names (pairedMetrics; tail is -tail's
// number of epochs). When no order shares a seed with the baseline, a line
// says so instead of a table of its header alone.
func writePaired(w io.Writer, groups map[reportKey]*reportGroup, keys []reportKey, protocolOf func(reportKey) string, baseline, metric string, tail int) error {
	type pairKey struct {
		model, dataset string
		epochs         int
		settings       runSettings
	}
	pairOf := func(k reportKey) pairKey { return pairKey{k.model, k.dataset, groups[k].epochs, k.settings} }
	base := map[pairKey]map[int64]float64{}
	for _, k := range keys {
		if k.order == baseline && len(groups[k].bySeed[metric]) > 0 {
			base[pairOf(k)] = groups[k].bySeed[metric]
		}
	}
	if len(base) == 0 {
		if metric != "test" {
			return fmt.Errorf("-paired %s -paired-by %s: no finished runs of order %q with that figure (made with train -test-each-epoch)", baseline, metric, baseline)
		}
		return fmt.Errorf("-paired %s: no finished runs of order %q (the orders are named as in the table's order column)", baseline, baseline)
	}
	column := "test accuracy difference"
	if metric != "test" {
		i := slices.IndexFunc(pairedMetrics, func(m struct{ name, what string }) bool { return m.name == metric })
		column = "difference in " + pairedMetrics[i].what
		if metric == "tail" {
			column = fmt.Sprintf(column, tail)
		}
	}
	var rows []string
	for _, k := range keys {
		b := base[pairOf(k)]
		if b == nil || k.order == baseline {
			continue
		}
		test := groups[k].bySeed[metric]
		var seeds []int64
		for s := range test {
			if _, ok := b[s]; ok {
				seeds = append(seeds, s)
			}
		}
		if len(seeds) == 0 {
			continue
		}
		slices.Sort(seeds)
		var diffs []float64
		ahead := 0
		for _, s := range seeds {
			d := test[s] - b[s]
			diffs = append(diffs, d)
			if d > 0 {
				ahead++
			}
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %d of %d |\n", k.model, k.dataset, protocolOf(k), k.order, baseline,
			joinSeeds(seeds), signedMeanStd(diffs, 4), confidence95(diffs, 4), ahead, len(seeds)))
	}
	if len(rows) == 0 {
		// A table of its header alone would look like a result.
		figure := ""
		if metric != "test" {
			figure = fmt.Sprintf(", with the figure -paired-by %s compares", metric)
		}
		fmt.Fprintf(w, "\nNo paired table: no other order has finished runs of the seeds of %s's runs with the same model, data, settings and number of epochs%s.\n",
			baseline, figure)
		return nil
	}
	fmt.Fprintf(w, "\n| model | data | protocol | order | against | seeds | %s | 95%% confidence interval of the mean difference | ahead on |\n", column)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, row := range rows {
		fmt.Fprint(w, row)
	}
	return nil
}

// signedMeanStd is meanStd with the mean's sign always written.
func signedMeanStd(v []float64, prec int) string {
	s := meanStd(v, prec)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}
