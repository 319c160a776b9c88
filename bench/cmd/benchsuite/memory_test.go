package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestPeakRSS: a process that touches 200 MB peaks above 200 MB and one
// that touches nothing stays far below; a failing process is an error
// with its stderr.
func TestPeakRSS(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	big, err := peakRSS(exec.Command(py, "-c", "b = b'\\x01' * (200 << 20); print(len(b))"))
	if err != nil {
		t.Fatal(err)
	}
	small, err := peakRSS(exec.Command(py, "-c", "pass"))
	if err != nil {
		t.Fatal(err)
	}
	if big < 200 || small > 100 || big-small < 180 {
		t.Errorf("peak resident sets %.0f MB touching 200 MB, %.0f MB touching nothing", big, small)
	}
	if _, err := peakRSS(exec.Command(py, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)")); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing process: error %v", err)
	}
}

// TestMemoryMarkdown checks the section's ratios against hand-computed
// ones: per round binnet / PyTorch, and the same above each side's idle
// process, medians with (min–max).
func TestMemoryMarkdown(t *testing.T) {
	m := &MemoryReport{Rounds: 3, Steps: 30, BinnetIdle: []float64{20, 20, 20}, PeerIdle: []float64{100, 100, 100},
		Results: []*MemoryResult{{MemoryWorkload: MemoryWorkload{"vgg5", 100},
			Binnet: []float64{100, 110, 120}, Peer: []float64{200, 220, 200}}}}
	var sb strings.Builder
	memoryMarkdown(func(f string, a ...any) { fmt.Fprintf(&sb, f, a...) }, m)
	// ratios 0.5, 0.5, 0.6; above idle 80, 90, 100 against 100, 120, 100: 0.8, 0.75, 1.0.
	want := "| vgg5 binary b100 | 110 (100–120) | 200 (200–220) | 0.50 (0.50–0.60) | 90 (80–100) | 100 (100–120) | 0.80 (0.75–1.00) |"
	if !strings.Contains(sb.String(), want) {
		t.Errorf("no row %q in:\n%s", want, sb.String())
	}
	if !strings.Contains(sb.String(), "20 (20–20) MB for binnet, 100 (100–100) MB for PyTorch") {
		t.Errorf("idle figures missing:\n%s", sb.String())
	}
}
