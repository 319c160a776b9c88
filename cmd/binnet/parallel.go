package main

// Scale-out of independent runs as separate OS processes: "binnet sensitivity
// -parallel P" runs each layer's pre-training as its own process (the same
// binary, re-executed with -layers L), at most P at a time, and "binnet sweep"
// (sweep.go) does the same with train runs. The children share one output
// folder, each writing only its own sub-folder (which its flock guards), so
// an interrupted job resumes by running the same command again: finished runs
// are skipped, interrupted ones resume from their checkpoints. The merge step
// only reads the children's results.json files, in a fixed order, so it does
// not depend on which process finished first.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// childJob is one process of a parallel run.
type childJob struct {
	name string   // shown in front of each line of its output, e.g. "layer 2"
	args []string // binnet's arguments, starting with the command
	dir  string   // the folder of its run, whose results.json says whether it completed
}

// childStopDelay is how long a child may take to stop after SIGTERM (it
// stops at its next epoch boundary; its last checkpoint is kept either way)
// before it is killed.
const childStopDelay = time.Minute

// runChildren runs the jobs as child processes of exe, at most parallel at a
// time, in the order given. Each child's stderr (and, with showStdout, its
// stdout) is copied line by line to stderr with "[name] " in front. A failed
// job does not stop the others; the error lists every failed job. When ctx is
// cancelled, running children get SIGTERM and no new job starts; a child
// whose run completed all the same counts as finished, one stopped by the
// signal as interrupted (it keeps its checkpoint and resumes when the same
// command runs again), not as failed (see childOutcome).
//
// Unless GOMAXPROCS is set in the environment, each child gets GOMAXPROCS =
// this process's GOMAXPROCS / parallel (at least 1): the pure-Go backend sizes
// its worker pool by GOMAXPROCS, and P children each using every core only
// thrash. (The results do not depend on it: see docs/scale-out.md.)
func runChildren(ctx context.Context, exe string, jobs []childJob, parallel int, showStdout, quiet bool, stderr io.Writer) error {
	var mu sync.Mutex // serializes lines written to stderr
	logf := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, format, a...)
	}
	workers := min(parallel, len(jobs))
	var env []string
	// Several children share the cores; a single child picks its threads
	// itself (for a small training step, one or every core, see applyThreads).
	if os.Getenv("GOMAXPROCS") == "" && workers > 1 {
		env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", max(1, runtime.GOMAXPROCS(0)/workers)))
	}
	queue := make(chan childJob)
	var failed []string
	finished, interrupted := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range queue {
				start := time.Now()
				err := runChild(ctx, exe, job, env, showStdout, &mu, stderr, quiet, logf)
				took := time.Since(start).Seconds()
				outcome := childOutcomeOf(err, ctx.Err() != nil, job.dir)
				mu.Lock()
				switch outcome {
				case childFinished:
					finished++
				case childInterrupted:
					interrupted++
				default:
					failed = append(failed, job.name)
				}
				mu.Unlock()
				switch {
				case outcome == childInterrupted:
					logf("[%s] interrupted after %.1fs: %s\n", job.name, took, resumeNote(job.dir))
				case outcome == childFailed:
					logf("[%s] failed after %.1fs: %v\n", job.name, took, err)
				case quiet:
				case err != nil && ctx.Err() != nil:
					logf("[%s] finished in %.1fs (completed despite the interrupt)\n", job.name, took)
				case err != nil:
					logf("[%s] finished in %.1fs (its run completed, though its process ended with: %v)\n", job.name, took, err)
				default:
					logf("[%s] finished in %.1fs\n", job.name, took)
				}
			}
		}()
	}
	remaining := 0
feed:
	for i, job := range jobs {
		select {
		case queue <- job:
		case <-ctx.Done():
			remaining = len(jobs) - i
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if remaining > 0 || ctx.Err() != nil {
		msg := fmt.Sprintf("interrupted (of %d jobs, %d finished, %d interrupted, %d not started", len(jobs), finished, interrupted, remaining)
		if len(failed) > 0 {
			msg += fmt.Sprintf(", %d failed: %s", len(failed), strings.Join(failed, ", "))
		}
		return errors.New(msg + "): run the same command again to resume")
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d jobs failed (%s; their output is above): run the same command again to retry them", len(failed), len(jobs), strings.Join(failed, ", "))
	}
	return nil
}

// resumeNote says what running the same command again does for an
// interrupted job whose run is in dir: resume from its checkpoint, or,
// before its first epoch ended, start afresh.
func resumeNote(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, training.CheckpointFile)); dir == "" || err != nil {
		return "no checkpoint yet; the same command starts it afresh"
	}
	return "its checkpoint is kept, and the same command resumes it"
}

// childOutcome is how a child job ended.
type childOutcome int

const (
	childFinished    childOutcome = iota // its run completed
	childInterrupted                     // stopped by a signal, its checkpoint kept
	childFailed                          // any other error
)

// childOutcome classifies a child job that returned err (from exec's Wait)
// after running the run in dir (its folder held no completed run when the
// job started), interrupted saying whether this process was interrupted:
// finished when it exited 0 or, whatever err says, its folder now holds a
// completed run (a child that completed its run after the interrupt's
// SIGTERM exits 0, which exec reports as the context's error; a sensitivity
// layer may complete and its process be stopped before it exits);
// interrupted when the child exited with the code of a signal that stops a
// run at an epoch boundary (130 SIGINT, 143 SIGTERM: see exitCode), or, this
// process interrupted, when exec reports the context's error or the child
// killed (it outlived childStopDelay; its last checkpoint is kept); failed
// otherwise (a child that fails in its own right during an interrupt, e.g.
// diverged, still counts as failed).
func childOutcomeOf(err error, interrupted bool, dir string) childOutcome {
	if err == nil || dir != "" && completed(dir) {
		return childFinished
	}
	var exit *exec.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case isExit && (exit.ExitCode() == 130 || exit.ExitCode() == 143):
		return childInterrupted
	case interrupted && (errors.Is(err, context.Canceled) || isExit && exit.ExitCode() == -1):
		return childInterrupted
	}
	return childFailed
}

// runChild runs one job and waits for it.
func runChild(ctx context.Context, exe string, job childJob, env []string, showStdout bool, mu *sync.Mutex, stderr io.Writer, quiet bool, logf func(string, ...any)) error {
	cmd := exec.CommandContext(ctx, exe, job.args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = childStopDelay
	cmd.SysProcAttr = childProcAttr()
	cmd.Env = env // nil: this process's environment
	errw := &prefixWriter{prefix: "[" + job.name + "] ", mu: mu, w: stderr}
	cmd.Stderr = errw
	cmd.Stdout = io.Discard
	if showStdout {
		cmd.Stdout = errw
	}
	// The parent-death signal goes with the thread that started the child:
	// keep that thread alive until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return err
	}
	if !quiet {
		logf("[%s] started: pid %d\n", job.name, cmd.Process.Pid)
	}
	err := cmd.Wait()
	errw.flush()
	return err
}

// prefixWriter writes each complete line it receives, with a prefix, to w
// while holding mu, so that the lines of concurrent children do not mix. A
// carriage return (a progress bar's redraw) ends a line too.
type prefixWriter struct {
	prefix string
	mu     *sync.Mutex
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexAny(p.buf, "\n\r")
		if i < 0 {
			break
		}
		line := p.buf[:i]
		if len(bytes.TrimSpace(line)) > 0 {
			p.mu.Lock()
			fmt.Fprintf(p.w, "%s%s\n", p.prefix, line)
			p.mu.Unlock()
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(bytes.TrimSpace(p.buf)) > 0 {
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.mu.Unlock()
	}
	p.buf = nil
}

// setFlags returns the flags given on the command line as arguments
// ("-name=value"), except those named in skip: what a child process needs to
// repeat the parent's configuration.
func setFlags(fs *flag.FlagSet, skip ...string) []string {
	var args []string
	fs.Visit(func(f *flag.Flag) {
		for _, s := range skip {
			if f.Name == s {
				return
			}
		}
		args = append(args, "-"+f.Name+"="+f.Value.String())
	})
	return args
}

// datasetName is the data set name dataOptions.load will use (for default
// output folders, known before loading anything).
func datasetName(d *dataOptions, p models.Preset) string {
	switch {
	case d.dataset != "":
		return d.dataset
	case d.dataDir != "" && (p.Hyper.Dataset == "cifar10" || p.Hyper.Dataset == "imagenet"):
		return p.Hyper.Dataset
	case d.dataDir != "":
		return "mnist"
	}
	return "sample"
}

// completed reports whether dir holds the results of a completed run.
func completed(dir string) bool { return training.CompletedResults(dir) != nil }

// selfExecutable is the binary that child processes run.
func selfExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("-parallel needs the path of the binnet binary to start its processes: %w", err)
	}
	return exe, nil
}

// sensitivityUsage is the description of the sensitivity command, shared by
// its dispatcher (runSensitivityCommand) and its in-process form
// (runSensitivity), which register the same flags.
const sensitivityUsage = "Sensitivity pre-training: for each binarizable layer k, trains with only k binary\nand records the validation accuracy; ranks the layers into the ascend and descend\norders and writes OUT/sensitivity.json. Each layer runs in OUT/layer-NN and a\nre-run skips finished layers, so -layers can split the work across processes\n(or machines: see docs/scale-out.md), and -parallel P runs the layers as P\nconcurrent processes of this binary; -seeds 1,2,3 runs one pre-training per seed\nand ranks the layers by the seeds' mean accuracies.\nNeighbours of the ranking closer than their epoch-to-epoch noise are named\n(\"not resolved\"); train -sensitivity A.json,B.json ranks by several seeds' means."

// runSensitivityCommand is the sensitivity command: without -parallel (or with
// -parallel 1) it trains the layers one after the other in this process
// (runSensitivity); with -parallel P it runs each unfinished layer as a child
// process, at most P at a time, and then merges their results.
func runSensitivityCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sensitivity", sensitivityUsage, stderr)
	var sf sensitivityFlags
	sf.register(fs)
	d, r, layerList, out := &sf.data, &sf.run, sf.layers, sf.out
	parallel := fs.Int("parallel", 1, "run the layers as this many concurrent processes (one process per layer, each resuming or skipping its own folder); 1: all in this process")
	seeds := fs.String("seeds", "", "several seeds, e.g. 1,2,3: one pre-training per seed in OUT/seed-N, then OUT/sensitivity.json ranks the layers by the seeds' mean accuracies (default OUT: binnet-runs/sensitivity-MODEL-DATASET-seeds1-2-3)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *parallel < 1 {
		return fmt.Errorf("-parallel must be at least 1, got %d", *parallel)
	}
	if flagGiven(fs, "seeds") { // an empty -seeds is refused there, as compare refuses it
		return runSensitivitySeeds(ctx, fs, &sf, *seeds, stdout, stderr)
	}
	rest := setFlags(fs, "parallel")
	if *parallel == 1 {
		return runSensitivity(ctx, rest, stdout, stderr)
	}
	p, err := r.preset()
	if err != nil {
		return err
	}
	n := p.Network.NumBinarizable()
	layers, err := parseLayerList(*layerList, n)
	if err != nil {
		return err
	}
	// The flags every child would refuse are refused once, here.
	if e := *sf.epochs; e < 0 || e == 0 && r.given("epochs") {
		return fmt.Errorf("-epochs must be at least 1, got %d", e)
	}
	if err := r.check(p); err != nil {
		return err
	}
	if err := r.checkData(d, p); err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = defaultSensitivityDir(p.Name, datasetName(d, p), r.seed)
	}
	exe, err := selfExecutable()
	if err != nil {
		return err
	}
	childArgs := setFlags(fs, "parallel", "layers")
	var jobs []childJob
	var done []string // the 1-based layers whose folder holds a completed run
	for _, l := range layers {
		if completed(sensitivity.LayerDir(dir, l)) {
			done = append(done, strconv.Itoa(l+1))
			continue
		}
		jobs = append(jobs, childJob{name: fmt.Sprintf("layer %d", l+1), dir: sensitivity.LayerDir(dir, l),
			args: append(append([]string{"sensitivity"}, childArgs...), fmt.Sprintf("-layers=%d", l+1))})
	}
	if len(done) > 0 && len(jobs) > 0 {
		// A layer is skipped only if its completed run is this
		// configuration's: the in-process run of the finished layers alone
		// trains nothing and compares each one's fingerprint (as the merge
		// below would, but before the other layers train).
		check := append(append([]string{}, childArgs...), "-quiet", "-layers="+strings.Join(done, ","))
		if err := runSensitivity(ctx, check, io.Discard, stderr); err != nil {
			return err
		}
		debug.FreeOSMemory() // the data's memory, while the children run
	}
	if !r.quiet {
		fmt.Fprintf(stderr, "sensitivity of %s: %d layers to run (%d already done) in %s, %d processes at a time\n",
			p.Name, len(jobs), len(done), dir, min(*parallel, max(len(jobs), 1)))
	}
	if err := runChildren(ctx, exe, jobs, *parallel, false, r.quiet, stderr); err != nil {
		return err
	}
	// The merge: every layer is done, so this trains nothing; it reads the
	// layers' results in layer order, ranks them and writes sensitivity.json.
	return runSensitivity(ctx, append(rest, "-quiet"), stdout, stderr)
}

// parseLayerList parses -layers ("1,3", 1-based) into 0-based layers; "" is all n.
func parseLayerList(s string, n int) ([]int, error) {
	var layers []int
	if s == "" {
		for l := 0; l < n; l++ {
			layers = append(layers, l)
		}
		return layers, nil
	}
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		var l int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &l); err != nil || l < 1 || l > n {
			return nil, fmt.Errorf("-layers: %q is not a layer number in 1..%d", f, n)
		}
		if seen[l] {
			return nil, fmt.Errorf("-layers: layer %d is listed twice", l)
		}
		seen[l] = true
		layers = append(layers, l-1)
	}
	return layers, nil
}
