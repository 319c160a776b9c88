package main

// Scale-out through the real binary: sensitivity -parallel and sweep run
// their jobs as child processes of it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binnet/binnet/binnet/training"
)

// sensitivityNumbers returns sensitivity.json without the layers' seconds.
func sensitivityNumbers(t *testing.T, dir string) map[string]any {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(fileBytes(t, filepath.Join(dir, "sensitivity.json")), &r); err != nil {
		t.Fatal(err)
	}
	for _, l := range r["layers"].([]any) {
		delete(l.(map[string]any), "seconds")
	}
	return r
}

func runBinary(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("binnet %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// TestParallelSensitivity runs the 3 layers of mlp-300-100 as 3 processes and
// checks that the merged sensitivity.json has exactly the numbers of the
// sequential run, then removes one layer and checks that a re-run trains only
// that one.
func TestParallelSensitivity(t *testing.T) {
	bin := binnetBinary(t)
	seqDir := filepath.Join(t.TempDir(), "seq")
	parDir := filepath.Join(t.TempDir(), "par")
	common := []string{"sensitivity", "-model", "mlp-300-100", "-epochs", "1", "-seed", "3"}
	mustCLI(t, append(common, "-quiet", "-out", seqDir)...)
	want := sensitivityNumbers(t, seqDir)

	stdout, stderr := runBinary(t, bin, append(common, "-parallel", "3", "-out", parDir)...)
	if got := sensitivityNumbers(t, parDir); !reflect.DeepEqual(got, want) {
		t.Errorf("parallel sensitivity.json differs from the sequential one:\nparallel   %v\nsequential %v", got, want)
	}
	for _, l := range []string{"1", "2", "3"} {
		if !regexp.MustCompile(`(?m)^\[layer ` + l + `\] epoch +1/1 `).MatchString(stderr) {
			t.Errorf("stderr shows no progress line of layer %s with its prefix:\n%s", l, stderr)
		}
	}
	if !strings.Contains(stdout, "order ascend") || !strings.Contains(stdout, filepath.Join(parDir, "sensitivity.json")) {
		t.Errorf("stdout shows no merged result:\n%s", stdout)
	}
	if strings.Contains(stdout, "not every layer") {
		t.Errorf("a child's incomplete-result message reached stdout:\n%s", stdout)
	}

	// Resume: layer 2 lost, the merged file too.
	if err := os.RemoveAll(filepath.Join(parDir, "layer-02")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(parDir, "sensitivity.json"))
	_, stderr = runBinary(t, bin, append(common, "-parallel", "3", "-out", parDir)...)
	if !strings.Contains(stderr, "1 layers to run (2 already done)") {
		t.Errorf("the re-run does not skip the 2 finished layers:\n%s", stderr)
	}
	if strings.Contains(stderr, "[layer 1]") || strings.Contains(stderr, "[layer 3]") {
		t.Errorf("the re-run started a finished layer:\n%s", stderr)
	}
	if got := sensitivityNumbers(t, parDir); !reflect.DeepEqual(got, want) {
		t.Errorf("re-merged sensitivity.json differs from the sequential one:\n%v\n%v", got, want)
	}

	// Nothing left: the merge alone, no process started.
	_, stderr = runBinary(t, bin, append(common, "-parallel", "2", "-out", parDir)...)
	if !strings.Contains(stderr, "0 layers to run (3 already done)") || strings.Contains(stderr, "started") {
		t.Errorf("a run with every layer done started processes:\n%s", stderr)
	}
}

// TestSweepResume interrupts a sweep (SIGINT, as Ctrl-C would) once its
// third run has finished its first epoch (the first two have finished or are
// near the end), checks that no run is counted as failed, runs the same
// command again, and checks that the
// finished runs are skipped, the interrupted ones resume, and the final
// report covers every (order, seed) with results equal to single train runs.
func TestSweepResume(t *testing.T) {
	bin := binnetBinary(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	args := []string{"sweep", "-model", "mlp-300-100", "-orders", "float;1,3,2", "-seeds", "1,2",
		"-epochs", "3", "-epochs-per-layer", "1", "-parallel", "2", "-out", dir}

	cmd := exec.Command(bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(pipe)
	interrupted := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !interrupted && strings.HasPrefix(sc.Text(), "[1,3,2 seed 1] epoch   1/3") {
			cmd.Process.Signal(syscall.SIGINT)
			interrupted = true
		}
	}
	err = cmd.Wait()
	if !interrupted {
		t.Fatalf("the sweep never reached epoch 1 of its third run:\n%s", log.String())
	}
	if err == nil {
		t.Logf("the sweep finished before the interruption took effect:\n%s", log.String())
	} else if !strings.Contains(log.String(), "run the same command again") {
		t.Errorf("the interrupted sweep does not say how to resume:\n%s", log.String())
	} else if strings.Contains(log.String(), "failed") ||
		!regexp.MustCompile(`binnet sweep: interrupted \(of 4 jobs, \d finished, [1-4] interrupted, \d not started\)`).MatchString(log.String()) {
		// Its runs completed or were stopped with their checkpoints: none failed.
		t.Errorf("the interrupted sweep counts its runs as failed, or not as interrupted:\n%s", log.String())
	}
	if out.Len() > 0 && err != nil {
		t.Errorf("the interrupted sweep printed a report:\n%s", out.String())
	}

	start := time.Now()
	stdout, stderr := runBinary(t, bin, args...)
	m := regexp.MustCompile(`(\d+) runs to train \((\d+) already done\)`).FindStringSubmatch(stderr)
	if m == nil || m[2] == "0" || m[1] == "4" {
		t.Errorf("the re-run does not skip the finished runs:\n%s", stderr)
	}
	t.Logf("re-run: %s runs to train, %s already done, %.1fs", m[1], m[2], time.Since(start).Seconds())
	for _, row := range []string{"| float | 2 (seeds 1,2) |", "| 1,3,2 | 2 (seeds 1,2) |"} {
		if !strings.Contains(stdout, row) {
			t.Errorf("the report has no row %q:\n%s", row, stdout)
		}
	}
	if !strings.HasPrefix(stdout, "| model | data | protocol | order | runs | test accuracy |") {
		t.Errorf("the sweep does not end with the report table:\n%s", stdout)
	}

	// Each run completed; one of them (a resumed one if any) equals the same
	// train run made alone in this process.
	type run struct{ sub, order, seed string }
	check := run{"1-3-2-seed1", "1,3,2", "1"}
	resumed := 0
	for _, r := range []run{{"float-seed1", "float", "1"}, {"float-seed2", "float", "2"}, {"1-3-2-seed1", "1,3,2", "1"}, {"1-3-2-seed2", "1,3,2", "2"}} {
		got, res := comparableResults(t, filepath.Join(dir, r.sub))
		if got["status"] != "completed" {
			t.Errorf("%s: status %v", r.sub, got["status"])
		}
		if len(res) > 0 {
			if resumed == 0 {
				check = r
			}
			resumed++
		}
	}
	t.Logf("runs that resumed from a checkpoint: %d; checking %s against a train run", resumed, check.sub)
	if resumed == 0 && err != nil {
		t.Error("no run of the interrupted sweep resumed from its checkpoint")
	}
	ref := filepath.Join(t.TempDir(), "ref")
	mustCLI(t, "train", "-model", "mlp-300-100", "-order", check.order, "-seed", check.seed, "-epochs", "3", "-epochs-per-layer", "1", "-quiet", "-out", ref)
	got, _ := comparableResults(t, filepath.Join(dir, check.sub))
	if want, _ := comparableResults(t, ref); !reflect.DeepEqual(got, want) {
		t.Errorf("%s differs from the same train run made alone:\nsweep %v\nalone %v", check.sub, got, want)
	}
}

// TestSweepReportsDivergedRuns runs a sweep whose float run diverges (Adam at
// lr 1e8 takes its mean training loss past -max-loss 1e8 in its second
// epoch) while its binary run completes (its losses, huge but falling, stay
// under 7.2e7; see TestCompareGoesOnPastDivergence): the sweep exits 1, names the
// failed job, and still prints the report, where the float row counts one
// failed run and the binary row has its accuracy.
func TestSweepReportsDivergedRuns(t *testing.T) {
	bin := binnetBinary(t)
	dir := filepath.Join(t.TempDir(), "sweep")
	cmd := exec.Command(bin, "sweep", "-lr", "1e8", "-max-loss", "1e8", "-epochs", "3", "-epochs-per-layer", "1", "-train-size", "1000",
		"-test-size", "500", "-orders", "float;binary", "-seeds", "1", "-quiet", "-out", dir)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Errorf("exit code %d (%v), want 1", code, err)
	}
	if !strings.Contains(e.String(), "1 of 2 jobs failed (float seed 1") || !strings.Contains(e.String(), "training diverged") {
		t.Errorf("stderr does not name the diverged run:\n%s", e.String())
	}
	if !regexp.MustCompile(`\| float \| 1 failed \| \| \| \|`).MatchString(o.String()) ||
		!regexp.MustCompile(`\| binary \| 1 \(seeds 1\) \| 0\.\d{4} \|`).MatchString(o.String()) {
		t.Errorf("the report does not show the failed float run and the binary one:\n%s", o.String())
	}
}

// TestThreads checks the thread choice of the binary (a fresh process, so
// that GOMAXPROCS is its own): for mlp-300-100's small step at batch 100,
// one thread or every core, whichever the step times that speed -json
// reports (thread_step_ms) show faster; every core for mlp-784-784's step
// and for mlp-300-100's at batch 1000, without timing; -threads when given;
// and that a short training run gives the same numbers on one thread and on
// two.
func TestThreads(t *testing.T) {
	bin := binnetBinary(t)
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: nothing to choose")
	}
	type result struct {
		Threads      int
		ThreadStepMs map[string]float64 `json:"thread_step_ms"`
	}
	speed := func(args ...string) result {
		cmd := exec.Command(bin, append([]string{"speed", "-steps", "2", "-windows", "1", "-json"}, args...)...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("binnet speed %v: %v\n%s", args, err, e.String())
		}
		var r result
		if err := json.Unmarshal(o.Bytes(), &r); err != nil {
			t.Fatalf("binnet speed %v: %v in %q", args, err, o.String())
		}
		return r
	}
	all := runtime.NumCPU()
	r := speed("-model", "mlp-300-100", "-batch", "100")
	one, many := r.ThreadStepMs["1"], r.ThreadStepMs[strconv.Itoa(all)]
	want := all
	if one <= many {
		want = 1
	}
	if len(r.ThreadStepMs) != 2 || one <= 0 || many <= 0 || r.Threads != want {
		t.Errorf("mlp-300-100 at batch 100: step times %v ms, ran on %d threads; want 1 and %d timed and the faster used (%d)", r.ThreadStepMs, r.Threads, all, want)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"-model", "mlp-784-784", "-batch", "100"}, all},
		{[]string{"-model", "mlp-300-100", "-batch", "1000"}, all},
		{[]string{"-model", "mlp-300-100", "-batch", "100", "-threads", "2"}, 2},
	} {
		if r := speed(c.args...); r.Threads != c.want || r.ThreadStepMs != nil {
			t.Errorf("speed %v ran on %d threads with step times %v, want %d and nothing timed", c.args, r.Threads, r.ThreadStepMs, c.want)
		}
	}

	dir := t.TempDir()
	histories := map[string]string{}
	for _, threads := range []string{"1", "2"} {
		out := filepath.Join(dir, "t"+threads)
		runBinary(t, bin, "train", "-threads", threads, "-epochs", "3", "-epochs-per-layer", "1", "-train-size", "2000", "-quiet", "-out", out)
		res, err := training.ReadResults(filepath.Join(out, training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, h := range res.History {
			fmt.Fprintf(&sb, "%v %v %v %v; ", h.TrainLoss, h.TrainAccuracy, h.ValLoss, h.ValAccuracy)
		}
		fmt.Fprintf(&sb, "test %v %v", res.TestLoss, res.TestAccuracy)
		histories[threads] = sb.String()
	}
	if histories["1"] != histories["2"] {
		t.Errorf("one thread and two threads trained differently:\n1: %s\n2: %s", histories["1"], histories["2"])
	}
}

// TestChildOutcome checks how sweep and sensitivity -parallel count a
// child: finished when it exited 0 or its folder holds a completed run
// (whatever exec reported), interrupted when it exited with SIGINT's or
// SIGTERM's code or, during an interrupt, exec reported the context's error
// or a kill, failed otherwise.
func TestChildOutcome(t *testing.T) {
	done, empty := t.TempDir(), t.TempDir()
	if err := training.WriteResults(filepath.Join(done, training.ResultsFile), &training.Results{Status: training.StatusCompleted, Model: "mlp-300-100"}); err != nil {
		t.Fatal(err)
	}
	exit := func(code int) error {
		err := exec.Command("sh", "-c", "exit "+strconv.Itoa(code)).Run()
		if err == nil {
			t.Fatalf("sh exit %d: no error", code)
		}
		return err
	}
	killed := func() error {
		cmd := exec.Command("sleep", "10")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmd.Process.Kill()
		return cmd.Wait()
	}
	for _, c := range []struct {
		name        string
		err         error
		interrupted bool
		dir         string
		want        childOutcome
	}{
		{"exit 0", nil, false, empty, childFinished},
		{"exit 0 during an interrupt", context.Canceled, true, done, childFinished},
		{"exit 143, run completed", exit(143), true, done, childFinished},
		{"exit 1, run completed", exit(1), false, done, childFinished},
		{"exit 143 during an interrupt", exit(143), true, empty, childInterrupted},
		{"exit 130, no interrupt here", exit(130), false, empty, childInterrupted},
		{"context error during an interrupt", context.Canceled, true, empty, childInterrupted},
		{"killed during an interrupt", killed(), true, empty, childInterrupted},
		{"killed, no interrupt", killed(), false, empty, childFailed},
		{"exit 1", exit(1), false, empty, childFailed},
		{"exit 1 during an interrupt", exit(1), true, empty, childFailed},
		{"exit 1, no folder", exit(1), false, "", childFailed},
	} {
		if got := childOutcomeOf(c.err, c.interrupted, c.dir); got != c.want {
			t.Errorf("%s (%v): outcome %d, want %d", c.name, c.err, got, c.want)
		}
	}
}
