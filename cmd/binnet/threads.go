package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/summary"
)

// threadsUsage is the -threads flag's help.
const threadsUsage = "threads running the training (GOMAXPROCS); 0 picks: one for a step under 200 M multiply-accumulates on the pure-Go backend " +
	"(faster there: the paper's mlp-300-100 at batch 100 gains ~20 %), else every core; a GOMAXPROCS environment variable is kept"

// applyThreads sets the threads of this process before any backend opens:
// threads (the -threads flag) when positive, else backend.StepThreads of a
// training step of net at batch, unless the user set GOMAXPROCS or a backend
// is already open. It says on stderr when it picks one thread, unless quiet.
func applyThreads(threads int, net models.Network, batch int, quiet bool, stderr io.Writer) error {
	switch {
	case threads < 0:
		return fmt.Errorf("-threads must be 0 (pick) or more, got %d", threads)
	case threads > 0:
		backend.UseThreads(threads)
		return nil
	case os.Getenv("GOMAXPROCS") != "" || backend.Opened() || backend.StepThreads(0) != 1:
		return nil // the user's choice, too late, or not the pure-Go backend
	}
	macs, err := stepMACs(net, batch)
	if err != nil {
		return err
	}
	if n := backend.StepThreads(macs); n != runtime.GOMAXPROCS(0) {
		backend.UseThreads(n)
		if !quiet {
			fmt.Fprintf(stderr, "1 thread: a training step of %s at batch %d is ~%d M multiply-accumulates, faster on one core with the pure-Go backend (-threads N sets the threads)\n",
				net.Name(), batch, macs/1_000_000)
		}
	}
	return nil
}

// stepMACs estimates the multiply-accumulates of one training step of net
// at batch: three times the forward products of its layers (the forward
// pass, then the gradients of the inputs and of the weights). It builds the
// network's graph on a Go backend of its own, so that the shared backend is
// not opened yet.
func stepMACs(net models.Network, batch int) (int64, error) {
	b, err := backend.NewGo()
	if err != nil {
		return 0, err
	}
	defer b.Finalize()
	s, err := summary.OfWithBackend(b, net, nil)
	if err != nil {
		return 0, err
	}
	return 3 * int64(batch) * (s.Total.MACs + s.Total.BinaryMACs), nil
}
