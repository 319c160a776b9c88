package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("binnet "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: binnet %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// prepare does what train and sensitivity do before they run: it checks the
// run options against the preset p and the data options d, sets the threads,
// loads the data (which may adapt p to it, e.g. an image folder's classes)
// and builds the training configuration of the run, less its schedule. It
// returns the data set's name, the data and that configuration.
func (r *runOptions) prepare(ctx context.Context, d *dataOptions, p *models.Preset, stderr io.Writer) (string, training.Data, training.Config, error) {
	if err := r.check(*p); err != nil {
		return "", training.Data{}, training.Config{}, err
	}
	if err := r.checkData(d, *p); err != nil {
		return "", training.Data{}, training.Config{}, err
	}
	if err := r.applyThreads(*p, stderr); err != nil {
		return "", training.Data{}, training.Config{}, err
	}
	name, data, err := d.load(ctx, p, stderr)
	if err != nil {
		return "", training.Data{}, training.Config{}, err
	}
	cfg, err := r.trainingConfig(*p, name, stderr)
	return name, data, cfg, err
}

// safeName names a run folder after its order: a permutation with dashes
// (1-3-2), an order file by its name without .json.
func safeName(s string) string {
	if schedule.IsOrderFile(s) {
		s = filepath.Base(strings.TrimSpace(s))
		s = s[:len(s)-len(".json")]
	}
	return strings.NewReplacer(",", "-", "/", "-", " ", "").Replace(s)
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", "Trains one network, binarizing its layers as the schedule says, and writes\nOUT/results.json (test accuracy and per-epoch history) and OUT/checkpoint.bin\n(each epoch, atomically). Re-running the same command resumes an interrupted run.", stderr)
	var d dataOptions
	var r runOptions
	d.register(fs)
	r.register(fs, true)
	out := fs.String("out", "", "output folder (default: binnet-runs/MODEL-DATASET-ORDER-seedSEED)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := r.preset()
	if err != nil {
		return err
	}
	sched, err := r.schedule(p)
	if err != nil {
		return err
	}
	// A warning, not a refusal (compare and sweep refuse a -sensitivity
	// that none of their orders reads).
	fmt.Fprint(stderr, r.unusedSensitivity())
	name, data, cfg, err := r.prepare(ctx, &d, &p, stderr)
	if err != nil {
		return err
	}
	cfg.Schedule, cfg.Order, cfg.SensitivityFiles = sched, r.order, r.sensitivityRecord()
	cfg.OutDir = *out
	if cfg.OutDir == "" {
		cfg.OutDir = filepath.Join("binnet-runs", fmt.Sprintf("%s-%s-%s-seed%d", p.Name, name, safeName(r.order), r.seed))
	}
	if !r.quiet {
		fmt.Fprintf(stderr, "%s on %s (%d train / %d val / %d test), %s lr %g, batch %d, output %s\n%s",
			p.Name, name, data.Train.Len(), data.Val.Len(), data.Test.Len(), cfg.Optimizer.Name, cfg.Optimizer.LearningRate, cfg.BatchSize, cfg.OutDir, sched)
		fmt.Fprint(stderr, stepsPerCallHint(backend.Configuration(), r.stepsPerCall, r.devices, data.Train.Len()/cfg.BatchSize, func() (int64, error) {
			return training.StepMACs(p.Network, cfg.BatchSize)
		}))
		fmt.Fprint(stderr, milestonesNote(cfg.LRMilestones, sched.TotalEpochs(), r.given("lr-milestones")))
	}
	res, err := training.Run(ctx, cfg, data)
	reportSkipped(stderr, data)
	if err != nil {
		return err
	}
	bestTest := ""
	if res.BestTestOf > 0 {
		bestTest = fmt.Sprintf("  best test of the last stage %.4f (epoch %d)", res.BestTestAccuracy, res.BestTestEpoch)
	}
	if res.BestTestAnyEpoch > 0 && res.BestTestAnyEpoch != res.BestTestEpoch {
		bestTest += fmt.Sprintf(", of any epoch %.4f (epoch %d, the official scripts' figure)", res.BestTestAnyAccuracy, res.BestTestAnyEpoch)
	}
	fmt.Fprintf(stdout, "test accuracy %.4f  best val %.4f (epoch %d)%s  results in %s\n", res.TestAccuracy, res.BestValAcc, res.BestEpoch, bestTest, filepath.Join(cfg.OutDir, training.ResultsFile))
	return nil
}

// milestonesNote returns a line saying that the preset's learning-rate
// milestones lie beyond a run of epochs epochs, so that a shortened protocol
// keeps its first rate throughout (e.g. ResNet-20's 999,1099 in a run of
// 60 epochs), or "" when a milestone falls inside the run or the user gave
// them (given).
func milestonesNote(milestones []int, epochs int, given bool) string {
	if given || len(milestones) == 0 || milestones[0] < epochs {
		return ""
	}
	return fmt.Sprintf("note: the preset's learning-rate milestones %s lie beyond this run's %d epochs: the rate stays the same throughout "+
		"(-lr-milestones sets others, e.g. scaled to the run)\n", formatInts(milestones, ","), epochs)
}

// smallStepMACs is the size of a training step (multiply-accumulates, as
// training.StepMACs counts them) under which a step on an accelerator is
// mostly the round trip of its execution: measured on an H100, the binary
// MLPs' steps of 80 M to 3.7 G multiply-accumulates took 0.75-0.84 ms one
// step per execution and 0.30-0.40 ms ten per execution; VGG-5's step (13 G)
// took 1.5 ms, ResNet-21's (700 G at batch 128) 15.6 ms. On an H200, a hundred
// steps per execution in a While loop (-steps-loop) took 0.10-0.22 ms per step.
const smallStepMACs = 1e10

// stepsPerCallHint returns a line suggesting -steps-per-call for a small
// step on a backend other than the pure-Go one (config is GOMLX_BACKEND's
// value as the backend package completes it), or "" when it does not apply:
// steps already grouped, a step split over several devices (which runs one
// step per call), or an epoch of fewer than two full batches (batches).
// The group it suggests is the largest divisor of an epoch's full batches up
// to 100 (55 for the paper's 550 MNIST batches, 90 for the embedded
// sample's), so that no batch of an epoch is left to run one step per call
// (and to compile that graph too); where that divisor is under 10, 100 or
// the epoch's batches when fewer.
// stepMACs (training.StepMACs, which builds the network's summary) is called
// only where a hint can apply.
func stepsPerCallHint(config string, perCall, devices, batches int, stepMACs func() (int64, error)) string {
	if perCall != 1 || devices > 1 || batches < 2 || strings.HasPrefix(config, "go") {
		return ""
	}
	macs, err := stepMACs()
	if err != nil || macs >= smallStepMACs {
		return ""
	}
	k := 1
	for d := min(100, batches); d > 1; d-- {
		if batches%d == 0 {
			k = d
			break
		}
	}
	if k < 10 {
		k = min(100, batches)
	}
	return fmt.Sprintf("hint: %s waits for the device after every execution, and a step of %.0f M multiply-accumulates spends most of its time in that round trip; "+
		"-steps-per-call %d -steps-loop runs %d steps per execution as a loop in the graph (the same training up to rounding, compiled as one step; on an H200 as fast per step as JAX's lax.scan)\n",
		strings.SplitN(config, ":", 2)[0], float64(macs)/1e6, k, k)
}

// reportSkipped lists the files that image-folder sources could not read
// (they were replaced by readable images of the same class).
func reportSkipped(w io.Writer, data training.Data) {
	type skipper interface {
		Skipped() []imagefolder.SkippedFile
	}
	seen := map[training.Source]bool{}
	for _, src := range []training.Source{data.Train, data.Val, data.Test} {
		if seen[src] {
			continue
		}
		seen[src] = true
		if s, ok := src.(skipper); ok {
			skipped := s.Skipped()
			for _, f := range skipped {
				fmt.Fprintf(w, "skipped unreadable %s: %v\n", f.Path, f.Err)
			}
			if len(skipped) > 0 {
				fmt.Fprintf(w, "%s: %d of %d listed files were unreadable and skipped (each replaced by a readable image of its class)\n",
					src, len(skipped), src.Len())
			}
		}
	}
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", "Trains the same network with several binarization orders, on the same data and\nwith the same total epochs, and prints a table of their accuracies.\nBy default: mlp-300-100 on the embedded MNIST sample, float / binary / forward / reverse.", stderr)
	var d dataOptions
	var r runOptions
	d.register(fs)
	r.register(fs, false)
	orders := fs.String("orders", "float,binary,forward,reverse", "orders to compare, separated by spaces or semicolons if they contain commas (e.g. \"forward;1,3,2\")")
	fs.IntVar(&r.epochs, "epochs", 12, "total epochs of every run")
	fs.IntVar(&r.epochsPerLayer, "epochs-per-layer", 4, "epochs per layer of the iterative orders")
	fs.StringVar(&r.sensitivity, "sensitivity", "", "sensitivity.json (for ascend/descend)")
	seeds := fs.String("seeds", "1,2,3", "comma-separated seeds; with several, the table shows mean ± standard deviation")
	out := fs.String("out", "", "keep each run's results and checkpoint in OUT/ORDER-seedSEED (default: in memory only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, orderList, seedList, err := r.ordersAndSeeds(&d, *orders, *seeds)
	if err != nil {
		return err
	}
	if err := r.applyThreads(p, stderr); err != nil {
		return err
	}
	name, data, err := d.load(ctx, &p, stderr)
	if err != nil {
		return err
	}
	if ms, _ := r.milestones(p); !r.quiet {
		fmt.Fprint(stderr, milestonesNote(ms, r.epochs, r.given("lr-milestones")))
	}
	type row struct {
		order          string
		test, val, sec []float64
		diverged       int // runs (seeds) that diverged
	}
	var rows []row
	var diverged []error
	var stopped error // the interrupt that ended the comparison early
orders:
	for _, o := range orderList {
		rw := row{order: o}
		for _, seed := range seedList {
			rr := r
			rr.order, rr.seed = o, seed
			sched, _ := rr.schedule(p)
			cfg, err := rr.trainingConfig(p, name, stderr)
			if err != nil {
				return err
			}
			cfg.Schedule, cfg.Order, cfg.SensitivityFiles = sched, o, rr.sensitivityRecord()
			if *out != "" {
				cfg.OutDir = filepath.Join(*out, fmt.Sprintf("%s-seed%d", safeName(o), seed))
			}
			if !r.quiet {
				fmt.Fprintf(stderr, "== %s, order %s, seed %d\n", p.Name, o, seed)
			}
			res, err := training.Run(ctx, cfg, data)
			if div := (*training.DivergenceError)(nil); errors.As(err, &div) {
				// A diverging order is a result of the comparison: the
				// other runs go on, and the table says which diverged.
				rw.diverged++
				diverged = append(diverged, fmt.Errorf("order %s, seed %d: %w", o, seed, err))
				continue
			}
			if err != nil && ctx.Err() != nil {
				// Interrupted: the table of the runs finished so far.
				stopped = fmt.Errorf("order %s, seed %d: %w", o, seed, err)
				if len(rw.test) > 0 || rw.diverged > 0 {
					rows = append(rows, rw)
				}
				break orders
			}
			if err != nil {
				return fmt.Errorf("order %s, seed %d: %w", o, seed, err)
			}
			rw.test = append(rw.test, res.TestAccuracy)
			rw.val = append(rw.val, res.History[len(res.History)-1].ValAccuracy)
			rw.sec = append(rw.sec, res.TrainSeconds)
		}
		rows = append(rows, rw)
	}
	if stopped != nil && len(rows) == 0 {
		return stopped
	}
	fmt.Fprintf(stdout, "\n%s on %s: %d train / %d val / %d test images, %d epochs (%d per layer), %s lr %g, batch %d, seeds %s\n\n",
		p.Name, name, data.Train.Len(), data.Val.Len(), data.Test.Len(), r.epochs, r.epochsPerLayer,
		p.Hyper.Optimizer, firstNonZero(r.lr, p.Hyper.LearningRate), firstNonZeroInt(r.batch, p.Hyper.BatchSize), *seeds)
	if stopped != nil {
		finished := 0
		for _, rw := range rows {
			finished += len(rw.test) + rw.diverged
		}
		fmt.Fprintf(stdout, "Interrupted: the table holds the %d of %d runs that finished before it\n\n", finished, len(orderList)*len(seedList))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "order\ttest accuracy\tfinal val accuracy\ttrain time (s)\t")
	for _, rw := range rows {
		test, val, sec := "diverged", "diverged", "-"
		if len(rw.test) > 0 {
			test, val, sec = meanStd(rw.test, 4), meanStd(rw.val, 4), meanStd(rw.sec, 1)
		}
		if n := rw.diverged; n > 0 && len(rw.test) > 0 {
			test += fmt.Sprintf(" (%d of %d diverged)", n, n+len(rw.test))
		}
		if n := len(rw.test) + rw.diverged; n < len(seedList) {
			test += fmt.Sprintf(" (%d of %d seeds)", n, len(seedList))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", rw.order, test, val, sec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if stopped != nil {
		return stopped
	}
	if len(diverged) > 0 {
		return fmt.Errorf("%d of %d runs diverged:\n%w", len(diverged), len(orderList)*len(seedList), errors.Join(diverged...))
	}
	return nil
}

func firstNonZero(a, b float64) float64 {
	if a != 0 {
		return a
	}
	return b
}

func firstNonZeroInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func splitOrders(s string) []string {
	sep := func(r rune) bool { return r == ';' || r == ' ' }
	if !strings.ContainsAny(s, "; ") {
		// Without explicit separators, commas separate names but not permutations.
		var out []string
		var perm []string
		for _, f := range strings.Split(s, ",") {
			if f != "" && strings.Trim(f, "0123456789") == "" {
				perm = append(perm, f)
				continue
			}
			if len(perm) > 0 {
				out = append(out, strings.Join(perm, ","))
				perm = nil
			}
			if f != "" {
				out = append(out, f)
			}
		}
		if len(perm) > 0 {
			out = append(out, strings.Join(perm, ","))
		}
		return out
	}
	return strings.FieldsFunc(s, sep)
}

// ordersAndSeeds parses the -orders and -seeds of compare and sweep and
// checks, before anything trains, the flags of their runs as train checks
// them and the schedule of every order (checkSchedules: two orders of the
// same schedule are refused).
func (o *runOptions) ordersAndSeeds(d *dataOptions, orders, seeds string) (models.Preset, []string, []int64, error) {
	p, err := o.preset()
	if err != nil {
		return p, nil, nil, err
	}
	if o.given("seed") {
		return p, nil, nil, fmt.Errorf("-seed: give the seeds of every run with -seeds (-seeds %d for that one seed; now -seeds %s)", o.seed, seeds)
	}
	seedList, err := parseSeeds(seeds)
	if err != nil {
		return p, nil, nil, err
	}
	orderList, err := parseOrders(orders)
	if err != nil {
		return p, nil, nil, err
	}
	if err := o.check(p); err != nil {
		return p, nil, nil, err
	}
	if err := o.checkData(d, p); err != nil {
		return p, nil, nil, err
	}
	if err := o.checkSchedules(p, orderList, seedList); err != nil {
		return p, nil, nil, err
	}
	if strings.TrimSpace(o.sensitivity) != "" && !slices.ContainsFunc(orderList, schedule.NeedsSensitivity) {
		return p, nil, nil, fmt.Errorf("-sensitivity %s: none of -orders %s reads it (only ascend and descend do)", o.sensitivity, orders)
	}
	return p, orderList, seedList, nil
}

// checkSchedules resolves every order of orders to its schedule and refuses
// an impossible one, and two orders that resolve to the same schedule (e.g.
// descend, from a sensitivity result, and forward, or forward and 1,2,3):
// their runs of a seed would be the same run, trained twice and counted as
// two by report, which refuses such a folder. random is seeded by each run's
// seed, so its schedule is resolved per seed: random is refused only for a
// seed whose permutation is another listed order's (report names random runs
// by their permutation, so it could not tell those two runs apart either),
// and the message names that seed.
func (o *runOptions) checkSchedules(p models.Preset, orders []string, seeds []int64) error {
	type resolved struct{ order, key, shown string }
	resolve := func(order string, seed int64) (resolved, error) {
		oo := *o
		oo.order, oo.seed = order, seed
		sched, err := oo.schedule(p)
		if err != nil {
			return resolved{}, fmt.Errorf("order %q: %w", order, err)
		}
		// The key is what training sees: every epoch's layer modes (an
		// order and another permutation that binarize the same layers in
		// each stage, with -layers-per-stage 2, train the same run).
		var key strings.Builder
		for e := range sched.TotalEpochs() {
			fmt.Fprint(&key, sched.Modes(e), ";")
		}
		shown := sched.Kind().String()
		if sched.Kind() == schedule.KindIterative {
			shown = schedule.FormatPermutation(sched.Order())
		}
		return resolved{order, key.String(), shown}, nil
	}
	// label names an order with where its schedule comes from.
	label := func(r resolved) string {
		if schedule.NeedsSensitivity(r.order) {
			return fmt.Sprintf("%s (from %s)", r.order, o.sensitivity)
		}
		return r.order
	}
	same := func(a, b resolved) error {
		is := fmt.Sprintf("%s is %s, the same schedule", label(a), a.shown)
		if strings.EqualFold(strings.TrimSpace(a.order), a.shown) {
			is = fmt.Sprintf("%s is the same schedule", a.order)
		}
		stages := ""
		if a.shown != b.shown {
			stages = fmt.Sprintf(" (%s and %s binarize the same layers in every stage)", a.shown, b.shown)
		}
		return fmt.Errorf("-orders: %s as %s%s: list one of them", is, label(b), stages)
	}
	var fixed, random []string
	for _, order := range orders {
		if strings.EqualFold(strings.TrimSpace(order), "random") {
			random = append(random, order)
		} else {
			fixed = append(fixed, order)
		}
	}
	byKey := map[string]resolved{}
	for _, order := range fixed {
		r, err := resolve(order, seeds[0])
		if err != nil {
			return err
		}
		if prev, ok := byKey[r.key]; ok {
			return same(r, prev)
		}
		byKey[r.key] = r
	}
	for _, order := range random {
		for _, seed := range seeds {
			r, err := resolve(order, seed)
			if err != nil {
				return err
			}
			if prev, ok := byKey[r.key]; ok {
				return fmt.Errorf("-orders: %s with seed %d is %s, the same schedule as %s: the two runs of seed %d would be one run "+
					"trained twice; list one of them, or give other -seeds", order, seed, r.shown, label(prev), seed)
			}
		}
	}
	return nil
}

// parseOrders parses the -orders of compare and sweep (see splitOrders),
// refusing an empty list and an order listed twice (its runs would be the
// same, counted twice).
func parseOrders(s string) ([]string, error) {
	orders := splitOrders(s)
	if len(orders) == 0 {
		return nil, fmt.Errorf("-orders %q: no order given", s)
	}
	seen := map[string]bool{}
	folders := map[string]string{} // run folder name -> order
	for _, o := range orders {
		k := strings.ToLower(o)
		if seen[k] {
			return nil, fmt.Errorf("-orders %q: order %s is listed twice", s, o)
		}
		seen[k] = true
		folder := safeName(o)
		if prev, ok := folders[strings.ToLower(folder)]; ok {
			return nil, fmt.Errorf("-orders %q: orders %s and %s would share the run folder %s-seedN (order files of the same name?)", s, prev, o, folder)
		}
		folders[strings.ToLower(folder)] = o
	}
	return orders, nil
}

// parseSeeds parses the comma-separated -seeds of compare and sweep,
// refusing an empty list and a seed listed twice (the same run, counted as
// two seeds).
func parseSeeds(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("-seeds %q: no seed given", s)
	}
	var seeds []int64
	seen := map[int64]bool{}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seeds: %q is not an integer", f)
		}
		if seen[v] {
			return nil, fmt.Errorf("-seeds %q: seed %d is listed twice", s, v)
		}
		seen[v] = true
		seeds = append(seeds, v)
	}
	return seeds, nil
}

// meanStd formats the mean of v ± its sample standard deviation (the mean
// alone for one value).
func meanStd(v []float64, prec int) string {
	mean, sd := meanSD(v)
	if len(v) == 1 {
		return fmt.Sprintf("%.*f", prec, mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", prec, mean, prec, sd)
}

// sensitivityFlags are the flags of "binnet sensitivity", shared by the
// in-process run and the -parallel driver that re-executes it per layer.
type sensitivityFlags struct {
	data        dataOptions
	run         runOptions
	epochs      *int
	layers, out *string
}

func (s *sensitivityFlags) register(fs *flag.FlagSet) {
	s.data.register(fs)
	s.run.register(fs, false)
	s.epochs = fs.Int("epochs", 0, "epochs of each layer's run (default: the official sensitivity scripts' for the preset: 150 for the MLPs, "+
		"200 VGG-5, 450 VGG-9, 300 ResNet-20 with its rate divided by 10 from epochs 200 and 250 (milestones 199,249), 20 ResNet-21; else the preset's epochs per layer)")
	s.layers = fs.String("layers", "", "only these 1-based layers, e.g. 1,3 (default: all)")
	s.out = fs.String("out", "", "output folder (default: binnet-runs/sensitivity-MODEL-DATASET-seedSEED)")
}

func runSensitivity(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sensitivity", sensitivityUsage, stderr)
	var sf sensitivityFlags
	sf.register(fs)
	d, r, epochs, layerList, out := &sf.data, &sf.run, sf.epochs, sf.layers, sf.out
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := r.preset()
	if err != nil {
		return err
	}
	// The official sensitivity scripts' length and learning-rate milestones
	// (-lr-milestones still overrides these).
	e := *epochs
	sensEpochs, sensMilestones := p.Hyper.Sensitivity()
	if e == 0 && !r.given("epochs") {
		e = sensEpochs
	}
	p.Hyper.LRMilestones = sensMilestones
	if e < 1 {
		return fmt.Errorf("-epochs must be at least 1, got %d", e)
	}
	if r.testEachEpoch {
		return errors.New("-test-each-epoch: sensitivity pre-training never reads the test set (it ranks the layers by validation accuracy)")
	}
	layers, err := parseLayerList(*layerList, p.Network.NumBinarizable())
	if err != nil {
		return err
	}
	name, data, base, err := r.prepare(ctx, d, &p, stderr)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = defaultSensitivityDir(p.Name, name, r.seed)
	}
	if !r.quiet {
		fmt.Fprint(stderr, milestonesNote(base.LRMilestones, e, r.given("lr-milestones")))
	}
	cfg := sensitivity.Config{Base: base, Epochs: e, Layers: layers, OutDir: dir,
		OnLayer: func(lr sensitivity.LayerResult, skipped bool) {
			if !r.quiet {
				note := ""
				if skipped {
					note = " (already done)"
				}
				fmt.Fprintf(stderr, "layer %d: val accuracy %.4f, val loss %.4f%s\n", lr.Layer, lr.ValAccuracy, lr.ValLoss, note)
			}
		}}
	res, err := sensitivity.Run(ctx, cfg, data)
	if errors.Is(err, sensitivity.ErrIncomplete) {
		fmt.Fprintf(stdout, "%v\nrun the remaining layers (same command with their -layers) to finish %s\n", err, filepath.Join(dir, sensitivity.ResultFile))
		return nil
	}
	if err != nil {
		return err
	}
	printSensitivity(stdout, res, filepath.Join(dir, sensitivity.ResultFile))
	return nil
}

// printSensitivity prints res, written to path: its table of layers, its
// orders and its unresolved neighbours. The SD column is each layer's
// epoch-to-epoch noise over its last sensitivity.NoiseWindow epochs (5, or
// all when fewer, the heading says how many), or for a pooled result the SD
// of the seeds' mean; with one epoch per layer there is none ("n/a"), and
// no claim about which neighbours the noise resolves.
func printSensitivity(w io.Writer, res *sensitivity.Result, path string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	window := sensitivity.NoiseWindow(res.Epochs)
	acc, sd := "val accuracy", fmt.Sprintf("sd, last %s", plural(window, "epoch"))
	if window == res.Epochs && window > 1 {
		sd = fmt.Sprintf("sd, all %d epochs", window)
	}
	if len(res.Seeds) > 1 {
		acc, sd = fmt.Sprintf("mean val accuracy (%d seeds)", len(res.Seeds)), "sd of the mean"
	}
	fmt.Fprintf(tw, "layer\t%s\t%s\tval loss\tseconds\t\n", acc, sd)
	for _, l := range res.Layers {
		noise := fmt.Sprintf("%.4f", l.ValAccuracySD)
		if window < 2 {
			noise = "n/a (1 epoch)"
		}
		fmt.Fprintf(tw, "%d\t%.4f\t%s\t%.4f\t%.1f\t\n", l.Layer, l.ValAccuracy, noise, l.ValLoss, l.Seconds)
	}
	tw.Flush()
	fmt.Fprintf(w, "order ascend  %s\norder descend %s\n", schedule.FormatPermutation(zeroBased(res.OrderAscend)),
		schedule.FormatPermutation(zeroBased(res.OrderDescend)))
	if window < 2 {
		fmt.Fprintln(w, "noise unknown: with 1 epoch per layer there is no epoch-to-epoch movement to judge the ranking by (2 or more epochs give it)")
	}
	for _, line := range unresolvedLines(res) {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "written to %s\n", path)
}

// plural returns "1 epoch", "2 epochs".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// unresolvedLines explains each neighbour pair of r's ranking that its
// layers' epoch-to-epoch noise does not resolve (sensitivity.Result.Unresolved).
func unresolvedLines(r *sensitivity.Result) []string {
	byLayer := map[int]sensitivity.LayerResult{}
	for _, l := range r.Layers {
		byLayer[l.Layer] = l
	}
	window := sensitivity.NoiseWindow(r.Epochs)
	if window < 2 {
		return nil // no noise to judge by (Unresolved finds no pair either)
	}
	noise := fmt.Sprintf("its movement between epochs (sd %%.4f and %%.4f over the last %d): another seed or more epochs may rank them the other way", window)
	if len(r.Seeds) > 1 {
		noise = fmt.Sprintf("the noise of their means over %d seeds (sd %%.4f and %%.4f): more seeds or epochs may rank them the other way", len(r.Seeds))
	}
	var lines []string
	for _, p := range r.Unresolved() {
		a, b := byLayer[p[0]], byLayer[p[1]]
		lines = append(lines, fmt.Sprintf("not resolved: layers %d and %d differ by %.4f in validation accuracy, less than "+noise,
			a.Layer, b.Layer, a.ValAccuracy-b.ValAccuracy, a.ValAccuracySD, b.ValAccuracySD))
	}
	return lines
}

// defaultSensitivityDir is the output folder of a sensitivity run without
// -out: binnet-runs/sensitivity-MODEL-DATASET-seedS for one seed, ...-seeds1-2-3
// for several (sensitivity -seeds).
func defaultSensitivityDir(model, dataset string, seeds ...int64) string {
	label := fmt.Sprintf("seed%d", seeds[0])
	if len(seeds) > 1 {
		label = "seeds" + formatInts(seeds, "-")
	}
	return filepath.Join("binnet-runs", fmt.Sprintf("sensitivity-%s-%s-%s", model, dataset, label))
}

func zeroBased(l []int) []int {
	out := make([]int, len(l))
	for i, v := range l {
		out[i] = v - 1
	}
	return out
}

func runSchedule(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schedule", "Prints the stage table of a schedule: which layers are binary in which epochs.", stderr)
	var r runOptions
	r.registerSchedule(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := r.preset()
	if err != nil {
		return err
	}
	s, err := r.schedule(p)
	if err != nil {
		return err
	}
	fmt.Fprint(stderr, r.unusedSensitivity())
	fmt.Fprintf(stdout, "%s: %d binarizable layers\n%s", p.Name, p.Network.NumBinarizable(), s)
	return nil
}

func runModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", "Lists the model presets.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tnetwork\tlayers\toptimizer\tlr\tbatch\tepochs/layer\tepochs\tlr milestones\tsensitivity epochs (milestones)\tdescription\t")
	list := func(ms []int) string {
		if len(ms) == 0 {
			return "-"
		}
		return formatInts(ms, ",")
	}
	for _, n := range models.Names() {
		p, _ := models.Lookup(n)
		h := p.Hyper
		se, sm := h.Sensitivity()
		sens := fmt.Sprint(se)
		if len(sm) > 0 {
			sens += " (" + list(sm) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%g\t%d\t%d\t%d\t%s\t%s\t%s\t\n", p.Name, p.Network.Name(), p.Network.NumBinarizable(), h.Optimizer, h.LearningRate,
			h.BatchSize, h.EpochsPerLayer, h.Epochs, list(h.LRMilestones), sens, p.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, "\nlr milestones: the rate is multiplied by 0.1 after each of these epochs (-lr-milestones, -lr-gamma). resnet20's are the official\n"+
		"main.py's 1000,1100 and 200,250 less one: that code steps its scheduler before each epoch, so its rate drops from epoch 1,000 on.")
	return err
}

func runFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fetch", "Downloads a data set's four IDX files into the cache ($BINNET_DATA or the user cache\nfolder), verifying the SHA-256 of their content. Needs internet.", stderr)
	name := fs.String("dataset", "mnist", strings.Join(datasets.Names, " | "))
	cache := fs.String("cache", "", "cache folder (default: $BINNET_DATA, else the user cache folder/binnet)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := datasets.FetchWithOptions(ctx, *name, *cache, datasets.FetchOptions{Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, dir)
	return nil
}
