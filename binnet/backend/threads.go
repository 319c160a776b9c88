package backend

import (
	"os"
	"runtime"
	"strings"
)

// SmallStepMACs is the size of a training step, in multiply-accumulates
// (forward and backward, estimated as three times the forward products),
// below which binnet measures whether the pure-Go backend runs the step
// faster on one thread than on every core. Such a step is many short
// operations, and handing them between goroutines on two or more cores
// (waking idle processors, which spin before they sleep) can cost more than
// the second core gains; which way it goes depends on the CPU. On this
// project's 2-core machines (`binnet speed`, one thread against two,
// alternating; the training results are the same bits either way):
// mlp-300-100 at batch 100 (~80 M) ran at 73-76 k examples/s on one thread
// against 54-65 k on two on one machine (2026-11-26), and at 56-57 k against
// 70-71 k on another (2026-11-27, an AMD EPYC whose single-thread sgemm
// reaches 105 GFLOP/s against the first machine's 182); at batch 400 (~320 M)
// the first machine was about even, and mlp-784-784 at batch 100 (~370 M)
// ran 15-25 % faster on two threads there. Above this size every core is used
// without measuring.
const SmallStepMACs = 200_000_000

// StepThreadCandidates returns the thread counts (GOMAXPROCS) binnet
// considers for a training step of stepMACs multiply-accumulates: one and
// the current GOMAXPROCS for a step smaller than SmallStepMACs on the pure-Go
// backend (the caller times both, see training.PickStepThreads), otherwise
// only the current GOMAXPROCS. A GOMAXPROCS environment variable (the
// user's choice), a backend other than the pure-Go one or a single thread
// leaves only the current value.
func StepThreadCandidates(stepMACs int64) []int {
	current := runtime.GOMAXPROCS(0)
	if !PicksThreads() || stepMACs >= SmallStepMACs || current == 1 {
		return []int{current}
	}
	return []int{1, current}
}

// PicksThreads reports whether binnet chooses the threads of a training
// step (StepThreadCandidates): the configured backend is the pure-Go one and the
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
