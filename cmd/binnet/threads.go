package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
)

// threadsUsage is the -threads flag's help.
var threadsUsage = "threads running the training (GOMAXPROCS); 0 picks: for a step under 200 M multiply-accumulates on the pure-Go backend, " +
	"one thread or every core, whichever runs it faster here (timed before training, a fraction of a second: on some CPUs one thread runs " +
	"the paper's mlp-300-100 at batch 100 ~20 % faster, on others two do), else every core; a GOMAXPROCS environment variable is kept; " +
	fmt.Sprintf("at most %d (4 x the %d CPUs of this machine)", maxThreads(), runtime.NumCPU())

// maxThreads is the most threads -threads accepts: 4 x the CPUs. Far more
// threads only slow the step down, and tens of thousands exhaust the
// runtime's threads (a fatal error) or stall the backend's worker pool.
func maxThreads() int { return 4 * runtime.NumCPU() }

// checkThreads validates a -threads value: 0 (pick) to maxThreads.
func checkThreads(threads int) error {
	switch {
	case threads < 0:
		return fmt.Errorf("-threads %d: must be 0 (pick) or more", threads)
	case threads > maxThreads():
		return fmt.Errorf("-threads %d: at most %d, 4 x the %d CPUs of this machine", threads, maxThreads(), runtime.NumCPU())
	}
	return nil
}

// applyThreads sets the threads of this process before any backend opens:
// threads (the -threads flag, refused outside 0..maxThreads) when positive,
// else training.UseStepThreads (for a small training step of net at batch on
// the pure-Go backend, one thread or every core, whichever it measures
// faster). It says on stderr what it measured and chose, unless quiet, and
// returns the choice.
func applyThreads(threads int, net models.Network, batch int, quiet bool, stderr io.Writer) (training.ThreadChoice, error) {
	if err := checkThreads(threads); err != nil {
		return training.ThreadChoice{}, err
	}
	if threads > 0 {
		backend.UseThreads(threads)
		return training.ThreadChoice{Threads: threads}, nil
	}
	c, err := training.UseStepThreads(net, batch)
	if err != nil {
		return c, err
	}
	if len(c.Timed) > 0 && !quiet {
		fmt.Fprintf(stderr, "threads: a training step of %s at batch %d took %s; using %d (-threads N sets the threads)\n",
			net.Name(), batch, c, c.Threads)
	}
	return c, nil
}
