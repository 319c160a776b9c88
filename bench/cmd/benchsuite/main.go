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
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/binnet/binnet/binnet/models"
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
