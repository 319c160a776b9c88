package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/binnet/binnet/binnet/quant"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// reportRun is one training run found by report.
type reportRun struct {
	dir      string // the folder of its results.json
	res      *training.Results
	protocol string
	order    string // the order's canonical name: float, binary, forward, reverse, or the permutation
	settings runSettings
	// stopped: its results.json says running but no process holds its
	// folder's lock (killed, or its machine stopped).
	stopped bool
}

// runSettings are the training settings, other than the model, data,
// schedule and seed, that make runs comparable: runs that differ in any of
// them are reported in separate rows.
type runSettings struct {
	optimizer                 string
	lr, momentum, weightDecay float64
	batch                     int
	quantizer                 string
	val, test                 int // examples of the validation and test sets (the training set's are in the data column)
	clip, reset               bool
	lrSchedule                string // the learning-rate milestones and factor, e.g. "200,250 x0.1"; "none"
}

// settingsOf returns the settings of a run; a results.json that names no
// optimizer or quantizer ran with the defaults (Adam, ste_sign).
func settingsOf(r *training.Results) runSettings {
	s := runSettings{optimizer: r.Optimizer.Name, lr: r.Optimizer.LearningRate, momentum: r.Optimizer.Momentum,
		weightDecay: r.Optimizer.WeightDecay, batch: r.BatchSize, quantizer: r.Quantizer,
		val: r.ValExamples, test: r.TestExamples, clip: r.ClipLatent, reset: r.ResetLatent, lrSchedule: lrScheduleOf(r)}
	if s.optimizer == "" {
		s.optimizer = "adam"
	}
	if s.quantizer == "" {
		s.quantizer = quant.STESign.Name()
	}
	return s
}

// lrScheduleOf names a run's learning-rate milestones and factor, as its
// fingerprint records them: e.g. "200,250 x0.1", or "none".
func lrScheduleOf(r *training.Results) string {
	var fp struct {
		Milestones []int   `json:"lr_milestones"`
		Gamma      float64 `json:"lr_gamma"`
	}
	if json.Unmarshal(r.Fingerprint, &fp) != nil || len(fp.Milestones) == 0 {
		return "none"
	}
	return formatInts(fp.Milestones, ",") + fmt.Sprintf(" x%g", fp.Gamma)
}

// fields lists the settings as (name, value) pairs, in the order a label
// shows them.
func (s runSettings) fields() [][2]string {
	return [][2]string{{"", s.optimizer}, {"lr", fmt.Sprint(s.lr)}, {"momentum", fmt.Sprint(s.momentum)},
		{"weight decay", fmt.Sprint(s.weightDecay)}, {"batch", fmt.Sprint(s.batch)}, {"quantizer", s.quantizer},
		{"val", fmt.Sprint(s.val)}, {"test", fmt.Sprint(s.test)}, {"clip", fmt.Sprint(s.clip)}, {"official-eval-reset", fmt.Sprint(s.reset)},
		{"lr milestones", s.lrSchedule}}
}

// label describes s by the settings in which the variants of one row
// differ, e.g. "sgd lr 0.01, batch 50": the optimizer's first, separated by
// spaces, then the others.
func (s runSettings) label(variants []runSettings) string {
	var optimizer, others []string
	for i, f := range s.fields() {
		for _, v := range variants {
			if v.fields()[i][1] != f[1] {
				part := strings.TrimSpace(f[0] + " " + f[1])
				if i < 4 { // name, lr, momentum, weight decay
					optimizer = append(optimizer, part)
				} else {
					others = append(others, part)
				}
				break
			}
		}
	}
	if len(optimizer) > 0 {
		others = append([]string{strings.Join(optimizer, " ")}, others...)
	}
	return strings.Join(others, ", ")
}

// reportKey groups runs that differ only by seed.
type reportKey struct {
	model, dataset, protocol, order string
	settings                        runSettings
}

// row is the part of the key a table row shows.
func (k reportKey) row() reportKey { k.settings = runSettings{}; return k }

type reportGroup struct {
	test, val, sec []float64
	seeds          []int64
	tail           int // report -tail: the epochs of the "tail" figure
	// Runs without a test accuracy: still running, stopped without a
	// record (killed: no process holds the folder's lock), stopped by an
	// interrupt (these three resume when re-run), failed (diverged, or an
	// error such as a full disk).
	running, stopped, interrupted, failed int
	dirs                                  map[int64]string // the folder of each seed's run
	epochs                                int              // the runs' length (all of a group's runs have the same protocol)
	// bySeed holds each finished run's figures by pairedMetrics name, by
	// seed, where the run has them: "test" for every finished run, "best"
	// (the best test accuracy of the last stage) and "official" (of any
	// epoch) for the runs that tested its epochs (train -test-each-epoch),
	// "tail" (the mean test accuracy of the last tail epochs) for those that
	// tested every one of them in their last stage.
	bySeed map[string]map[int64]float64
}

// values returns the metric figures of the group's finished runs that have
// one, in the order of g.seeds.
func (g *reportGroup) values(metric string) []float64 {
	var v []float64
	for _, seed := range g.seeds {
		if x, ok := g.bySeed[metric][seed]; ok {
			v = append(v, x)
		}
	}
	return v
}

// record notes a finished run's figure for metric.
func (g *reportGroup) record(metric string, seed int64, v float64) {
	if g.bySeed == nil {
		g.bySeed = map[string]map[int64]float64{}
	}
	if g.bySeed[metric] == nil {
		g.bySeed[metric] = map[int64]float64{}
	}
	g.bySeed[metric][seed] = v
}

// add counts a run in the group; a second run of the same seed (a copy of
// a run folder, or the same run made twice) is an error naming both folders.
func (g *reportGroup) add(run reportRun) error {
	r, dir := run.res, run.dir
	if prev, ok := g.dirs[r.Seed]; ok {
		return fmt.Errorf("%s and %s hold runs of the same seed %d with the same model, data, schedule and settings: "+
			"one run would count as two seeds; move one of them out of the folder searched", prev, dir, r.Seed)
	}
	if g.dirs == nil {
		g.dirs = map[int64]string{}
	}
	g.dirs[r.Seed] = dir
	if r.Schedule != nil {
		g.epochs = r.Schedule.TotalEpochs()
	}
	switch {
	case r.Interrupted():
		g.interrupted++
		return nil
	case r.Status == training.StatusFailed:
		g.failed++
		return nil
	case run.stopped:
		g.stopped++
		return nil
	case r.Status != training.StatusCompleted || len(r.History) == 0:
		g.running++
		return nil
	}
	g.test = append(g.test, r.TestAccuracy)
	g.val = append(g.val, r.History[len(r.History)-1].ValAccuracy)
	g.sec = append(g.sec, r.TrainSeconds)
	g.seeds = append(g.seeds, r.Seed)
	g.record("test", r.Seed, r.TestAccuracy)
	if r.BestTestOf > 0 {
		g.record("best", r.Seed, r.BestTestAccuracy)
	}
	if acc, _, n := training.BestTested(r.History, false); n > 0 && n == len(r.History) {
		g.record("official", r.Seed, acc)
	}
	if m, ok := tailMeanTest(r.History, g.tail); ok {
		g.record("tail", r.Seed, m)
	}
	return nil
}

// tailMeanTest returns the mean test accuracy of the last n epochs of
// history, when n > 0 and they are all tested epochs of its last stage.
func tailMeanTest(history []training.EpochRecord, n int) (float64, bool) {
	if n <= 0 || len(history) < n {
		return 0, false
	}
	last, sum := history[len(history)-1].Stage, 0.0
	for _, h := range history[len(history)-n:] {
		if h.Stage != last || !h.Tested() {
			return 0, false
		}
		sum += h.TestAccuracy
	}
	return sum / float64(n), true
}

// countedCell is mean ± sd of v with, when fewer than all of a group's
// finished runs have a value, how many do; "" when none does.
func (g *reportGroup) countedCell(v []float64) string {
	switch n := len(v); {
	case n == 0:
		return ""
	case n < len(g.test):
		return fmt.Sprintf("%s (%d of %d runs)", meanStd(v, 4), n, len(g.test))
	default:
		return meanStd(v, 4)
	}
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("report", "Summarizes the results.json and sensitivity.json files found under a folder as\nMarkdown tables: test accuracy per model, protocol and order, as mean ± standard\ndeviation over seeds, with training times. Runs that differ in their optimizer,\nlearning rate, momentum, weight decay, batch, quantizer or set sizes are separate\nrows (the protocol column names the differences); two runs of one seed in one row\nare an error naming both folders. Guided orders are reported too: for\neach sensitivity result, the runs of the same model, data and seed (and\n-official-eval-reset setting) whose order is its ascend (or descend) order\n(preferring a sensitivity result whose epochs equal the run's epochs per layer;\nwithout one, a row per number of epochs). With -paired ORDER, a second table compares every\norder with ORDER seed by seed (runs of one seed share their initialization and\nshuffles, so the per-seed difference is the fairer test of an order).", stderr)
	dir := flags.String("runs", "binnet-runs", "folder to search")
	paired := flags.String("paired", "", "also compare every order with this one (e.g. binary, float, forward or 1,3,2, as the table names them), "+
		"seed by seed: the mean ± standard deviation of the per-seed differences in test accuracy over the seeds both have "+
		"(same model, data, settings and number of epochs), the 95% confidence interval of their mean (Student's t: with 3 seeds, "+
		"the mean ± 2.48 standard deviations), and on how many of those seeds the order is ahead")
	pairedBy := flags.String("paired-by", "test", "the figure -paired compares: test (the last epoch's test accuracy), tail (the mean test accuracy "+
		"of the last -tail epochs), best (the best test accuracy of the last stage) or official (the best test accuracy of any epoch, "+
		"the official full-training scripts' figure); all but test need runs made with train -test-each-epoch")
	tail := flags.Int("tail", 0, "also show the mean test accuracy over each run's last N epochs, for runs that tested every one of them in their last stage (train -test-each-epoch): "+
		"steadier than the last epoch's, which moves by about 0.001 from epoch to epoch on the MNIST MLPs")
	each := flags.Bool("each", false, "also a table of every finished run, one row each: its test accuracy, final validation accuracy, "+
		"the mean and lowest validation accuracy of its last -tail epochs (when given) and of its last stage, and its best validation "+
		"accuracy and epoch: how much a run swings from epoch to epoch, which its last epoch, and a mean over seeds, hide")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-runs: empty (give the folder to search)")
	}
	if *tail < 0 {
		return fmt.Errorf("-tail %d: must be a number of epochs, at least 1 (0 or omitted: no column)", *tail)
	}
	if !slices.ContainsFunc(pairedMetrics, func(m struct{ name, what string }) bool { return m.name == *pairedBy }) {
		return fmt.Errorf("-paired-by %q: want test, tail, best or official", *pairedBy)
	}
	if *paired == "" && flagGiven(flags, "paired-by") {
		return fmt.Errorf("-paired-by %s: chooses the figure of -paired's table; give -paired ORDER too (the order to compare the others with)", *pairedBy)
	}
	if *pairedBy == "tail" && *tail == 0 {
		return errors.New("-paired-by tail: needs -tail N, the number of last epochs whose mean test accuracy to compare")
	}
	if st, err := os.Stat(*dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("-runs %s: no such folder", *dir)
	} else if err != nil {
		return fmt.Errorf("-runs %s: %w", *dir, err)
	} else if !st.IsDir() {
		return fmt.Errorf("-runs %s: not a folder", *dir)
	}
	var runs []reportRun
	var sens []*sensitivity.Result
	var pooled []pooledFile
	// Files that are not binnet results or could not be read: listed after
	// the tables, which leave them out, and the report then fails.
	var unreadable []error
	skip := func(path string, err error) {
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("%s: %w", path, err)
		}
		unreadable = append(unreadable, err)
	}
	sensDirs := map[string]bool{}         // folders holding a sensitivity.json (readable or not)
	layers := map[string]*layerProgress{} // sensitivity folders by their layer runs
	err := filepath.WalkDir(*dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == *dir {
				return err
			}
			skip(path, err)
			return nil
		}
		switch d.Name() {
		case sensitivity.ResultFile:
			sensDirs[filepath.Dir(path)] = true
			r, err := sensitivity.ReadResult(path)
			if err != nil {
				skip(path, err)
				return nil
			}
			if len(r.Seeds) > 1 {
				// A pool of seeds' results (sensitivity -seeds): listed on
				// its own; its seeds' own results are the ones tabled.
				pooled = append(pooled, pooledFile{path, r})
				return nil
			}
			sens = append(sens, r)
		case training.ResultsFile:
			if layerFolder.MatchString(filepath.Base(filepath.Dir(path))) {
				// A sensitivity run's layer (its own folder layer-NN, not
				// a folder above it, which any name may have): not a row,
				// but noted while its folder has no sensitivity.json.
				if err := noteLayer(layers, path); err != nil {
					skip(path, err)
				}
				return nil
			}
			r, err := training.ReadResults(path)
			if err != nil {
				skip(path, err)
				return nil
			}
			if err := isBinnetResults(r); err != nil {
				skip(path, err)
				return nil
			}
			run := reportRun{dir: filepath.Dir(path), res: r, protocol: protocol(r.Schedule), order: canonicalOrder(r), settings: settingsOf(r)}
			if r.Status == training.StatusRunning {
				inUse, err := training.InUse(run.dir)
				if err != nil {
					skip(path, fmt.Errorf("cannot tell whether its run is in progress: %w", err))
					return nil
				}
				run.stopped = !inUse
			}
			runs = append(runs, run)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var unmerged []string
	for _, sd := range slices.Sorted(maps.Keys(layers)) {
		if !sensDirs[sd] {
			unmerged = append(unmerged, layers[sd].describe(sd))
		}
	}
	// failure is the report's error once its tables are written: the files
	// left out, if any.
	failure := func() error {
		if len(unreadable) == 0 {
			return nil
		}
		return fmt.Errorf("-runs %s: %d files left out of the report (not binnet results, or unreadable):\n%w", *dir, len(unreadable), errors.Join(unreadable...))
	}
	if len(runs) == 0 && len(sens) == 0 && len(pooled) == 0 {
		var errs []error
		switch {
		case len(unmerged) > 0:
			errs = append(errs, fmt.Errorf("-runs %s: no %s found under %s outside sensitivity layer folders: %s", *dir, training.ResultsFile, *dir, strings.Join(unmerged, "; ")))
		case len(unreadable) == 0:
			errs = append(errs, fmt.Errorf("-runs %s: no %s found under %s", *dir, training.ResultsFile, *dir))
		}
		return errors.Join(append(errs, failure())...)
	}
	groups := map[reportKey]*reportGroup{}
	var dups []error
	add := func(k reportKey, r reportRun) {
		if groups[k] == nil {
			groups[k] = &reportGroup{tail: *tail}
		}
		if err := groups[k].add(r); err != nil {
			dups = append(dups, err)
		}
	}
	for _, r := range runs {
		add(reportKey{r.res.Model, dataName(r.res), r.protocol, r.order, r.settings}, r)
	}
	// Guided orders: the permutation runs that a sensitivity result of the
	// same model, data, seed and evaluation side effect picks. A sensitivity
	// result trained with as many epochs per layer as the run's stages is
	// preferred; without one, each result of that model, data and seed
	// counts, and the label says its epochs (a row per number of epochs).
	unpaired := map[string]bool{} // runs whose seed's sensitivity results were all made with(out) the side effect, why
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
		results, sameEpochs, otherReset := 0, 0, 0
		for _, s := range sens {
			if s.Model != r.res.Model || s.Dataset != r.res.Dataset || s.Seed != r.res.Seed {
				continue
			}
			if s.ResetLatent != r.res.ResetLatent {
				otherReset++ // made with(out) the evaluation side effect the run has not (has)
				continue
			}
			results++
			if s.Epochs == sch.EpochsPerStage() {
				sameEpochs++
			}
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
		// A run counts once per guided order, however many sensitivity
		// results (copies of one) pick it.
		added := map[string]bool{}
		guided := func(order string) {
			if !added[order] {
				added[order] = true
				add(reportKey{r.res.Model, dataName(r.res), r.protocol, order, r.settings}, r)
			}
		}
		if len(exact) > 0 {
			for _, m := range exact {
				guided(m.name + " (guided)")
			}
			continue
		}
		if sameEpochs > 0 {
			continue // this run's order is not one the matching result picks
		}
		if results == 0 && otherReset > 0 {
			unpaired[fmt.Sprintf("%s on %s, seed %d, %s: %d sensitivity results of that seed, all made %s -official-eval-reset, the runs %s",
				r.res.Model, dataName(r.res), r.res.Seed, r.protocol, otherReset, withOrWithout(!r.res.ResetLatent), withOrWithout(r.res.ResetLatent))] = true
		}
		// No result with the run's epochs per layer: every result of
		// other epochs that picks the run's order names a row of its own.
		for _, m := range any {
			guided(fmt.Sprintf("%s (guided, %d-epoch sensitivity)", m.name, m.epochs))
		}
	}
	if len(dups) > 0 {
		return fmt.Errorf("-runs %s: %w", *dir, errors.Join(dups...))
	}
	// Runs that differ in their settings (optimizer, learning rate, batch,
	// quantizer, set sizes...) are separate rows: their protocol says in
	// which settings the rows differ.
	variants := map[reportKey][]runSettings{}
	for k := range groups {
		variants[k.row()] = append(variants[k.row()], k.settings)
	}
	protocolOf := func(k reportKey) string {
		if v := variants[k.row()]; len(v) > 1 {
			return k.protocol + "; " + k.settings.label(v)
		}
		return k.protocol
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
		if pa, pb := protocolOf(a), protocolOf(b); pa != pb {
			return pa < pb
		}
		if orderRank(a.order) != orderRank(b.order) {
			return orderRank(a.order) < orderRank(b.order)
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.dataset < b.dataset
	})
	// The columns of the runs that tested every epoch, when there are any.
	bestCol, tailCol, anyCol := false, false, false
	for _, g := range groups {
		bestCol = bestCol || len(g.bySeed["best"]) > 0
		tailCol = tailCol || len(g.bySeed["tail"]) > 0
		anyCol = anyCol || len(g.bySeed["official"]) > 0
	}
	var extra []string
	if tailCol {
		extra = append(extra, fmt.Sprintf("mean test accuracy, last %d epochs", *tail))
	}
	if bestCol {
		extra = append(extra, "best test accuracy, last stage (-test-each-epoch)")
	}
	if anyCol {
		extra = append(extra, "best test accuracy, any epoch (the official scripts' figure)")
	}
	columns := slices.Concat([]string{"model", "data", "protocol", "order", "runs", "test accuracy"}, extra,
		[]string{"final val accuracy", "train time per run (s)"})
	if len(keys) > 0 { // a folder of sensitivity results alone has no runs table
		fmt.Fprintln(stdout, "| "+strings.Join(columns, " | ")+" |")
		fmt.Fprintln(stdout, "|"+strings.Repeat("---|", len(columns)))
	}
	empty := strings.Repeat(" |", 3+len(extra)) // the accuracy and time cells of a row without finished runs
	for _, k := range keys {
		g := groups[k]
		var parts []string
		if len(g.test) > 0 {
			parts = append(parts, fmt.Sprintf("%d (seeds %s)", len(g.test), joinSeeds(g.seeds)))
		}
		for _, c := range []struct {
			n    int
			what string
		}{{g.failed, "failed"}, {g.interrupted, "interrupted"}, {g.stopped, "stopped"}, {g.running, "running"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		runs := strings.Join(parts, ", ")
		if len(g.test) == 0 {
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s |%s\n", k.model, k.dataset, protocolOf(k), k.order, runs, empty)
			continue
		}
		best := ""
		if tailCol {
			best += " " + g.countedCell(g.values("tail")) + " |"
		}
		if bestCol {
			best += " " + g.countedCell(g.values("best")) + " |"
		}
		if anyCol {
			best += " " + g.countedCell(g.values("official")) + " |"
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s |%s %s | %s |\n", k.model, k.dataset, protocolOf(k), k.order, runs,
			meanStd(g.test, 4), best, meanStd(g.val, 4), meanStd(g.sec, 0))
	}
	if *paired != "" {
		if err := writePaired(stdout, groups, keys, protocolOf, *paired, *pairedBy, *tail); err != nil {
			return err
		}
	}
	if *each {
		writeEach(stdout, runs, func(r reportRun) string {
			return protocolOf(reportKey{r.res.Model, dataName(r.res), r.protocol, r.order, r.settings})
		}, *tail)
	}
	if len(sens) > 0 {
		sort.Slice(sens, func(i, j int) bool {
			a, b := sens[i], sens[j]
			return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Epochs, b.Epochs),
				cmp.Compare(boolRank(a.ResetLatent), boolRank(b.ResetLatent)), cmp.Compare(a.Seed, b.Seed)) < 0
		})
		if len(keys) > 0 {
			fmt.Fprintln(stdout)
		}
		// The sd is over the last NoiseEpochs epochs, or all of a shorter
		// pre-training (sensitivity.NoiseWindow); the header says so when
		// a row is shorter.
		window := fmt.Sprintf("sd over the last %d epochs", sensitivity.NoiseEpochs)
		if slices.ContainsFunc(sens, func(r *sensitivity.Result) bool { return r.Epochs < sensitivity.NoiseEpochs }) {
			window += ", or all of a shorter run"
		}
		fmt.Fprintf(stdout, "| model | data | epochs | seed | layer val accuracies (%s) | order ascend | order descend | not resolved by the noise | seconds |\n", window)
		fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|")
		for _, r := range sens {
			var accs []string
			total := 0.0
			known := false
			for _, l := range r.Layers {
				acc := fmt.Sprintf("%d: %.4f", l.Layer, l.ValAccuracy)
				if l.ValAccuracySD > 0 {
					acc += fmt.Sprintf(" (%.4f)", l.ValAccuracySD)
					known = true
				}
				accs = append(accs, acc)
				total += l.Seconds
			}
			unresolved := "?" // no layer's noise recorded (a file of an older binnet)
			if sensitivity.NoiseWindow(r.Epochs) < 2 && len(r.Seeds) < 2 {
				unresolved = "n/a (1 epoch)" // no noise to judge by
			} else if known {
				var pairs []string
				for _, p := range r.Unresolved() {
					pairs = append(pairs, fmt.Sprintf("%d≈%d", p[0], p[1]))
				}
				unresolved = cmp.Or(strings.Join(pairs, ", "), "none")
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %d | %s | %s | %s | %s | %.0f |\n", r.Model, r.Dataset, fmt.Sprint(r.Epochs)+resetTag(r), r.Seed,
				strings.Join(accs, ", "), schedule.FormatPermutation(zeroBased(r.OrderAscend)), schedule.FormatPermutation(zeroBased(r.OrderDescend)), unresolved, total)
		}
		for _, line := range seedAgreement(sens) {
			fmt.Fprintln(stdout, line)
		}
	}
	if len(unpaired) > 0 {
		lines := slices.Sorted(maps.Keys(unpaired))
		fmt.Fprintf(stdout, "\nNo guided rows for the runs of %s.\n", strings.Join(lines, "; "))
	}
	var stopped []string
	for _, r := range runs {
		if r.stopped {
			stopped = append(stopped, r.dir)
		}
	}
	if len(stopped) > 0 {
		fmt.Fprintf(stdout, "\nStopped (results.json says running, but no process on this machine holds the folder's lock: killed, "+
			"or stopped with its machine; the same command resumes each from its checkpoint): %s.\n", strings.Join(stopped, ", "))
	}
	for _, p := range pooled {
		r := p.res
		fmt.Fprintf(stdout, "\nPooled sensitivity %s: %s on %s, %d epochs per layer%s, seeds %s: descend %s, ascend %s.\n", p.path,
			r.Model, r.Dataset, r.Epochs, resetTag(r), formatInts(r.Seeds, ","),
			schedule.FormatPermutation(zeroBased(r.OrderDescend)), schedule.FormatPermutation(zeroBased(r.OrderAscend)))
	}
	for _, u := range unmerged {
		fmt.Fprintf(stdout, "\nUnmerged: %s.\n", u)
	}
	return failure()
}

// isBinnetResults returns nil when r, read from a results.json, is a binnet
// run's (training.CheckResults) that names its model, by which report
// groups runs. A file without them (another tool's results.json, an empty
// object) is not shown as a run.
func isBinnetResults(r *training.Results) error {
	if err := training.CheckResults(r); err != nil {
		return err
	}
	if r.Model == "" {
		return errors.New("not a binnet results file: no model")
	}
	return nil
}

// layerProgress is what report found of a sensitivity pre-training's layer
// runs (OUT/layer-NN/results.json) in one folder.
type layerProgress struct {
	done []int // the 1-based layers whose run completed
	of   int   // the network's binarizable layers (0: unknown)
}

// layerFolder matches the folder of one layer's run of a sensitivity
// pre-training (OUT/layer-NN).
var layerFolder = regexp.MustCompile(`^layer-[0-9]+$`)

// noteLayer records in layers the layer run whose results are at path, in
// a sensitivity layer folder (layer-NN, which the caller matched), under its
// sensitivity folder; a results file it cannot read is the error.
func noteLayer(layers map[string]*layerProgress, path string) error {
	layerDir := filepath.Dir(path)
	layer, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(layerDir), "layer-")) // the caller matched layerFolder
	if err != nil {
		return err
	}
	r, err := training.ReadResults(path)
	if err != nil {
		return err
	}
	sd := filepath.Dir(layerDir)
	lp := layers[sd]
	if lp == nil {
		lp = &layerProgress{}
		layers[sd] = lp
	}
	if r.Schedule != nil {
		lp.of = r.Schedule.NumLayers()
	}
	if r.Status == training.StatusCompleted {
		lp.done = append(lp.done, layer)
		slices.Sort(lp.done)
	}
	return nil
}

// describe says what a sensitivity folder without sensitivity.json holds,
// e.g. "S holds a sensitivity pre-training without sensitivity.json yet:
// layers 1, 2 of 3 done; run ...".
func (lp *layerProgress) describe(dir string) string {
	done := "no layer done"
	if len(lp.done) > 0 {
		which := "layers " + formatInts(lp.done, ", ")
		if len(lp.done) == 1 {
			which = fmt.Sprintf("layer %d", lp.done[0])
		}
		if lp.of > 0 {
			which += fmt.Sprintf(" of %d", lp.of)
		}
		done = which + " done"
	}
	return fmt.Sprintf("%s holds a sensitivity pre-training without %s yet: %s; run the same binnet sensitivity command again to finish and merge",
		dir, sensitivity.ResultFile, done)
}

// writeEach writes the table of report -each: one row per finished run,
// sorted by model, protocol, order and seed, with the validation accuracy
// of its last tail epochs (a column only when tail > 0), of its last stage
// (mean and lowest) and its best.
func writeEach(w io.Writer, runs []reportRun, protocolOf func(reportRun) string, tail int) {
	var done []reportRun
	for _, r := range runs {
		if r.res.Status == training.StatusCompleted && len(r.res.History) > 0 {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return
	}
	sort.Slice(done, func(i, j int) bool {
		a, b := done[i], done[j]
		return cmp.Or(cmp.Compare(a.res.Model, b.res.Model), cmp.Compare(protocolOf(a), protocolOf(b)),
			cmp.Compare(orderRank(a.order), orderRank(b.order)), cmp.Compare(a.order, b.order),
			cmp.Compare(dataName(a.res), dataName(b.res)), cmp.Compare(a.res.Seed, b.res.Seed)) < 0
	})
	columns := []string{"model", "data", "protocol", "order", "seed", "test accuracy", "final val"}
	if tail > 0 {
		columns = append(columns, fmt.Sprintf("val, mean of the last %d epochs (lowest)", tail))
	}
	columns = append(columns, "val, mean of the last stage (lowest)", "best val (epoch)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| "+strings.Join(columns, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(columns)))
	for _, r := range done {
		h := r.res.History
		cells := []string{r.res.Model, dataName(r.res), protocolOf(r), r.order, fmt.Sprint(r.res.Seed),
			fmt.Sprintf("%.4f", r.res.TestAccuracy), fmt.Sprintf("%.4f", h[len(h)-1].ValAccuracy)}
		if tail > 0 {
			cell := ""
			if len(h) >= tail {
				mean, lowest := valStats(h[len(h)-tail:])
				cell = fmt.Sprintf("%.4f (%.4f)", mean, lowest)
			}
			cells = append(cells, cell)
		}
		stage := len(h) - 1
		for stage > 0 && h[stage-1].Stage == h[len(h)-1].Stage {
			stage--
		}
		mean, lowest := valStats(h[stage:])
		best := 0
		for i, e := range h {
			if e.ValAccuracy > h[best].ValAccuracy {
				best = i
			}
		}
		cells = append(cells, fmt.Sprintf("%.4f (%.4f), epochs %d-%d", mean, lowest, h[stage].Epoch, h[len(h)-1].Epoch),
			fmt.Sprintf("%.4f (%d)", h[best].ValAccuracy, h[best].Epoch))
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

// valStats returns the mean and the lowest validation accuracy of the
// epochs h (at least one).
func valStats(h []training.EpochRecord) (mean, lowest float64) {
	lowest = h[0].ValAccuracy
	for _, e := range h {
		mean += e.ValAccuracy
		lowest = min(lowest, e.ValAccuracy)
	}
	return mean / float64(len(h)), lowest
}

// resetTag is " (official-eval-reset)" for a sensitivity result whose runs
// had the evaluation side effect, "" otherwise.
func resetTag(r *sensitivity.Result) string {
	if r.ResetLatent {
		return " (official-eval-reset)"
	}
	return ""
}

func withOrWithout(b bool) string {
	if b {
		return "with"
	}
	return "without"
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pooledFile is a pooled sensitivity result (several seeds) and its path.
type pooledFile struct {
	path string
	res  *sensitivity.Result
}

// seedAgreement returns, for each model, data set and number of epochs with
// sensitivity results of several seeds (sens sorted by model, data, epochs
// and seed), a line saying whether their descend orders agree and the orders
// that the seeds' mean accuracies rank (sensitivity.Pool).
func seedAgreement(sens []*sensitivity.Result) []string {
	var lines []string
	for i := 0; i < len(sens); {
		j := i + 1
		for j < len(sens) && sens[j].Model == sens[i].Model && sens[j].Dataset == sens[i].Dataset && sens[j].Epochs == sens[i].Epochs &&
			sens[j].ResetLatent == sens[i].ResetLatent {
			j++
		}
		if j-i > 1 {
			var orders []string
			agree := true
			for _, r := range sens[i:j] {
				orders = append(orders, fmt.Sprintf("%s (seed %d)", schedule.FormatPermutation(zeroBased(r.OrderDescend)), r.Seed))
				agree = agree && slices.Equal(r.OrderDescend, sens[i].OrderDescend)
			}
			verdict := "the seeds agree"
			if !agree {
				verdict = "the seeds disagree: the guided orders depend on the seed"
			}
			ranked := ""
			if pooled, err := sensitivity.Pool(sens[i:j]...); err == nil {
				ranked = fmt.Sprintf("Ranked by the mean over the %d seeds: descend %s, ascend %s.", j-i,
					schedule.FormatPermutation(zeroBased(pooled.OrderDescend)), schedule.FormatPermutation(zeroBased(pooled.OrderAscend)))
			} else {
				// Such as a study found twice (a copy): the same seed is
				// no second sample.
				ranked = fmt.Sprintf("Not ranked by their mean: %v.", err)
			}
			lines = append(lines, fmt.Sprintf("\n%s on %s, %d epochs per layer%s: descend orders %s; %s. %s",
				sens[i].Model, sens[i].Dataset, sens[i].Epochs, resetTag(sens[i]), strings.Join(orders, ", "), verdict, ranked))
		}
		i = j
	}
	return lines
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

// joinSeeds lists seeds in increasing order, e.g. "1,2,3", leaving s as
// it is (a group's seeds stay in step with its accuracies).
func joinSeeds(s []int64) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return formatInts(s, ",")
}

// formatInts writes integers (seeds, epochs) in their order, separated by
// sep.
func formatInts[T ~int | ~int64](v []T, sep string) string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatInt(int64(x), 10)
	}
	return strings.Join(out, sep)
}
