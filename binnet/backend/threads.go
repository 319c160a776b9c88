package backend

import (
	"os"
	"runtime"
	"strings"
)

// SmallStepMACs is the size of a training step, in multiply-accumulates
// (forward and backward, estimated as three times the forward products),
// below which the pure-Go backend runs it faster on one thread than on
// several: such a step is many short operations, and handing them between
// goroutines on two or more cores (waking idle processors, which spin before
// they sleep) costs more than the second core gains. Measured on this
// project's 2-core machine (`binnet speed`, one thread against two,
// alternating; the training results are the same bits either way):
// mlp-300-100 at batch 100 (~80 M) 73-76 k against 54-65 k examples/s, at
// batch 200 (~160 M) 83-88 k against 70-71 k, at batch 400 (~320 M) about
// even; mlp-784-784 at batch 100 (~370 M) is 15-25 % faster on two threads.
const SmallStepMACs = 200_000_000

// StepThreads returns how many threads (GOMAXPROCS) binnet recommends for a
// training step of stepMACs multiply-accumulates: 1 on the pure-Go backend
// when the step is smaller than SmallStepMACs, otherwise the current
// GOMAXPROCS. A GOMAXPROCS environment variable (the user's choice) or a
// backend other than the pure-Go one keeps the current value.
func StepThreads(stepMACs int64) int {
	if !PicksThreads() || stepMACs >= SmallStepMACs {
		return runtime.GOMAXPROCS(0)
	}
	return 1
}

// PicksThreads reports whether binnet chooses the threads of a training
// step (StepThreads): the configured backend is the pure-Go one and the
// GOMAXPROCS environment variable is not set.
func PicksThreads() bool {
	name, _, _ := strings.Cut(Configuration(), ":")
	return name == "go" && os.Getenv("GOMAXPROCS") == ""
}

// UseThreads sets GOMAXPROCS to n (n >= 1) for the rest of the process and
// returns the previous value. Call it before the first backend is opened:
// a Go backend sizes its graph executors to GOMAXPROCS when it opens (see
// Configuration), and one opened with more executors than threads loses
// part of the gain of a single thread.
func UseThreads(n int) int {
	return runtime.GOMAXPROCS(max(n, 1))
}

// Opened reports whether Shared has opened the process-wide backend.
func Opened() bool {
	mu.Lock()
	defer mu.Unlock()
	return shared != nil
}
