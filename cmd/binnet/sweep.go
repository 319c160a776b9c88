package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
)

// runSweep trains every (order, seed) pair as its own "binnet train" process,
// at most -parallel at a time, each in OUT/ORDER-seedSEED, and ends with the
// tables of "binnet report -runs OUT".
func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sweep", "Trains every order with every seed, each run a separate \"binnet train\" process in\nOUT/ORDER-seedSEED, -parallel at a time, and prints the tables of \"binnet report\"\nfor OUT. Running the same command again skips the completed runs and resumes the\ninterrupted ones from their checkpoints. Every flag of \"binnet train\" except\n-order, -seed and -out is passed on to each run.", stderr)
	var d dataOptions
	var r runOptions
	// The train flags, less -order and -seed, which become lists here.
	all := flag.NewFlagSet("train", flag.ContinueOnError)
	d.register(all)
	r.register(all, true)
	all.VisitAll(func(f *flag.Flag) {
		if f.Name != "order" && f.Name != "seed" {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	r.flags = fs
	orders := fs.String("orders", "float;binary;forward;reverse", "orders to train, separated by semicolons or spaces (e.g. \"float;forward;1,3,2\")")
	seeds := fs.String("seeds", "1,2,3", "comma-separated seeds")
	out := fs.String("out", "", "output folder (default: binnet-runs/sweep-MODEL-DATASET)")
	parallel := fs.Int("parallel", 2, "concurrent training processes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *parallel < 1 {
		return fmt.Errorf("-parallel must be at least 1, got %d", *parallel)
	}
	// The training flags and schedules are checked as train checks them,
	// once, before any job starts: a bad flag fails here rather than in
	// every job.
	p, orderList, seedList, err := r.ordersAndSeeds(&d, *orders, *seeds)
	if err != nil {
		return err
	}
	// Every run has its own folder, checked before anything starts.
	dir := *out
	if dir == "" {
		dir = filepath.Join("binnet-runs", fmt.Sprintf("sweep-%s-%s", p.Name, datasetName(&d, p)))
	}
	seen := map[string]string{}
	var runs []childJob
	var done []sweepRun // runs whose folder holds a completed run, skipped once checked
	childArgs := setFlags(fs, "orders", "seeds", "out", "parallel")
	for _, o := range orderList {
		for _, s := range seedList {
			sub := fmt.Sprintf("%s-seed%d", safeName(o), s)
			if prev, ok := seen[sub]; ok {
				return fmt.Errorf("orders %q and %q with seed %d would share the folder %s", prev, o, s, sub)
			}
			seen[sub] = o
			runDir := filepath.Join(dir, sub)
			if completed(runDir) {
				done = append(done, sweepRun{order: o, seed: s, dir: runDir})
				continue
			}
			a := []string{"train"}
			for _, arg := range childArgs {
				// -sensitivity goes to the orders that read it only (train
				// warns about it elsewhere).
				if !strings.HasPrefix(arg, "-sensitivity=") || schedule.NeedsSensitivity(o) {
					a = append(a, arg)
				}
			}
			a = append(a, "-order="+o, "-seed="+strconv.FormatInt(s, 10), "-out="+runDir)
			runs = append(runs, childJob{name: fmt.Sprintf("%s seed %d", o, s), args: a, dir: runDir})
		}
	}
	// The data, loaded as each job will load it (a missing -data-dir, a
	// damaged file, a -train-size larger than the set), and the run
	// configuration built from it, then dropped; a completed run in a run
	// folder is skipped only if it is this sweep's run.
	if err := checkTrainingData(ctx, &d, &r, p, done, len(runs) > 0, stderr); err != nil {
		return err
	}
	debug.FreeOSMemory() // the data's memory, while the jobs run
	if !r.quiet {
		fmt.Fprintf(stderr, "sweep of %s: %d runs to train (%d already done) in %s, %d processes at a time\n",
			p.Name, len(runs), len(done), dir, min(*parallel, max(len(runs), 1)))
	}
	if len(runs) > 0 {
		exe, err := selfExecutable()
		if err != nil {
			return err
		}
		if err := runChildren(ctx, exe, runs, *parallel, true, r.quiet, stderr); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if _, serr := os.Stat(dir); serr != nil {
				return err // no job got as far as creating its folder: nothing to report
			}
			// Some runs failed (a diverged one fails again when re-run):
			// the report still shows the others, and counts the failures.
			return errors.Join(runReport(ctx, []string{"-runs", dir}, stdout, stderr), err)
		}
	}
	return runReport(ctx, []string{"-runs", dir}, stdout, stderr)
}

// sweepRun is one (order, seed) run of a sweep and its folder.
type sweepRun struct {
	order string
	seed  int64
	dir   string
}

// checkTrainingData loads the data of a run of preset p as train does and
// builds its configuration, returning the error train would stop at; the
// data is dropped. It also checks that each run of done, whose folder holds
// a completed run, is the run train would make there with that order and
// seed (training.CompletedRun compares the recorded fingerprint: model,
// data, schedule, seed, optimizer and the other settings): a sweep with
// other settings into the same folder must not take another run's results
// for its own. Every mismatch is listed, naming its folder and the first
// field that differs. When no run is left to train (toTrain false), data
// that cannot be loaded (a -data-dir moved since) is no error: the runs are
// then compared by their settings alone, and stderr says so.
func checkTrainingData(ctx context.Context, d *dataOptions, r *runOptions, p models.Preset, done []sweepRun, toTrain bool, stderr io.Writer) error {
	name, data, err := d.load(ctx, &p, stderr)
	if err != nil {
		if toTrain {
			return err
		}
		fmt.Fprintf(stderr, "sweep: every run is done; their settings are checked, not their data, which cannot be read: %v\n", err)
		name, data = datasetName(d, p), training.Data{}
	}
	cfg, err := r.trainingConfig(p, name, io.Discard)
	if err != nil {
		return err
	}
	if data.Train != nil && data.Train.Len() < cfg.BatchSize {
		return fmt.Errorf("%d training examples are fewer than one batch of %d", data.Train.Len(), cfg.BatchSize)
	}
	var mismatched []error
	for _, run := range done {
		rr := *r
		rr.order, rr.seed = run.order, run.seed
		sched, err := rr.schedule(p)
		if err != nil {
			return fmt.Errorf("order %q: %w", run.order, err)
		}
		c, err := rr.trainingConfig(p, name, io.Discard)
		if err != nil {
			return err
		}
		c.Schedule, c.Order, c.OutDir = sched, run.order, run.dir
		if _, err := training.CompletedRun(c, data); err != nil {
			mismatched = append(mismatched, err)
		}
	}
	if len(mismatched) > 0 {
		return fmt.Errorf("%d of the sweep's run folders hold completed runs of another configuration, so nothing was trained "+
			"(use another -out, or remove those folders):\n%w", len(mismatched), errors.Join(mismatched...))
	}
	return nil
}
