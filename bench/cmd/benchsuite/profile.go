package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Profile.

// profile CPU-profiles the benchmark of ./binnet/training that bench names
// and returns its result line, the flat and cumulative tops and, with peek,
// the callers of runtime.memmove.
func profile(bench, benchtime string, peek bool) (string, string, error) {
	dir, err := os.MkdirTemp("", "benchsuite-prof-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	prof := filepath.Join(dir, "cpu.out")
	bin := filepath.Join(dir, "training.test")
	args := []string{"test", "-run", "^$", "-bench", bench, "-benchtime", benchtime, "-cpuprofile", prof, "-o", bin, "./binnet/training"}
	cmdline := fmt.Sprintf("go test -run '^$' -bench '%s' -benchtime %s -cpuprofile cpu.out ./binnet/training", bench, benchtime)
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", cmdline, fmt.Errorf("%w\n%s", err, tail(string(out)))
	}
	var benchLines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			benchLines = append(benchLines, strings.Join(strings.Fields(l), " "))
		}
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount", "25", bin, prof).Output()
	if err != nil {
		return "", cmdline, err
	}
	cum, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount", "25", bin, prof).Output()
	if err != nil {
		return "", cmdline, err
	}
	res := strings.Join(benchLines, "\n") + "\n\n--- flat ---\n" + trimPprof(string(top)) + "\n\n--- cumulative ---\n" + trimPprof(string(cum))
	if peek {
		callers, err := exec.Command("go", "tool", "pprof", "-peek", "runtime.memmove$", bin, prof).Output()
		if err != nil {
			return "", cmdline, err
		}
		res += "\n\n--- callers of runtime.memmove ---\n" + trimPeek(string(callers))
	}
	return res, cmdline, nil
}

// trimPeek keeps the table of a pprof -peek output, without blank lines.
func trimPeek(s string) string {
	var out []string
	on := false
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "flat%") {
			on = true
		}
		if on && strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return s
	}
	return strings.Join(out, "\n")
}

func trimPprof(s string) string {
	lines := strings.Split(s, "\n")
	var duration string // "Duration: 35s, Total samples = 14s (40%)": how much CPU the benchmark got
	for i, l := range lines {
		if strings.HasPrefix(l, "Duration:") {
			duration = l + "\n"
		}
		if strings.Contains(l, "flat%") {
			return duration + strings.TrimSpace(strings.Join(lines[max(0, i-2):], "\n"))
		}
	}
	return s
}
