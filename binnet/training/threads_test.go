package training

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/binnet/binnet/binnet/models"
)

// TestTimeStepThreads times smallMLP's step on one thread and on two: both
// times are positive, and GOMAXPROCS is as before afterwards.
func TestTimeStepThreads(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	times, err := timeStepThreads(smallMLP, 16, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[0] <= 0 || times[1] <= 0 {
		t.Fatalf("step times %v, want two positive durations", times)
	}
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS %d after timing, was %d", after, before)
	}
}

// TestFastestThreads checks the choice between timed thread counts.
func TestFastestThreads(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		times []time.Duration
		want  int
	}{
		{[]time.Duration{177 * ms / 100, 142 * ms / 100}, 2},
		{[]time.Duration{130 * ms / 100, 165 * ms / 100}, 1},
		{[]time.Duration{ms, ms}, 1},
	} {
		if got := fastest([]int{1, 2}, c.times); got != c.want {
			t.Errorf("times %v: %d threads, want %d", c.times, got, c.want)
		}
	}
	c := ThreadChoice{Threads: 2, Timed: []int{1, 2}, StepTimes: []time.Duration{1770 * time.Microsecond, 1420 * time.Microsecond}}
	if got, want := c.String(), "1 thread(s): 1.77 ms/step, 2 thread(s): 1.42 ms/step"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestPickStepThreadsKeepsUserChoice: with GOMAXPROCS set in the
// environment nothing is timed and the current threads are kept.
func TestPickStepThreadsKeepsUserChoice(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	c, err := PickStepThreads(smallMLP, 16)
	if err != nil {
		t.Fatal(err)
	}
	if c.Threads != runtime.GOMAXPROCS(0) || len(c.Timed) != 0 {
		t.Errorf("with GOMAXPROCS set: %+v, want the current %d threads and nothing timed", c, runtime.GOMAXPROCS(0))
	}
}

// TestStepMACsBadBatch: a batch below 1 is an error, not a negative count
// (StepMACs(net, -1) returned -168), and PickStepThreads passes it on.
func TestStepMACsBadBatch(t *testing.T) {
	net := models.MLP{Inputs: 784, Hidden: []int{300, 100}, Classes: 10}
	for _, batch := range []int{0, -1} {
		if macs, err := StepMACs(net, batch); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a batch of %d examples", batch)) {
			t.Errorf("StepMACs(batch %d) = %d, %v", batch, macs, err)
		}
	}
}
