package cputime

import (
	"testing"
	"time"
)

// TestProcessAdvances does a fixed amount of arithmetic (tens of
// milliseconds of CPU, however busy the machine) and checks that the
// process's CPU time grew by at least 10 ms and that neither part went
// backwards. The wall time it took bounds the growth from above only when
// nothing else of the process runs, so it is not checked.
func TestProcessAdvances(t *testing.T) {
	u0, s0, ok := Process()
	if !ok {
		t.Skip("getrusage not available")
	}
	start := time.Now()
	x := 0.0
	for i := 0; i < 100_000_000; i++ {
		x += float64(i&1023) * 1e-9
	}
	u1, s1, _ := Process()
	if grew := (u1 + s1) - (u0 + s0); grew < 10*time.Millisecond || u1 < u0 || s1 < s0 {
		t.Errorf("after %v of arithmetic (sum %v): user %v -> %v, system %v -> %v", time.Since(start), x, u0, u1, s0, s1)
	}
}
