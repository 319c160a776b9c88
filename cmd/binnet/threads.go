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
const threadsUsage = "threads running the training (GOMAXPROCS); 0 picks: one for a step under 200 M multiply-accumulates on the pure-Go backend " +
	"(faster there: the paper's mlp-300-100 at batch 100 gains ~20 %), else every core; a GOMAXPROCS environment variable is kept"

// applyThreads sets the threads of this process before any backend opens:
// threads (the -threads flag) when positive, else training.UseStepThreads
// (one thread for a small training step of net at batch on the pure-Go
// backend). It says on stderr when it picks one thread, unless quiet.
func applyThreads(threads int, net models.Network, batch int, quiet bool, stderr io.Writer) error {
	switch {
	case threads < 0:
		return fmt.Errorf("-threads must be 0 (pick) or more, got %d", threads)
	case threads > 0:
		backend.UseThreads(threads)
		return nil
	}
	before := runtime.GOMAXPROCS(0)
	n, err := training.UseStepThreads(net, batch)
	if err != nil {
		return err
	}
	if n != before && !quiet {
		fmt.Fprintf(stderr, "%d thread(s): a training step of %s at batch %d is small for %d cores on the pure-Go backend (-threads N sets the threads)\n",
			n, net.Name(), batch, before)
	}
	return nil
}
