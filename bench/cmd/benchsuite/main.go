// Command benchsuite measures binnet's CPU training speed against the
// PyTorch peer (bench/pytorch/mlp_mnist.py) on the same machine, in the same
// run, alternating the two (binnet, PyTorch, binnet, PyTorch, ...) for several
// rounds, and writes docs/performance.md.
//
// Run it from the repository root, on an otherwise idle machine:
//
//	export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
//	go run ./bench/cmd/benchsuite                 # full suite, ~25 minutes on 2 cores (~12 with -conv=false)
//	go run ./bench/cmd/benchsuite -quick -out /tmp/perf.md   # smoke test, ~2 minutes
//
// Workloads: training steps (forward, backward, Adam) of the binary and float
// MLPs 784-300-100-10, 784-784-784-10 and 784-1024-1024-10 at batch 100 and
// 1000; one end-to-end epoch of training.Run on the real MNIST (data loading,
// batching, validation included) against the same number of bare training
// steps; the sensitivity pre-training of mlp-784-784 (1 epoch per layer); the
// machine's sgemm peak (numpy + OpenBLAS); and a CPU profile of a binnet step.
// The convolutional workloads (-conv) are training steps of the presets cnn
// (28x28x1) and vgg5 (32x32x3) at batch 100 and resnet20 at batch 128, binary
// and float, against bench/pytorch/cnn_bench.py, with a CPU profile of the
// binary vgg5 step; -conv-only runs just them and, with -merge (the default),
// keeps the MLP sections of the existing JSON report:
//
//	go run ./bench/cmd/benchsuite -conv-only     # 8-15 minutes on 2 (loaded) cores
//
// See bench/README.md.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet"
	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/internal/cputime"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
)

var (
	flagRounds     = flag.Int("rounds", 3, "rounds of each step workload (binnet, PyTorch 1 thread, PyTorch 2 threads per round)")
	flagEpochRnds  = flag.Int("epoch-rounds", 2, "rounds of the end-to-end epoch workloads")
	flagSensRounds = flag.Int("sens-rounds", 1, "rounds of the sensitivity pre-training workload")
	flagMinSec     = flag.Float64("min-seconds", 2, "minimum timed seconds of one step measurement")
	flagThreads    = flag.String("threads", "1,2", "PyTorch thread counts to measure (comma separated)")
	flagPython     = flag.String("python", "/usr/bin/python3", "Python with torch and numpy (Debian's)")
	flagCoreType   = flag.String("openblas-coretype", "SkylakeX", "OPENBLAS_CORETYPE for the peer and the sgemm measurement ('' leaves the environment's)")
	flagDataDir    = flag.String("data-dir", "", "real MNIST IDX folder (default ../shared/datasets/mnist, then /work/shared/datasets/mnist)")
	flagOut        = flag.String("out", "docs/performance.md", "Markdown report ('' for none)")
	flagJSON       = flag.String("json", "bench/results/benchsuite.json", "raw measurements as JSON ('' for none)")
	flagSteps      = flag.Bool("steps", true, "run the training-step workloads")
	flagEpoch      = flag.Bool("epoch", true, "run the end-to-end MNIST epoch workloads")
	flagSens       = flag.Bool("sens", true, "run the sensitivity pre-training workload")
	flagProfile    = flag.Bool("profile", true, "CPU-profile BenchmarkTrainStepMLP784/binary/stage (go test) and include the top functions")
	flagEpochModel = flag.String("epoch-models", "mlp-300-100,mlp-784-784", "models of the end-to-end epoch workload")
	flagOnly       = flag.String("only", "", "run only the step workloads whose name contains this (e.g. mlp-300-100)")
	flagRender     = flag.String("render", "", "only rewrite -out from a JSON file of an earlier run (e.g. after editing analysis.md)")
	flagQuick      = flag.Bool("quick", false, "smoke test: 1 round, 0.3 s measurements, small epoch workloads")
	flagConv       = flag.Bool("conv", true, "run the convolutional training-step workloads (-conv-models against cnn_bench.py)")
	flagConvModels = flag.String("conv-models", "cnn,vgg5,resnet20", "presets of the convolutional step workloads (each at its preset's batch size)")
	flagConvProf   = flag.Bool("conv-profile", true, "with -conv: CPU-profile BenchmarkTrainStepConv/vgg5 (go test) and include the top functions")
	flagConvOnly   = flag.Bool("conv-only", false, "only the convolutional workloads and their profile (-steps=false -epoch=false -sens=false -profile=false -conv)")
	flagBefore     = flag.Bool("before", true, "also measure, in the same rounds, the MLP step as formulated before 2026-11-27 (one gated graph, GoMLX's own product gradient, the optimizer update in the graph)")
	flagMemory     = flag.Bool("memory", true, "measure the peak resident memory of a process training each of a few binary workloads, binnet's and PyTorch's")
	flagMemoryOnly = flag.Bool("memory-only", false, "only the peak-memory workloads (-steps=false -epoch=false -sens=false -profile=false -conv=false -memory)")
	flagMerge      = flag.Bool("merge", true, "keep the parts of the existing -json report this run does not measure (the MLP part, or the convolutional part) and render them too")
)

//go:embed analysis.md
var analysis string

// Workload is one training-step measurement.
type Workload struct {
	Name   string // binnet name, e.g. mlp-784-784
	Hidden []int
	Binary bool
	Batch  int
}

// ID names the workload in the report and the JSON: model, float or binary,
// and batch.
func (w Workload) ID() string {
	k := "float"
	if w.Binary {
		k = "binary"
	}
	return fmt.Sprintf("%s %s b%d", w.Name, k, w.Batch)
}

func (w Workload) network() models.MLP { return models.MLP{Inputs: 784, Hidden: w.Hidden, Classes: 10} }

// peerModel is the --model argument of mlp_mnist.py (hidden sizes).
func (w Workload) peerModel() string {
	return fmt.Sprintf("%d-%d", w.Hidden[0], w.Hidden[1])
}

// Params is the number of dense weights (biases and batch norm excluded).
func denseParams(hidden []int) int {
	n, prev := 0, 784
	for _, h := range append(append([]int{}, hidden...), 10) {
		n += prev * h
		prev = h
	}
	return n
}

// StepResult holds the rounds of one step workload.
type StepResult struct {
	Workload
	Params  int                      `json:"dense_params"`
	Binnet  []float64                `json:"binnet_examples_per_s"`
	Before  []float64                `json:"binnet_before_examples_per_s,omitempty"` // the earlier formulation (see beforeStepper)
	Peer    map[int][]float64        `json:"pytorch_examples_per_s"`                 // by thread count
	PeerEnv map[string]any           `json:"pytorch_env,omitempty"`
	Compile float64                  `json:"binnet_first_step_s"`
	Threads int                      `json:"binnet_threads,omitempty"` // binnet's GOMAXPROCS while stepping (training.PickStepThreads); 0: not recorded
	PeerRaw map[int][]map[string]any `json:"-"`
}

// EpochResult is the end-to-end epoch of one model.
type EpochResult struct {
	Model           string    `json:"model"`
	Steps           int       `json:"steps"`
	Batch           int       `json:"batch"`
	LoadSeconds     float64   `json:"load_seconds"`    // IDX read + normalization, once per process
	RunSeconds      []float64 `json:"run_seconds"`     // training.Run wall time (1 epoch, validation, no test)
	EpochSeconds    []float64 `json:"epoch_seconds"`   // the epoch record: training loop + validation
	ValSeconds      []float64 `json:"val_seconds"`     // Engine.Evaluate on the 5,000 validation images
	CompileSeconds  []float64 `json:"compile_seconds"` // first step minus a steady step
	StepsOnly       []float64 `json:"steps_only_seconds"`
	PeerEpoch       []float64 `json:"pytorch_epoch_train_seconds"` // train_epoch() of mlp_mnist.py
	PeerEpochVal    []float64 `json:"pytorch_epoch_seconds"`       // train + validation
	PeerThreads     int       `json:"pytorch_threads"`
	PeerExamples    int       `json:"pytorch_train_examples"` // mlp_mnist.py always trains on the first 55,000
	PeerStepsOnlyEx float64   `json:"pytorch_steps_only_examples_per_s"`
	Threads         int       `json:"binnet_threads,omitempty"` // binnet's GOMAXPROCS during its part (training.PickStepThreads); 0: not recorded
}

// SensResult is the sensitivity pre-training of mlp-784-784.
type SensResult struct {
	Model          string    `json:"model"`
	EpochsPerLayer int       `json:"epochs_per_layer"`
	TrainExamples  int       `json:"train_examples"`
	Binnet         []float64 `json:"binnet_seconds"` // sum over layers of epoch seconds (train + validation)
	BinnetWall     []float64 `json:"binnet_wall_seconds"`
	Peer           []float64 `json:"pytorch_seconds"` // same, from mlp_mnist.py histories
	PeerWall       []float64 `json:"pytorch_wall_seconds"`
	PeerThreads    int       `json:"pytorch_threads"`
}

// Sgemm is the measured matmul peak.
type Sgemm struct {
	N      int             `json:"n"`
	GFlops map[int]float64 `json:"gflops_by_threads"`
	// GFlopsCPU is per CPU-second of the process (all its threads): with
	// other processes on the CPUs, closer to what the kernels can do.
	GFlopsCPU map[int]float64 `json:"gflops_per_cpu_s_by_threads,omitempty"`
	Core      string          `json:"openblas_core"`
	Numpy     string          `json:"numpy"`
}

// Report is everything measured.
type Report struct {
	Started, Finished time.Time
	Env               map[string]string
	EnvOrder          []string
	Sgemm             Sgemm
	Steps             []*StepResult
	Epochs            []*EpochResult
	Sens              *SensResult
	Profile           string
	ProfileCmd        string
	Command           string
	Threads           []int
	MinSeconds        float64
	// Warmup is the number of untimed binnet steps before each step
	// measurement, as many as the peer's (0 in reports from before they
	// were added).
	Warmup int `json:",omitempty"`
	// Conv is the convolutional part, possibly from another run (-merge).
	Conv *ConvReport `json:",omitempty"`
	// Memory is the peak-memory part, possibly from another run (-merge).
	Memory *MemoryReport `json:",omitempty"`
}

// hasMLP reports whether the report holds any of the MLP sections.
func (r *Report) hasMLP() bool {
	return len(r.Steps) > 0 || len(r.Epochs) > 0 || r.Sens != nil || r.Profile != ""
}

// ConvReport is the convolutional part of a run, with its own environment
// and sgemm peak so that it can be merged with an MLP part measured by
// another run.
type ConvReport struct {
	Started, Finished time.Time
	Command           string
	Env               map[string]string
	EnvOrder          []string
	Sgemm             Sgemm
	Threads           []int
	MinSeconds        float64
	Rounds            int
	Warmup            int `json:",omitempty"` // as Report.Warmup
	Steps             []*ConvResult
	Profile           string
	ProfileCmd        string
}

func main() {
	flag.Parse()
	if *flagConvOnly {
		*flagSteps, *flagEpoch, *flagSens, *flagProfile, *flagConv, *flagMemory = false, false, false, false, true, false
	}
	if *flagMemoryOnly {
		*flagSteps, *flagEpoch, *flagSens, *flagProfile, *flagConv, *flagMemory = false, false, false, false, false, true
	}
	if *flagQuick {
		*flagRounds, *flagEpochRnds, *flagMinSec = 1, 1, 0.3
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchsuite:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run() error {
	if _, err := os.Stat("bench/pytorch/mlp_mnist.py"); err != nil {
		return errors.New("run me from the repository root (bench/pytorch/mlp_mnist.py not found)")
	}
	if *flagRender != "" {
		js, err := os.ReadFile(*flagRender)
		if err != nil {
			return err
		}
		var rep Report
		if err := json.Unmarshal(js, &rep); err != nil {
			return fmt.Errorf("%s: %w", *flagRender, err)
		}
		if *flagOut == "" {
			fmt.Println(markdown(&rep))
			return nil
		}
		return os.WriteFile(*flagOut, []byte(markdown(&rep)), 0o644)
	}
	threads, err := parseInts(*flagThreads)
	if err != nil {
		return err
	}
	dataDir := *flagDataDir
	if dataDir == "" {
		for _, d := range []string{"../shared/datasets/mnist", "/work/shared/datasets/mnist"} {
			if _, err := os.Stat(d); err == nil {
				dataDir = d
				break
			}
		}
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	b, err := backend.Shared()
	if err != nil {
		return err
	}
	rep := &Report{Started: time.Now(), Threads: threads, MinSeconds: *flagMinSec, Warmup: mlpPeerWarmup, Command: "go run ./bench/cmd/benchsuite " + quoteArgs(os.Args[1:])}
	rep.Env, rep.EnvOrder = environment(b)
	convModels := strings.Split(*flagConvModels, ",")
	if *flagConv {
		// Fail early, before anything is measured.
		if _, err := os.Stat("bench/pytorch/cnn_bench.py"); err != nil {
			return errors.New("-conv: bench/pytorch/cnn_bench.py not found")
		}
		for _, m := range convModels {
			if _, err := models.Lookup(strings.TrimSpace(m)); err != nil {
				return err
			}
		}
	}

	logf("sgemm peak")
	rep.Sgemm, err = measureSgemm(threads)
	if err != nil {
		return fmt.Errorf("sgemm: %w", err)
	}
	logf("sgemm: %v GFLOP/s (%s)", rep.Sgemm.GFlops, rep.Sgemm.Core)

	if *flagSteps {
		if rep.Steps, err = measureEach(workloads(), func(w Workload) (*StepResult, error) { return stepWorkload(b, w, threads) }); err != nil {
			return err
		}
	}
	if *flagConv {
		cr := &ConvReport{Started: time.Now(), Command: rep.Command, Sgemm: rep.Sgemm, Threads: threads,
			MinSeconds: *flagMinSec, Rounds: *flagRounds, Warmup: convPeerWarmup}
		cr.Env, cr.EnvOrder = environment(b)
		if cr.Steps, err = measureEach(convWorkloads(convModels), func(w ConvWorkload) (*ConvResult, error) { return convWorkload(b, w, threads) }); err != nil {
			return err
		}
		if *flagConvProf {
			logf("CPU profile of BenchmarkTrainStepConv/vgg5")
			cr.Profile, cr.ProfileCmd, err = profile("TrainStepConv/vgg5", "5x", true)
			if err != nil {
				logf("profile failed: %v", err)
				cr.Profile = "profile failed: " + err.Error()
			}
		}
		cr.Finished = time.Now()
		cr.Env["load average at the end"] = loadavg()
		cr.EnvOrder = append(cr.EnvOrder, "load average at the end")
		if len(cr.Steps) > 0 || cr.Profile != "" { // else -only matched none: nothing measured
			rep.Conv = cr
		}
	}
	if *flagMemory {
		mr, err := measureMemory(*flagRounds)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		mr.Command = rep.Command
		if len(mr.Results) > 0 { // else -only matched none
			rep.Memory = mr
		}
	}
	if *flagEpoch || *flagSens {
		data, load, err := loadMNIST(dataDir)
		if err != nil {
			return err
		}
		if *flagEpoch {
			for _, name := range strings.Split(*flagEpochModel, ",") {
				r, err := epochWorkload(b, name, data, load, dataDir, bestThreads(rep, name, 100, threads))
				if err != nil {
					return fmt.Errorf("epoch %s: %w", name, err)
				}
				rep.Epochs = append(rep.Epochs, r)
			}
		}
		if *flagSens {
			rep.Sens, err = sensWorkload(b, data, dataDir, bestThreads(rep, "mlp-784-784", 100, threads))
			if err != nil {
				return fmt.Errorf("sensitivity: %w", err)
			}
		}
	}
	if *flagProfile {
		logf("CPU profile of BenchmarkTrainStepMLP784/binary/stage")
		rep.Profile, rep.ProfileCmd, err = profile("TrainStepMLP784/binary/stage$", "4s", false)
		if err != nil {
			logf("profile failed: %v", err)
			rep.Profile = "profile failed: " + err.Error()
		}
	}
	rep.Finished = time.Now()
	rep.Env["load average at the end"] = loadavg()
	rep.EnvOrder = append(rep.EnvOrder, "load average at the end")
	if *flagMerge && *flagJSON != "" {
		if err := mergeEarlier(rep, *flagJSON); err != nil {
			logf("not merged with %s: %v", *flagJSON, err)
		}
	}

	md := markdown(rep)
	fmt.Println(md)
	if *flagOut != "" {
		if err := os.WriteFile(*flagOut, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s", *flagOut)
	}
	if *flagJSON != "" {
		os.MkdirAll(filepath.Dir(*flagJSON), 0o755)
		js, _ := json.MarshalIndent(rep, "", " ")
		if err := os.WriteFile(*flagJSON, js, 0o644); err != nil {
			return err
		}
		logf("wrote %s", *flagJSON)
	}
	return nil
}

// mergeEarlier fills the parts of rep this run did not measure from the
// report in path: the whole MLP part (with its environment, sgemm peak and
// command) when this run measured none of it, the convolutional part when
// this run measured none of it.
func mergeEarlier(rep *Report, path string) error {
	js, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var old Report
	if err := json.Unmarshal(js, &old); err != nil {
		return err
	}
	if !rep.hasMLP() && old.hasMLP() {
		conv, mem := rep.Conv, rep.Memory
		*rep = old
		rep.Conv, rep.Memory = conv, mem
		logf("kept the MLP part of %s (measured %s by %q)", path, old.Started.UTC().Format("2006-01-02 15:04 UTC"), old.Command)
	}
	if rep.Conv == nil && old.Conv != nil {
		rep.Conv = old.Conv
		logf("kept the convolutional part of %s (measured %s by %q)", path, old.Conv.Started.UTC().Format("2006-01-02 15:04 UTC"), old.Conv.Command)
	}
	if rep.Memory == nil && old.Memory != nil {
		rep.Memory = old.Memory
		logf("kept the peak-memory part of %s (measured %s by %q)", path, old.Memory.Started.UTC().Format("2006-01-02 15:04 UTC"), old.Memory.Command)
	}
	return nil
}

// quoteArgs joins command-line arguments, quoting those a shell would split.
func quoteArgs(args []string) string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$*?|&;<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("bad thread list %q", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func workloads() []Workload {
	var ws []Workload
	for _, m := range []struct {
		name   string
		hidden []int
	}{{"mlp-300-100", []int{300, 100}}, {"mlp-784-784", []int{784, 784}}, {"mlp-784-1024-1024-10", []int{1024, 1024}}} {
		for _, batch := range []int{100, 1000} {
			for _, bin := range []bool{true, false} {
				ws = append(ws, Workload{Name: m.name, Hidden: m.hidden, Binary: bin, Batch: batch})
			}
		}
	}
	return ws
}

// ---------------------------------------------------------------------------
// Environment

func environment(b compute.Backend) (map[string]string, []string) {
	env := map[string]string{}
	var order []string
	set := func(k, v string) { env[k] = v; order = append(order, k) }
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	set("date", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	set("CPU", cpu)
	set("logical CPUs", fmt.Sprint(runtime.NumCPU()))
	if out, err := exec.Command("sh", "-c", "grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\\n' ' '").Output(); err == nil {
		set("vector ISA", strings.TrimSpace(string(out)))
	}
	set("binnet threads (GOMAXPROCS)", fmt.Sprintf("%d; for a step under %d M multiply-accumulates, one or %d, whichever training.PickStepThreads times faster, as the table rows say", runtime.GOMAXPROCS(0), backend.SmallStepMACs/1_000_000, runtime.GOMAXPROCS(0)))
	set("binnet backend", b.Name()+" ("+backend.EnvVar+"="+os.Getenv(backend.EnvVar)+", opened as "+backend.Configuration()+")")
	set("Go", runtime.Version())
	exp := os.Getenv("GOEXPERIMENT")
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				exp = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/gomlx/gomlx" || d.Path == "github.com/gomlx/compute" {
				set(d.Path, d.Version)
			}
		}
	}
	set("GOEXPERIMENT", exp)
	set("load average at the start", loadavg())
	if out, err := exec.Command("pgrep", "-f", "binnet-exp").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		set("other load", "binnet-exp processes were running: "+strings.Join(strings.Fields(string(out)), ", "))
	}
	return env, order
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---------------------------------------------------------------------------
// Peer and sgemm (Python subprocesses)

func peerEnv(extra ...string) []string {
	env := os.Environ()
	if *flagCoreType != "" {
		env = append(env, "OPENBLAS_CORETYPE="+*flagCoreType)
	}
	return append(env, extra...)
}

// lastJSON runs a command and decodes the last JSON line of its stdout.
func lastJSON(cmd *exec.Cmd) (map[string]any, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		return nil, fmt.Errorf("%s: no JSON line in its output: %w", strings.Join(cmd.Args, " "), err)
	}
	return m, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

const sgemmPy = `
import ctypes, json, os, sys, time
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
a @ b
best = best_cpu = 0.0
for _ in range(5):
    t, c = time.perf_counter(), time.process_time(); a @ b
    dt, dc = time.perf_counter() - t, time.process_time() - c
    best = max(best, 2 * n**3 / dt)
    if dc > 0:
        best_cpu = max(best_cpu, 2 * n**3 / dc)
core = None
for name in ("libblas.so.3", "libopenblas.so.0"):
    try:
        lib = ctypes.CDLL(name); lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode(); break
    except (OSError, AttributeError):
        pass
print(json.dumps({"gflops": best / 1e9, "gflops_per_cpu_s": best_cpu / 1e9, "core": core, "numpy": np.__version__}))
`

func measureSgemm(threads []int) (Sgemm, error) {
	s := Sgemm{N: 4096, GFlops: map[int]float64{}, GFlopsCPU: map[int]float64{}}
	if *flagQuick {
		s.N = 2048
	}
	for _, t := range threads {
		cmd := exec.Command(*flagPython, "-c", sgemmPy, fmt.Sprint(s.N))
		cmd.Env = peerEnv(fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", t), fmt.Sprintf("OMP_NUM_THREADS=%d", t))
		m, err := lastJSON(cmd)
		if err != nil {
			return s, err
		}
		s.GFlops[t] = m["gflops"].(float64)
		s.GFlopsCPU[t], _ = m["gflops_per_cpu_s"].(float64)
		if c, ok := m["core"].(string); ok {
			s.Core = c
		}
		s.Numpy, _ = m["numpy"].(string)
	}
	return s, nil
}

// Peak returns the best sgemm GFLOP/s measured and the thread count that
// reached it.
func (s Sgemm) Peak() (float64, int) {
	best, bt := 0.0, 0
	for t, g := range s.GFlops {
		if g > best {
			best, bt = g, t
		}
	}
	return best, bt
}

// mlpPeerWarmup is the number of untimed steps before each MLP step
// measurement, the peer's (mlp_mnist.py --warmup) and binnet's alike.
const mlpPeerWarmup = 5

func peerBench(w Workload, threads int, minSec float64) (map[string]any, error) {
	args := []string{"--bench", "--model", w.peerModel(), "--batch", fmt.Sprint(w.Batch),
		"--threads", fmt.Sprint(threads), "--steps", "10", "--warmup", fmt.Sprint(mlpPeerWarmup), "--min-seconds", fmt.Sprint(minSec)}
	if w.Binary {
		args = append(args, "--binary")
	}
	return lastJSON(execPeer(args...))
}

func execPeer(args ...string) *exec.Cmd {
	return execPython(append([]string{"bench/pytorch/mlp_mnist.py"}, args...)...)
}

// execPython runs -python with the peer's environment.
func execPython(args ...string) *exec.Cmd {
	cmd := exec.Command(*flagPython, args...)
	cmd.Env = peerEnv()
	return cmd
}

// ---------------------------------------------------------------------------
// Step workloads

type stepper struct {
	e       *training.Engine
	xs      [][]float32
	ys      [][]int32
	shape   []int
	modes   []binnet.Mode
	next    int
	compil  float64
	threads int // GOMAXPROCS while measuring; 0: the process's
}

func newStepper(b compute.Backend, net models.MLP, batch int, binary bool, xs [][]float32, ys [][]int32) (*stepper, error) {
	return newNetStepper(b, net, training.Optimizer{Name: "adam", LearningRate: 0.1}, batch, binary, xs, ys, 3)
}

// newNetStepper builds an engine for net, makes 8 random batches unless xs is
// given, compiles the training graph with a first step and runs warm more.
func newNetStepper(b compute.Backend, net models.Network, opt training.Optimizer, batch int, binary bool, xs [][]float32, ys [][]int32, warm int) (*stepper, error) {
	return newNetStepperWith(b, net, opt, batch, binary, xs, ys, warm, func(*training.Engine) {})
}

// newNetStepperWith is newNetStepper with an engine that configure sets up
// before the first step (training.Engine.Gated, InGraphUpdate).
func newNetStepperWith(b compute.Backend, net models.Network, opt training.Optimizer, batch int, binary bool, xs [][]float32, ys [][]int32, warm int, configure func(*training.Engine)) (*stepper, error) {
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	e, err := training.NewEngine(b, store, net, nil, opt)
	if err != nil {
		return nil, err
	}
	configure(e)
	mode := binnet.Float
	if binary {
		mode = binnet.Binary
	}
	modes := make([]binnet.Mode, net.NumBinarizable())
	for i := range modes {
		modes[i] = mode
	}
	shape := net.InputShape()
	if xs == nil {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 8 {
			x, y := training.RandomBatch(net, batch, rng)
			xs, ys = append(xs, x), append(ys, y)
		}
	}
	s := &stepper{e: e, xs: xs, ys: ys, shape: shape, modes: modes}
	t0 := time.Now()
	if err := s.step(); err != nil { // compiles the graph
		return nil, err
	}
	s.compil = time.Since(t0).Seconds()
	for range warm {
		if err := s.step(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *stepper) step() error {
	i := s.next % len(s.xs)
	s.next++
	return s.e.TrainStep(s.xs[i], s.ys[i], s.shape, s.modes, 0.1)
}

// measure runs mlpPeerWarmup untimed steps, then steps for at least minSec
// seconds (and 5 steps); examples/s.
func (s *stepper) measure(batch int, minSec float64) (float64, error) {
	ex, _, _, err := s.measureCPU(batch, minSec, 5, mlpPeerWarmup)
	return ex, err
}

// measureCPU collects the garbage, runs warmup untimed steps (as many as
// the peer runs in its fresh process before its window: the collection
// empties the backend's buffer pools, and memory the Go runtime returned to
// the system while the peer ran is faulted in again by the first steps),
// then steps for at least minSec seconds and minSteps steps, and returns
// examples per second of wall time and per CPU-second of this process
// (user + system, all threads, the garbage collector included), and the
// system (kernel: page faults, madvise) share of that CPU time.
func (s *stepper) measureCPU(batch int, minSec float64, minSteps, warmup int) (ex, exCPU, sysShare float64, err error) {
	if s.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(s.threads))
	}
	runtime.GC()
	for range warmup {
		if err := s.step(); err != nil {
			return 0, 0, 0, err
		}
	}
	n := 0
	u0, s0 := cpuSeconds()
	t0 := time.Now()
	for {
		if err := s.step(); err != nil {
			return 0, 0, 0, err
		}
		n++
		if el := time.Since(t0).Seconds(); n >= minSteps && el >= minSec {
			u1, s1 := cpuSeconds()
			cpu := (u1 - u0) + (s1 - s0)
			return float64(n*batch) / el, float64(n*batch) / cpu, (s1 - s0) / cpu, nil
		}
	}
}

// cpuSeconds is the user and system CPU time of this process so far.
func cpuSeconds() (user, sys float64) {
	u, s, ok := cputime.Process()
	if !ok {
		return math.NaN(), math.NaN()
	}
	return u.Seconds(), s.Seconds()
}

// stepThreads is the thread count "binnet train" picks for a training step
// of net at batch (training.PickStepThreads: for a small step, one thread
// or every core, whichever it measures faster).
func stepThreads(net models.Network, batch int) (int, error) {
	c, err := training.PickStepThreads(net, batch)
	if err != nil {
		return 0, err
	}
	if len(c.Timed) > 0 {
		logf("threads for %s at batch %d: %s; using %d", net.Name(), batch, c, c.Threads)
	}
	return c.Threads, nil
}

// backendFor returns the backend to run binnet on threads threads (while
// measuring, the caller sets GOMAXPROCS to threads): b itself for the
// process's thread count, else a Go backend of its own opened with that
// many threads (so with as many graph executors, as "binnet train" opens
// it after picking them), and the function that closes it.
func backendFor(b compute.Backend, threads int) (compute.Backend, func(), error) {
	if threads == runtime.GOMAXPROCS(0) {
		return b, func() {}, nil
	}
	prev := runtime.GOMAXPROCS(threads)
	own, err := backend.NewGo()
	runtime.GOMAXPROCS(prev)
	if err != nil {
		return nil, nil, err
	}
	return own, own.Finalize, nil
}

// measureEach measures the workloads whose ID contains -only (all without
// it) in order; the first error stops it, named by its workload.
func measureEach[W interface{ ID() string }, R any](ws []W, measure func(W) (R, error)) ([]R, error) {
	var rs []R
	for _, w := range ws {
		if *flagOnly != "" && !strings.Contains(w.ID(), *flagOnly) {
			continue
		}
		r, err := measure(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.ID(), err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func stepWorkload(b compute.Backend, w Workload, threads []int) (*StepResult, error) {
	r := &StepResult{Workload: w, Params: denseParams(w.Hidden), Peer: map[int][]float64{}}
	// binnet steps on the threads its command line picks for this step.
	var err error
	if r.Threads, err = stepThreads(w.network(), w.Batch); err != nil {
		return nil, err
	}
	sb, done, err := backendFor(b, r.Threads)
	if err != nil {
		return nil, err
	}
	defer done()
	s, err := newStepper(sb, w.network(), w.Batch, w.Binary, nil, nil)
	if err != nil {
		return nil, err
	}
	s.threads = r.Threads
	r.Compile = s.compil
	var before *stepper
	if *flagBefore {
		if before, err = beforeStepper(b, w); err != nil {
			return nil, err
		}
	}
	for round := 0; round < *flagRounds; round++ {
		ex, err := s.measure(w.Batch, *flagMinSec)
		if err != nil {
			return nil, err
		}
		r.Binnet = append(r.Binnet, ex)
		line := fmt.Sprintf("%s round %d: binnet %.0f", w.ID(), round+1, ex)
		if before != nil {
			exB, err := before.measure(w.Batch, *flagMinSec)
			if err != nil {
				return nil, err
			}
			r.Before = append(r.Before, exB)
			line += fmt.Sprintf(", binnet before %.0f", exB)
		}
		for _, t := range threads {
			m, err := peerBench(w, t, *flagMinSec)
			if err != nil {
				return nil, err
			}
			v := m["examples_per_s"].(float64)
			r.Peer[t] = append(r.Peer[t], v)
			r.PeerEnv = m
			line += fmt.Sprintf(", pytorch %dt %.0f", t, v)
		}
		logf("%s", line)
	}
	s.e = nil
	if before != nil {
		before.e = nil
	}
	runtime.GC()
	return r, nil
}

// beforeStepper is binnet's training step as formulated until 2026-11-27:
// one graph for every stage with the layer modes as a run-time input
// (training.Engine.Gated: every weight through the quantizer and a select,
// held optimizer updates), the optimizer update in the graph
// (training.Engine.InGraphUpdate) and GoMLX's own gradient of the dense products
// (BINNET_DENSE=native while the graph compiles: transposes of the weights'
// gradient, the straight-through estimator as graph ops). It is measured in
// the same rounds as the current step, to show what the formulation changes
// moved.
func beforeStepper(b compute.Backend, w Workload) (*stepper, error) {
	old, had := os.LookupEnv("BINNET_DENSE")
	os.Setenv("BINNET_DENSE", "native")
	defer func() {
		if had {
			os.Setenv("BINNET_DENSE", old)
		} else {
			os.Unsetenv("BINNET_DENSE")
		}
	}()
	before := func(e *training.Engine) { e.Gated, e.InGraphUpdate = true, true }
	return newNetStepperWith(b, w.network(), training.Optimizer{Name: "adam", LearningRate: 0.1}, w.Batch, w.Binary, nil, nil, 3, before)
}

// hasBefore reports whether any step result measured the earlier formulation.
func hasBefore(steps []*StepResult) bool {
	for _, r := range steps {
		if len(r.Before) > 0 {
			return true
		}
	}
	return false
}

// bestPeer returns the thread count with the best median and its rounds.
func (r *StepResult) bestPeer() (int, []float64) {
	bt, best := 0, -1.0
	var keys []int
	for t := range r.Peer {
		keys = append(keys, t)
	}
	sort.Ints(keys)
	for _, t := range keys {
		if m := median(r.Peer[t]); m > best {
			bt, best = t, m
		}
	}
	return bt, r.Peer[bt]
}

func bestThreads(rep *Report, model string, batch int, threads []int) int {
	for _, r := range rep.Steps {
		if r.Name == model && r.Batch == batch && r.Binary {
			t, _ := r.bestPeer()
			return t
		}
	}
	return threads[0]
}

// ---------------------------------------------------------------------------
// End-to-end epoch and sensitivity on the real MNIST

func loadMNIST(dir string) (training.Data, float64, error) {
	t0 := time.Now()
	train, test, err := datasets.Load("mnist", dir)
	if err != nil {
		return training.Data{}, 0, err
	}
	tr, val, err := train.HoldOutLast(5000)
	if err != nil {
		return training.Data{}, 0, err
	}
	if *flagQuick {
		tr = tr.Slice(0, 5000)
	}
	var d training.Data
	for _, p := range []struct {
		dst *training.Source
		s   *datasets.Set
	}{{&d.Train, tr}, {&d.Val, val}, {&d.Test, test}} {
		ex, err := training.FromSet(p.s, datasets.MNISTMean, datasets.MNISTStd, 784)
		if err != nil {
			return d, 0, err
		}
		*p.dst = ex
	}
	return d, time.Since(t0).Seconds(), nil
}

func preset(name string) (models.MLP, error) {
	p, err := models.Lookup(name)
	if err != nil {
		return models.MLP{}, err
	}
	return p.Network.(models.MLP), nil
}

func epochWorkload(b compute.Backend, name string, data training.Data, load float64, dataDir string, peerThreads int) (*EpochResult, error) {
	net, err := preset(name)
	if err != nil {
		return nil, err
	}
	const batch = 100
	steps := data.Train.Len() / batch
	r := &EpochResult{Model: name, Steps: steps, Batch: batch, LoadSeconds: load, PeerThreads: peerThreads, PeerExamples: 55000}
	// binnet's part runs on the threads "binnet train" picks.
	if r.Threads, err = stepThreads(net, batch); err != nil {
		return nil, err
	}
	b, done, err := backendFor(b, r.Threads)
	if err != nil {
		return nil, err
	}
	defer done()
	withThreads := func(f func() error) error {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(r.Threads))
		return f()
	}
	sched, err := schedule.New(schedule.Config{NumLayers: 3, Kind: schedule.KindBinary, TotalEpochs: 1})
	if err != nil {
		return nil, err
	}
	// Real batches for the steps-only measurement: every batch of a shuffle,
	// as many distinct batches as the epoch reads (a few batches reused would
	// stay in the CPU caches, which the epoch's batches do not).
	rng := rand.New(rand.NewPCG(3, 4))
	perm := rng.Perm(data.Train.Len())
	train := data.Train.(*training.Examples)
	var xs [][]float32
	var ys [][]int32
	for bi := 0; bi < steps; bi++ {
		x := make([]float32, 0, batch*784)
		y := make([]int32, 0, batch)
		for _, i := range perm[bi*batch : (bi+1)*batch] {
			x = append(x, train.X[i*784:(i+1)*784]...)
			y = append(y, int32(train.Y[i]))
		}
		xs, ys = append(xs, x), append(ys, y)
	}
	modes := []binnet.Mode{binnet.Binary, binnet.Binary, binnet.Binary}
	// One unmeasured epoch first: the process's first training.Run of a
	// network is slower (fresh memory for every buffer), which would
	// otherwise count as data-loading overhead in the first round.
	base := training.Config{Model: name, Dataset: "mnist", Network: net, Schedule: sched, Order: "binary",
		Optimizer: training.Optimizer{Name: "adam", LearningRate: 0.1}, BatchSize: batch, Seed: 99, Backend: b, SkipTest: true}
	if err := withThreads(func() error { _, err := training.Run(context.Background(), base, data); return err }); err != nil {
		return nil, err
	}
	for round := 0; round < *flagEpochRnds; round++ {
		var epochSec, stepsOnly float64
		err := withThreads(func() error {
			// A: training.Run, one all-binary epoch with validation (no test).
			cfg := base
			cfg.Seed, cfg.OnEpoch = int64(round+1), func(rec training.EpochRecord) { epochSec = rec.Seconds }
			runtime.GC()
			t0 := time.Now()
			if _, err := training.Run(context.Background(), cfg, data); err != nil {
				return err
			}
			r.RunSeconds = append(r.RunSeconds, time.Since(t0).Seconds())
			r.EpochSeconds = append(r.EpochSeconds, epochSec)

			// The same number of bare steps (and the validation pass alone) on a fresh engine.
			s, err := newStepper(b, net, batch, true, xs, ys)
			if err != nil {
				return err
			}
			runtime.GC()
			t0 = time.Now()
			for range steps {
				if err := s.step(); err != nil {
					return err
				}
			}
			stepsOnly = time.Since(t0).Seconds()
			r.StepsOnly = append(r.StepsOnly, stepsOnly)
			t0 = time.Now()
			if _, _, err := s.e.Evaluate(data.Val, modes, 1000); err != nil { // compiles
				return err
			}
			firstVal := time.Since(t0).Seconds()
			t0 = time.Now()
			if _, _, err := s.e.Evaluate(data.Val, modes, 1000); err != nil {
				return err
			}
			val := time.Since(t0).Seconds()
			r.ValSeconds = append(r.ValSeconds, val)
			// Compilation of both graphs: first call minus a warm one.
			r.CompileSeconds = append(r.CompileSeconds, math.Max(0, s.compil-stepsOnly/float64(steps))+math.Max(0, firstVal-val))
			return nil
		})
		if err != nil {
			return nil, err
		}

		// B: PyTorch's own epoch (train_epoch: batch gathering, loss.item()).
		tmp, err := os.CreateTemp("", "benchsuite-*.json")
		if err != nil {
			return nil, err
		}
		tmp.Close()
		cmd := execPeer("--model", strings.TrimPrefix(name, "mlp-"), "--order", "binary", "--epochs", "1", "--batch", fmt.Sprint(batch),
			"--threads", fmt.Sprint(peerThreads), "--seed", fmt.Sprint(round+1), "--data-dir", dataDir, "--out", tmp.Name())
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v: %w\n%s", cmd.Args, err, tail(string(out)))
		}
		h, err := peerHistory(tmp.Name())
		os.Remove(tmp.Name())
		if err != nil {
			return nil, err
		}
		r.PeerEpoch = append(r.PeerEpoch, h[0]["train_seconds"].(float64))
		r.PeerEpochVal = append(r.PeerEpochVal, h[0]["seconds"].(float64))
		logf("epoch %s round %d: binnet Run %.1fs (epoch %.1fs, val %.2fs, steps-only %.1fs), pytorch train %.1fs",
			name, round+1, r.RunSeconds[round], epochSec, r.ValSeconds[round], stepsOnly, r.PeerEpoch[round])
	}
	return r, nil
}

func peerHistory(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res struct {
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	if len(res.History) == 0 {
		return nil, errors.New(path + ": no history")
	}
	return res.History, nil
}

func sensWorkload(b compute.Backend, data training.Data, dataDir string, peerThreads int) (*SensResult, error) {
	const name = "mlp-784-784"
	net, err := preset(name)
	if err != nil {
		return nil, err
	}
	r := &SensResult{Model: name, EpochsPerLayer: 1, TrainExamples: data.Train.Len(), PeerThreads: peerThreads}
	for round := 0; round < *flagSensRounds; round++ {
		dir, err := os.MkdirTemp("", "benchsuite-sens-")
		if err != nil {
			return nil, err
		}
		var sum float64
		cfg := sensitivity.Config{Base: training.Config{Model: name, Dataset: "mnist", Network: net,
			Optimizer: training.Optimizer{Name: "adam", LearningRate: 0.1}, BatchSize: 100, Seed: 1, Backend: b},
			Epochs: 1, OutDir: dir, OnLayer: func(l sensitivity.LayerResult, _ bool) { sum += l.Seconds }}
		runtime.GC()
		t0 := time.Now()
		_, err = sensitivity.Run(context.Background(), cfg, data)
		os.RemoveAll(dir)
		if err != nil {
			return nil, err
		}
		r.BinnetWall = append(r.BinnetWall, time.Since(t0).Seconds())
		r.Binnet = append(r.Binnet, sum)

		// PyTorch: layer k alone binary for one epoch = --order k,... --epochs 1 --epochs-per-layer 1.
		var psum float64
		t0 = time.Now()
		for _, order := range []string{"1,2,3", "2,1,3", "3,1,2"} {
			tmp, err := os.CreateTemp("", "benchsuite-*.json")
			if err != nil {
				return nil, err
			}
			tmp.Close()
			cmd := execPeer("--model", "784-784", "--order", order, "--epochs", "1", "--epochs-per-layer", "1",
				"--threads", fmt.Sprint(peerThreads), "--data-dir", dataDir, "--out", tmp.Name())
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%v: %w\n%s", cmd.Args, err, tail(string(out)))
			}
			h, err := peerHistory(tmp.Name())
			os.Remove(tmp.Name())
			if err != nil {
				return nil, err
			}
			psum += h[0]["seconds"].(float64)
		}
		r.PeerWall = append(r.PeerWall, time.Since(t0).Seconds())
		r.Peer = append(r.Peer, psum)
		logf("sensitivity round %d: binnet %.1fs (wall %.1fs), pytorch %.1fs (wall %.1fs)", round+1, sum, r.BinnetWall[round], psum, r.PeerWall[round])
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// Profile

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

// ---------------------------------------------------------------------------
// Statistics and report

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minmax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// ratios pairs round i of a with round i of b.
func ratios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		out = append(out, a[i]/b[i])
	}
	return out
}

func fmtSpread(v []float64, format string) string {
	if len(v) == 0 {
		return "–"
	}
	m := median(v)
	if len(v) == 1 {
		return fmt.Sprintf(format, m)
	}
	lo, hi := minmax(v)
	return fmt.Sprintf(format+" ("+format+"–"+format+")", m, lo, hi)
}

func fmtNum(x float64) string {
	if x >= 100 {
		s := fmt.Sprintf("%.0f", x)
		// thousands separators
		var out []byte
		for i, c := range []byte(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, ',')
			}
			out = append(out, c)
		}
		return string(out)
	}
	return fmt.Sprintf("%.3g", x)
}

func fmtEx(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	if len(v) == 1 {
		return fmtNum(v[0])
	}
	lo, hi := minmax(v)
	return fmt.Sprintf("%s (%s–%s)", fmtNum(median(v)), fmtNum(lo), fmtNum(hi))
}

func markdown(rep *Report) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	peak, peakT := rep.Sgemm.Peak()
	p("# Performance: binnet vs PyTorch on the CPU\n\n")
	if !rep.hasMLP() {
		// Only the convolutional part was measured.
		if rep.Conv != nil {
			p("*Generated by `%s` on %s; do not edit by hand: rerun the command.*\n\n",
				strings.TrimSpace(rep.Conv.Command), rep.Conv.Started.UTC().Format("2006-01-02 15:04 UTC"))
			convMarkdown(p, rep.Conv, "")
		}
		if rep.Memory != nil {
			memoryMarkdown(p, rep.Memory)
		}
		p("%s\n", strings.TrimSpace(analysis))
		return sb.String()
	}
	p("*Generated by `%s` on %s (%.0f min); do not edit by hand: rerun the command.*\n\n",
		strings.TrimSpace(rep.Command), rep.Started.UTC().Format("2006-01-02 15:04 UTC"), rep.Finished.Sub(rep.Started).Minutes())
	separateConv := rep.Conv != nil && !rep.Conv.Started.Equal(rep.Started) && rep.Conv.Command != rep.Command
	if separateConv {
		p("*The [convolutional section](#convolutional-networks-training-steps-exampless-higher-is-better) comes from a separate run, `%s` on %s, merged into this report (`-merge`).*\n\n",
			strings.TrimSpace(rep.Conv.Command), rep.Conv.Started.UTC().Format("2006-01-02 15:04 UTC"))
	}
	p("How it measures: every workload runs binnet (in this process, `training.Engine.TrainStep`, graph compiled\n")
	p("beforehand) and the PyTorch peer (`bench/pytorch/mlp_mnist.py --bench`, a fresh process per measurement)\n")
	if rep.Warmup > 0 {
		p("in turns, binnet then PyTorch with each thread count, for several rounds; each measurement is %d untimed\n", rep.Warmup)
		p("warm-up steps (binnet's and the peer's alike), then at least\n")
	} else {
		p("in turns, binnet then PyTorch with each thread count, for several rounds; each measurement is at least\n")
	}
	p("%.1f s of training steps (forward, backward, Adam, the same network: Dense, BatchNorm, ReLU, with\n", rep.MinSeconds)
	p("sign + identity straight-through estimator for binary layers) on random MNIST-shaped batches.\n")
	p("Figures are medians over rounds with (min–max); ratios are binnet/PyTorch per round, paired.\n")
	p("FLOPs of a step are counted as 3 × 2 × batch × dense weights (forward, two backward products);\n")
	p("%% of peak is that rate divided by the machine's sgemm peak, %.0f GFLOP/s (numpy + OpenBLAS %s, %d threads, %d×%d float32; 1 thread: %.0f GFLOP/s).\n\n",
		peak, rep.Sgemm.Core, peakT, rep.Sgemm.N, rep.Sgemm.N, rep.Sgemm.GFlops[1])

	p("## Environment\n\n| | |\n|---|---|\n")
	for _, k := range rep.EnvOrder {
		p("| %s | %s |\n", k, rep.Env[k])
	}
	if len(rep.Steps) > 0 && rep.Steps[0].PeerEnv != nil {
		e := rep.Steps[0].PeerEnv
		p("| PyTorch | %v (Python %v), OpenBLAS kernels `%v` (OPENBLAS_CORETYPE=%v), malloc tuned: %v |\n", e["torch_version"], e["python"], e["openblas_core"], e["OPENBLAS_CORETYPE"], e["malloc_tuned"])
	}
	p("| PyTorch threads | %v (torch and OpenBLAS; each measured, \"best\" is the better median per workload) |\n", rep.Threads)
	p("| sgemm | numpy %s: %s |\n\n", rep.Sgemm.Numpy, sgemmLine(rep.Sgemm))

	if len(rep.Steps) > 0 {
		p("## Training steps (examples/s, higher is better)\n\n")
		p("| workload | batch | binnet (threads) | PyTorch 1 thread | PyTorch best (threads) | binnet / PyTorch best | binnet / PyTorch 1 thread | binnet GFLOP/s (%% peak) | PyTorch best GFLOP/s (%% peak) |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Steps {
			bt, best := r.bestPeer()
			kind := "float"
			if r.Binary {
				kind = "binary"
			}
			gf := func(ex float64) float64 { return ex * 6 * float64(r.Params) / 1e9 }
			bthreads := "" // runs before 2026-11-27 11:30 UTC did not record binnet's threads (it used every core)
			if r.Threads > 0 {
				bthreads = fmt.Sprintf(" (%d)", r.Threads)
			}
			p("| %s %s | %d | %s%s | %s | %s (%d) | %s | %s | %.1f (%.1f%%) | %.1f (%.1f%%) |\n",
				kind, r.Name, r.Batch, fmtEx(r.Binnet), bthreads, fmtEx(r.Peer[1]), fmtEx(best), bt,
				fmtSpread(ratios(r.Binnet, best), "%.2f"), fmtSpread(ratios(r.Binnet, r.Peer[1]), "%.2f"),
				gf(median(r.Binnet)), 100*gf(median(r.Binnet))/peak, gf(median(best)), 100*gf(median(best))/peak)
		}
		if hasBefore(rep.Steps) {
			p("\n**What the formulation changes of 2026-11-27 moved.** *before*: binnet's step as formulated until then, measured\n")
			p("in the same rounds (one compiled graph for every stage with the layer modes as a run-time input, so every weight went\n")
			p("through the quantizer and a select and every update through a hold; GoMLX's own gradient of the dense products, whose\n")
			p("weight gradient the Go backend computes with three transposes, one of them of the whole weight matrix; the\n")
			p("straight-through estimator as graph ops, a copy and two passes over the weights; Adam as 13 single-threaded graph\n")
			p("operations, each a pass over the weights). *after* (the binnet column above): one graph per\n")
			p("binarization state, `ops.QuantizedDenseProduct` (one transpose of the layer's input, the estimator folded into the\n")
			p("product's gradient), and the fused optimizer update (the graph stops at the gradients; Adam runs on the host in one\n")
			p("pass over each weight matrix, on every core). Both compute the same numbers up to the order of additions in the weights'\n")
			p("gradient (tests: `TestStageGraphsEqualGatedGraph`, `TestQuantizedDenseProductMatchesAutodiff`; the fused update gives\n")
			p("the in-graph update's bits, `TestFusedUpdateMatchesGraph`).\n\n")
			p("| workload | batch | binnet before | binnet after | after / before | before / PyTorch best | after / PyTorch best |\n")
			p("|---|---:|---:|---:|---:|---:|---:|\n")
			for _, r := range rep.Steps {
				if len(r.Before) == 0 {
					continue
				}
				_, best := r.bestPeer()
				kind := "float"
				if r.Binary {
					kind = "binary"
				}
				p("| %s %s | %d | %s | %s | %s | %s | %s |\n", kind, r.Name, r.Batch, fmtEx(r.Before), fmtEx(r.Binnet),
					fmtSpread(ratios(r.Binnet, r.Before), "%.2f"), fmtSpread(ratios(r.Before, best), "%.2f"), fmtSpread(ratios(r.Binnet, best), "%.2f"))
			}
		}
		p("\nDense weights: mlp-300-100 %s, mlp-784-784 %s, mlp-784-1024-1024-10 %s. binnet's first step (graph compilation + one step): ",
			fmtNum(float64(denseParams([]int{300, 100}))), fmtNum(float64(denseParams([]int{784, 784}))), fmtNum(float64(denseParams([]int{1024, 1024}))))
		var cs []string
		for _, r := range rep.Steps {
			cs = append(cs, fmt.Sprintf("%.2f s", r.Compile))
		}
		p("%s (in table order).\n\n", strings.Join(cs, ", "))
	}

	if len(rep.Epochs) > 0 {
		p("## End-to-end MNIST epoch (all layers binary, batch 100)\n\n")
		p("`training.Run` for one epoch on the real MNIST (%d training images, %d validation images; no test pass),\n", rep.Epochs[0].Steps*rep.Epochs[0].Batch, 5000)
		p("against the same number of bare `TrainStep` calls on pre-built batches (as many distinct real batches as the epoch; a fresh engine, graph compiled\n")
		p("beforehand), after one unmeasured warm-up epoch. Loading the IDX files and normalizing them took %.2f s (once per process, not in the epoch).\n", rep.Epochs[0].LoadSeconds)
		p("Overhead = (epoch − validation − compilation − steps-only) / steps-only: batch gathering, the\n")
		p("progress/accumulator reads and the checkpoint-free loop of `training.Run`. PyTorch: `mlp_mnist.py --order binary --epochs 1`,\n")
		p("its `train_seconds` (index gathering of each batch and `loss.item()` included) vs its `--bench` rate.\n\n")
		p("| model | steps | binnet Run wall (s) | binnet epoch (s) | validation (s) | graph compilation, train + eval (s) | binnet steps only (s) | data/loop overhead | binnet epoch ex/s | PyTorch epoch train (s) | PyTorch epoch ex/s | binnet / PyTorch (epoch) |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Epochs {
			var over, exs, peerEx []float64
			n := float64(r.Steps * r.Batch)
			for i := range r.EpochSeconds {
				loop := r.EpochSeconds[i] - r.ValSeconds[i] - r.CompileSeconds[i]
				over = append(over, 100*(loop-r.StepsOnly[i])/r.StepsOnly[i])
				exs = append(exs, n/(r.EpochSeconds[i]-r.ValSeconds[i]))
			}
			for _, s := range r.PeerEpoch {
				peerEx = append(peerEx, float64(r.PeerExamples)/s)
			}
			model := r.Model
			if r.Threads > 0 {
				model += fmt.Sprintf(" (binnet %d thr)", r.Threads)
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s %% | %s | %s | %s (%d thr) | %s |\n", model, r.Steps,
				fmtSpread(r.RunSeconds, "%.1f"), fmtSpread(r.EpochSeconds, "%.1f"), fmtSpread(r.ValSeconds, "%.2f"),
				fmtSpread(r.CompileSeconds, "%.2f"), fmtSpread(r.StepsOnly, "%.1f"), fmtSpread(over, "%+.1f"),
				fmtEx(exs), fmtSpread(r.PeerEpoch, "%.1f"), fmtEx(peerEx), r.PeerThreads, fmtSpread(ratios(exs, peerEx), "%.2f"))
		}
		p("\nbinnet epoch ex/s counts the training part of the epoch (epoch − validation, compilation included).\n")
		for _, r := range rep.Epochs {
			for _, s := range rep.Steps {
				if s.Name == r.Model && s.Batch == 100 && s.Binary {
					var stepsEx []float64
					for _, v := range r.StepsOnly {
						stepsEx = append(stepsEx, float64(r.Steps*r.Batch)/v)
					}
					pe := s.Peer[r.PeerThreads]
					p("%s: binnet steps-only %s ex/s on real batches here vs %s on random batches in the step table; PyTorch's epoch runs at %s ex/s vs %s in its --bench (%d thr).\n",
						r.Model, fmtEx(stepsEx), fmtEx(s.Binnet), fmtEx(func() []float64 {
							var v []float64
							for _, t := range r.PeerEpoch {
								v = append(v, float64(r.PeerExamples)/t)
							}
							return v
						}()), fmtEx(pe), r.PeerThreads)
				}
			}
		}
		p("\n")
	}

	if s := rep.Sens; s != nil {
		p("## Sensitivity pre-training (%s, reduced)\n\n", s.Model)
		p("Reduced size: each of the 3 layers trained alone binary for **%d epoch** (the real pre-training uses more)\n", s.EpochsPerLayer)
		p("on the full %d training images, validation after it. binnet: `sensitivity.Run` (checkpoint and results\n", s.TrainExamples)
		p("written per layer, as the CLI does); seconds = sum of the layers' epoch times (training + validation), wall = whole call.\n")
		p("PyTorch: `mlp_mnist.py --order k,… --epochs 1 --epochs-per-layer 1` for k = 1, 2, 3 (%d thread(s)); seconds = sum of the\n", s.PeerThreads)
		p("epoch times from its histories, wall includes the three process starts and data loads.\n\n")
		p("| | binnet | PyTorch | binnet / PyTorch (speed) |\n|---|---:|---:|---:|\n")
		var sp []float64
		for i := range min(len(s.Binnet), len(s.Peer)) {
			sp = append(sp, s.Peer[i]/s.Binnet[i])
		}
		var wp []float64
		for i := range min(len(s.BinnetWall), len(s.PeerWall)) {
			wp = append(wp, s.PeerWall[i]/s.BinnetWall[i])
		}
		p("| epochs (s) | %s | %s | %s |\n", fmtSpread(s.Binnet, "%.1f"), fmtSpread(s.Peer, "%.1f"), fmtSpread(sp, "%.2f"))
		p("| wall (s) | %s | %s | %s |\n\n", fmtSpread(s.BinnetWall, "%.1f"), fmtSpread(s.PeerWall, "%.1f"), fmtSpread(wp, "%.2f"))
	}

	if rep.Profile != "" {
		p("## Where binnet's step time goes\n\n`%s`, then `go tool pprof -top` (flat and cumulative, top 25):\n\n```\n%s\n```\n\n", rep.ProfileCmd, strings.TrimSpace(rep.Profile))
	}
	if rep.Conv != nil {
		mlp := ""
		if separateConv {
			mlp = "measured " + rep.Started.UTC().Format("2006-01-02 15:04 UTC")
		}
		convMarkdown(p, rep.Conv, mlp)
	}
	if rep.Memory != nil {
		memoryMarkdown(p, rep.Memory)
	}
	p("%s\n", strings.TrimSpace(analysis))
	return sb.String()
}

func sgemmLine(s Sgemm) string {
	var keys []int
	for t := range s.GFlops {
		keys = append(keys, t)
	}
	sort.Ints(keys)
	var parts []string
	for _, t := range keys {
		parts = append(parts, fmt.Sprintf("%.0f GFLOP/s on %d thread(s)", s.GFlops[t], t))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (OpenBLAS `%s`)", s.Core)
}
