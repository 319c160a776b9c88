package main

// Convolutional training-step workloads: binnet's convolutional presets
// (binnet/models) against bench/pytorch/cnn_bench.py, interleaved like the
// MLP step workloads.

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/binnet/binnet/binnet/layers"
	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
	"github.com/gomlx/compute"
)

// ConvWorkload is one convolutional training-step measurement.
type ConvWorkload struct {
	Model  string // preset name: cnn, vgg5, resnet20, ...
	Binary bool   // every conv and dense layer binary (else all float)
	Batch  int    // the preset's training batch
}

// ID is e.g. "vgg5 binary b100" (what -only matches).
func (w ConvWorkload) ID() string {
	k := "float"
	if w.Binary {
		k = "binary"
	}
	return fmt.Sprintf("%s %s b%d", w.Model, k, w.Batch)
}

// ConvLayer is one binarizable layer of a convolutional workload.
type ConvLayer struct {
	Scope  string `json:"scope"`
	Kind   string `json:"kind"`
	Kernel []int  `json:"kernel_shape"`
	MACs   int64  `json:"forward_macs_per_example"`
}

// ConvResult holds the rounds of one convolutional step workload.
type ConvResult struct {
	ConvWorkload
	Network   string             `json:"network"`
	Optimizer training.Optimizer `json:"optimizer"`
	Layers    []ConvLayer        `json:"layers"`
	MACs      int64              `json:"forward_macs_per_example"` // conv and dense layers
	Binnet    []float64          `json:"binnet_examples_per_s"`
	BinnetCPU []float64          `json:"binnet_examples_per_cpu_s"`
	BinnetSys []float64          `json:"binnet_system_cpu_share"` // kernel share of binnet's CPU time
	Peer      map[int][]float64  `json:"pytorch_examples_per_s"`  // by thread count
	PeerCPU   map[int][]float64  `json:"pytorch_examples_per_cpu_s"`
	PeerEnv   map[string]any     `json:"pytorch_env,omitempty"`
	Compile   float64            `json:"binnet_first_step_s"`
	LoadAvg   []string           `json:"load_average_per_round"`
}

// TrainFlops is the FLOPs of a training step per example: forward, the
// input gradient and the weight gradient, each 2 x the forward MACs.
func (r *ConvResult) TrainFlops() float64 { return 6 * float64(r.MACs) }

// bestPeer returns the thread count with the best median and its rounds.
func (r *ConvResult) bestPeer() (int, []float64) {
	return (&StepResult{Peer: r.Peer}).bestPeer()
}

func convWorkloads(names []string) []ConvWorkload {
	var ws []ConvWorkload
	for _, name := range names {
		name = strings.TrimSpace(name)
		p, err := models.Lookup(name)
		if err != nil {
			continue // checked in run
		}
		for _, bin := range []bool{true, false} {
			ws = append(ws, ConvWorkload{Model: name, Binary: bin, Batch: p.Hyper.BatchSize})
		}
	}
	return ws
}

// convOptimizer is the preset's optimizer (Adam for cnn and the VGGs, SGD
// with momentum and weight decay for the ResNets), as cnn_bench.py uses.
func convOptimizer(p models.Preset) training.Optimizer {
	h := p.Hyper
	return training.Optimizer{Name: h.Optimizer, LearningRate: h.LearningRate, Momentum: h.Momentum, WeightDecay: h.WeightDecay}
}

// convPeerWarmup is the number of untimed steps before each convolutional
// step measurement, the peer's (cnn_bench.py --warmup) and binnet's alike.
const convPeerWarmup = 2

func convPeerBench(w ConvWorkload, lr float64, threads int, minSec float64, convOps bool) (map[string]any, error) {
	mode := "float"
	if w.Binary {
		mode = "binary"
	}
	args := []string{"bench/pytorch/cnn_bench.py", "--json", "--model", w.Model, "--mode", mode,
		"--batch", fmt.Sprint(w.Batch), "--threads", fmt.Sprint(threads), "--lr", fmt.Sprint(lr),
		"--warmup", fmt.Sprint(convPeerWarmup), "--windows", "1", "--steps", "3", "--min-window-seconds", fmt.Sprint(minSec)}
	if !convOps {
		args = append(args, "--no-profile")
	}
	return lastJSON(execPython(args...))
}

func convWorkload(b compute.Backend, w ConvWorkload, threads []int) (*ConvResult, error) {
	p, err := models.Lookup(w.Model)
	if err != nil {
		return nil, err
	}
	opt := convOptimizer(p)
	r := &ConvResult{ConvWorkload: w, Network: p.Network.Name(), Optimizer: opt,
		Peer: map[int][]float64{}, PeerCPU: map[int][]float64{}}
	logf("%s: compiling", w.ID())
	// 3 warm-up steps: the first steps after compilation grow the heap
	// (fresh pages, faulted in) and run slower.
	s, err := newNetStepper(b, p.Network, opt, w.Batch, w.Binary, nil, nil, 3)
	if err != nil {
		return nil, err
	}
	r.Compile = s.compil
	r.Layers, r.MACs = convLayers(s.e.Layers())
	logf("%s: first step %.1f s, %.1f M forward MACs per example", w.ID(), r.Compile, float64(r.MACs)/1e6)
	for round := 0; round < *flagRounds; round++ {
		r.LoadAvg = append(r.LoadAvg, loadavg())
		ex, exCPU, sys, err := s.measureCPU(w.Batch, *flagMinSec, 3, convPeerWarmup)
		if err != nil {
			return nil, err
		}
		r.Binnet = append(r.Binnet, ex)
		r.BinnetCPU = append(r.BinnetCPU, exCPU)
		r.BinnetSys = append(r.BinnetSys, sys)
		line := fmt.Sprintf("%s round %d: binnet %.1f (%.1f per CPU-s, %.0f%% system)", w.ID(), round+1, ex, exCPU, 100*sys)
		for _, t := range threads {
			m, err := convPeerBench(w, opt.LearningRate, t, *flagMinSec, round == 0)
			if err != nil {
				return nil, err
			}
			v := m["examples_per_s"].(float64)
			r.Peer[t] = append(r.Peer[t], v)
			c, _ := m["examples_per_cpu_s"].(float64)
			r.PeerCPU[t] = append(r.PeerCPU[t], c)
			if round == 0 {
				r.PeerEnv = m
			}
			line += fmt.Sprintf(", pytorch %dt %.1f (%.1f per CPU-s)", t, v, c)
		}
		logf("%s", line)
	}
	s.e = nil
	runtime.GC()
	return r, nil
}

// convLayers lists the binarizable layers and sums their forward MACs.
func convLayers(infos []layers.Info) ([]ConvLayer, int64) {
	var out []ConvLayer
	var total int64
	for _, in := range infos {
		out = append(out, ConvLayer{Scope: in.Scope, Kind: fmt.Sprint(in.Kind), Kernel: in.KernelShape, MACs: in.MACs()})
		total += in.MACs()
	}
	return out, total
}

// ---------------------------------------------------------------------------
// Report

func convMarkdown(p func(string, ...any), c *ConvReport, mlpStarted string) {
	peak, peakT := c.Sgemm.Peak()
	p("## Convolutional networks: training steps (examples/s, higher is better)\n\n")
	p("*Measured by `%s` on %s (%.0f min)", strings.TrimSpace(c.Command), c.Started.UTC().Format("2006-01-02 15:04 UTC"), c.Finished.Sub(c.Started).Minutes())
	if mlpStarted != "" {
		p(", a separate run from the MLP sections above (%s), merged into this report", mlpStarted)
	}
	p("; load average %s at the start, %s at the end.*\n\n", c.Env["load average at the start"], c.Env["load average at the end"])
	p("binnet's convolutional presets (`binnet/models`: `cnn` conv32-conv64-maxpool-dense10 on 28×28×1, `vgg5` conv64-conv64-maxpool-FC 256-256-10\n")
	p("on 32×32×3, `resnet20` on 32×32×3) against the same networks in PyTorch (`bench/pytorch/cnn_bench.py`, a fresh process per\n")
	p("measurement, %d warm-up steps, then one window of at least 3 steps and %.1f s), interleaved as above: binnet, then PyTorch with\n", convPeerWarmup, c.MinSeconds)
	p("each thread count (%s), for %s. binnet: `training.Engine.TrainStep` in this process (graph compiled beforehand, at\n", joinInts(c.Threads), plural(c.Rounds, "round"))
	if c.Warmup > 0 {
		p("least 3 steps and %.1f s per measurement, after %d untimed warm-up steps as the peer's), convolutions by `ops.Conv2D` (im2col gather + one matrix product, or\n", c.MinSeconds, c.Warmup)
	} else {
		p("least 3 steps and %.1f s per measurement, no warm-up steps but the 3 after compilation), convolutions by `ops.Conv2D` (im2col gather + one matrix product, or\n", c.MinSeconds)
	}
	p("Winograd's F(4x4, 3x3) for the 3x3 size-keeping convolutions of 16 or more input channels; hand-written gradients) on GoMLX's pure-Go backend. PyTorch runs its convolutions through oneDNN (`conv_ops` below) and its dense\n")
	p("layers through OpenBLAS. Same batch, same optimizer and learning rate (the preset's: Adam for cnn and vgg5, SGD with momentum\n")
	p("0.9 and weight decay 1e-4 for resnet20), random inputs and labels. *binary*: every convolution and dense layer binary (sign\n")
	p("forward, identity straight-through estimator); *float*: none (the float graph of the stage, with no quantizer).\n")
	p("FLOPs of a step are 6 × the forward multiply-adds of the convolution and dense layers (forward, input gradient, weight gradient;\n")
	p("batch norm, pooling, activations and the optimizer not counted; a direct convolution's count, so that binnet's GFLOP/s are nominal\n")
	p("where Winograd multiplies a quarter as often): per example ")
	seen := map[string]bool{}
	var macs []string
	for _, r := range c.Steps {
		if !seen[r.Model] {
			seen[r.Model] = true
			macs = append(macs, fmt.Sprintf("%s %.1f M MACs (%.0f MFLOP per training example)", r.Model, float64(r.MACs)/1e6, r.TrainFlops()/1e6))
		}
	}
	p("%s. %% of peak is against this run's sgemm peak, %.0f GFLOP/s (%s; 1 thread: %.0f GFLOP/s).\n", strings.Join(macs, ", "), peak, plural(peakT, "thread"), c.Sgemm.GFlops[1])
	p("Figures are medians over rounds with (min–max); ratios are per round, paired. Per CPU-second: median examples per second of\n")
	p("CPU time of the process (all its threads; PyTorch's from `examples_per_cpu_s`), less sensitive than wall time to other\n")
	p("processes sharing the CPUs, and the paired ratio; GFLOP per CPU-second is the same FLOP count per CPU-second, against\n")
	p("the 1-thread sgemm's GFLOP per CPU-second where the run measured it.\n\n")

	// sgemm per CPU-second on 1 thread: the reference for the per-CPU-second columns.
	cpuPeak := c.Sgemm.GFlopsCPU[1]
	cpuPeakHead := ""
	if cpuPeak > 0 {
		cpuPeakHead = fmt.Sprintf(" (%% of sgemm's %.0f)", cpuPeak)
	}
	var threads []int
	threads = append(threads, c.Threads...)
	sort.Ints(threads)
	p("| workload | batch | binnet |")
	for _, t := range threads {
		p(" PyTorch %s |", plural(t, "thread"))
	}
	p(" binnet / PyTorch best | binnet GFLOP/s (%% peak) | PyTorch best GFLOP/s (%% peak) | examples per CPU-second: binnet / PyTorch 1 thread | GFLOP per CPU-second: binnet, PyTorch 1 thread%s |\n", cpuPeakHead)
	p("|---|---:|---:|%s---:|---:|---:|---:|---:|\n", strings.Repeat("---:|", len(threads)))
	for _, r := range c.Steps {
		bt, best := r.bestPeer()
		kind := "float"
		if r.Binary {
			kind = "binary"
		}
		gf := func(ex float64) float64 { return ex * r.TrainFlops() / 1e9 }
		p("| %s %s | %d | %s |", kind, r.Model, r.Batch, fmtEx(r.Binnet))
		for _, t := range threads {
			p(" %s |", fmtEx(r.Peer[t]))
		}
		p(" **%s** (best: %s) | %.1f (%.1f%%) | %.1f (%.1f%%) | %s / %s = %s |",
			fmtSpread(ratios(r.Binnet, best), "%.2f"), plural(bt, "thread"),
			gf(median(r.Binnet)), 100*gf(median(r.Binnet))/peak, gf(median(best)), 100*gf(median(best))/peak,
			fmtNum(median(r.BinnetCPU)), fmtNum(median(r.PeerCPU[1])), fmtSpread(ratios(r.BinnetCPU, r.PeerCPU[1]), "%.2f"))
		gb, gp := gf(median(r.BinnetCPU)), gf(median(r.PeerCPU[1]))
		if cpuPeak > 0 {
			p(" %.1f (%.0f%%), %.1f (%.0f%%) |\n", gb, 100*gb/cpuPeak, gp, 100*gp/cpuPeak)
		} else {
			p(" %.1f, %.1f |\n", gb, gp)
		}
	}
	p("\nbinnet's first step (graph compilation + one step): ")
	var cs, loads []string
	for _, r := range c.Steps {
		cs = append(cs, fmt.Sprintf("%.1f s", r.Compile))
		loads = append(loads, fmt.Sprintf("%s: %s", r.ID(), strings.Join(r.LoadAvg, "; ")))
	}
	p("%s (in table order).", strings.Join(cs, ", "))
	var sys []string
	for _, r := range c.Steps {
		var v []float64
		for _, x := range r.BinnetSys {
			v = append(v, 100*x)
		}
		if len(v) > 0 {
			sys = append(sys, r.Model+" "+map[bool]string{true: "binary", false: "float"}[r.Binary]+" "+fmtSpread(v, "%.0f%%"))
		}
	}
	if len(sys) > 0 {
		p(" Kernel (system) share of binnet's CPU time (page faults of fresh buffers, madvise): %s.", strings.Join(sys, ", "))
	}
	p(" Load average (1, 5, 15 min) at the start of each round: %s.\n", strings.Join(loads, " | "))
	if len(c.Steps) > 0 && c.Steps[0].PeerEnv != nil {
		e := c.Steps[0].PeerEnv
		p("PyTorch: %v, convolutions `%v` (oneDNN available: %v), ATen CPU capability %v, OpenBLAS `%v`, malloc tuned: %v.\n",
			e["torch_version"], e["conv_ops"], e["mkldnn_available"], e["cpu_capability"], e["openblas_core"], e["malloc_tuned"])
	}
	p("\n| | |\n|---|---|\n")
	for _, k := range c.EnvOrder {
		p("| %s | %s |\n", k, c.Env[k])
	}
	p("| sgemm | numpy %s: %s |\n\n", c.Sgemm.Numpy, sgemmLine(c.Sgemm))
	if c.Profile != "" {
		p("### Where binnet's convolutional step time goes\n\n`%s`, then `go tool pprof -top` (flat and cumulative, top 25) and `-peek 'runtime.memmove$'` (who copies):\n\n```\n%s\n```\n\n",
			c.ProfileCmd, strings.TrimSpace(c.Profile))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func joinInts(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, " and ")
}
