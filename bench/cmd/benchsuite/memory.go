package main

// Peak memory: the resident set of a process that trains a workload, binnet
// (`binnet speed`) against the PyTorch peer (the same scripts as the speed
// workloads), each a fresh process, read from the kernel's accounting of the
// finished process (ru_maxrss), beside the same of a process of each that
// trains nothing.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// memorySteps is the number of training steps of each peak-memory
// measurement, binnet's and the peer's (after the peer's warm-up steps, and
// binnet's first step, which compiles): the peak of glibc's and Go's heaps
// grows over the first steps, so both run the same number.
const memorySteps = 30

// MemoryWorkload is one peak-memory measurement: a binary network trained
// on one thread at a batch size.
type MemoryWorkload struct {
	Model string `json:"model"` // binnet preset: mlp-784-784, cnn, vgg5, resnet20
	Batch int    `json:"batch"`
}

// ID is e.g. "vgg5 binary b100" (what -only matches).
func (w MemoryWorkload) ID() string { return fmt.Sprintf("%s binary b%d", w.Model, w.Batch) }

// MemoryResult holds the rounds of one peak-memory workload, in MB (2^20 bytes).
type MemoryResult struct {
	MemoryWorkload
	Binnet []float64 `json:"binnet_peak_rss_mb"`
	Peer   []float64 `json:"pytorch_peak_rss_mb"`
}

// MemoryReport is the peak-memory part of a run, with its own command and
// times so that it can be merged with parts measured by other runs.
type MemoryReport struct {
	Started, Finished time.Time
	Command           string
	Rounds            int
	Steps             int
	// BinnetIdle and PeerIdle are the peak resident sets of a process of
	// each that trains nothing (`binnet models`; Python importing torch and
	// numpy), per round: what the runtime and libraries take before any work.
	BinnetIdle []float64 `json:"binnet_idle_peak_rss_mb"`
	PeerIdle   []float64 `json:"pytorch_idle_peak_rss_mb"`
	Results    []*MemoryResult
}

func memoryWorkloads() []MemoryWorkload {
	return []MemoryWorkload{{"mlp-784-784", 100}, {"mlp-784-784", 1000}, {"cnn", 100}, {"vgg5", 100}, {"resnet20", 128}}
}

// peakRSS runs cmd to the end and returns its peak resident set in MB.
func peakRSS(cmd *exec.Cmd) (float64, error) {
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		return 0, fmt.Errorf("%s: no peak resident set from the kernel", strings.Join(cmd.Args, " "))
	}
	return float64(ru.Maxrss) / 1024, nil // Linux reports KiB
}

// binnetMemoryCmd is binnet's process for w: `binnet speed` on one thread.
func binnetMemoryCmd(bin string, w MemoryWorkload) *exec.Cmd {
	cmd := exec.Command(bin, "speed", "-model", w.Model, "-batch", fmt.Sprint(w.Batch), "-mode", "binary",
		"-steps", fmt.Sprint(memorySteps), "-windows", "1", "-threads", "1", "-json")
	cmd.Env = os.Environ()
	return cmd
}

// peerMemoryCmd is the PyTorch process for w, the script of its speed
// workload on one thread.
func peerMemoryCmd(w MemoryWorkload) *exec.Cmd {
	if strings.HasPrefix(w.Model, "mlp-") {
		return execPeer("--bench", "--model", strings.TrimPrefix(w.Model, "mlp-"), "--binary", "--batch", fmt.Sprint(w.Batch),
			"--threads", "1", "--steps", fmt.Sprint(memorySteps), "--warmup", "5", "--min-seconds", "0")
	}
	return execPython("bench/pytorch/cnn_bench.py", "--json", "--model", w.Model, "--mode", "binary", "--batch", fmt.Sprint(w.Batch),
		"--threads", "1", "--steps", fmt.Sprint(memorySteps), "--windows", "1", "--min-window-seconds", "0", "--warmup", "5")
}

// measureMemory builds binnet and measures every workload's peak resident
// set, binnet's and the peer's in turns, for rounds rounds.
func measureMemory(rounds int) (*MemoryReport, error) {
	dir, err := os.MkdirTemp("", "benchsuite-memory")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "binnet")
	logf("memory: building binnet")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/binnet").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/binnet: %w\n%s", err, out)
	}
	mr := &MemoryReport{Started: time.Now(), Rounds: rounds, Steps: memorySteps}
	var ws []MemoryWorkload
	for _, w := range memoryWorkloads() {
		if *flagOnly == "" || strings.Contains(w.ID(), *flagOnly) {
			ws = append(ws, w)
			mr.Results = append(mr.Results, &MemoryResult{MemoryWorkload: w})
		}
	}
	for round := range rounds {
		idle, err := peakRSS(exec.Command(bin, "models"))
		if err != nil {
			return nil, err
		}
		peerIdle, err := peakRSS(execPython("-c", "import numpy, torch"))
		if err != nil {
			return nil, err
		}
		mr.BinnetIdle, mr.PeerIdle = append(mr.BinnetIdle, idle), append(mr.PeerIdle, peerIdle)
		for i, w := range ws {
			b, err := peakRSS(binnetMemoryCmd(bin, w))
			if err != nil {
				return nil, err
			}
			p, err := peakRSS(peerMemoryCmd(w))
			if err != nil {
				return nil, err
			}
			r := mr.Results[i]
			r.Binnet, r.Peer = append(r.Binnet, b), append(r.Peer, p)
			logf("memory %s round %d: binnet %.0f MB, PyTorch %.0f MB (idle %.0f and %.0f)", w.ID(), round+1, b, p, idle, peerIdle)
		}
	}
	mr.Finished = time.Now()
	return mr, nil
}

// memoryMarkdown renders the peak-memory section.
func memoryMarkdown(p func(string, ...any), m *MemoryReport) {
	p("## Peak memory of a training process (MB resident, lower is better)\n\n")
	p("*Measured by `%s` on %s (%.0f min).*\n\n", strings.TrimSpace(m.Command), m.Started.UTC().Format("2006-01-02 15:04 UTC"), m.Finished.Sub(m.Started).Minutes())
	p("Each figure is the peak resident set (the kernel's `ru_maxrss`) of a fresh process that trains the binary network\n")
	p("on one thread: binnet `binnet speed -mode binary -threads 1` (its first step compiles the graph, then %d steps), PyTorch\n", m.Steps)
	p("the speed workloads' scripts (`mlp_mnist.py --bench`, `cnn_bench.py`: 5 warm-up steps, then %d), in turns for %s; medians\n", m.Steps, plural(m.Rounds, "round"))
	p("with (min–max). *Idle* is a process of each that trains nothing (`binnet models`; Python importing torch and numpy):\n")
	p("%s MB for binnet, %s MB for PyTorch. *Above idle* subtracts it (the round's own), what the training itself holds.\n\n",
		fmtSpread(m.BinnetIdle, "%.0f"), fmtSpread(m.PeerIdle, "%.0f"))
	p("| workload | binnet | PyTorch | binnet / PyTorch | binnet above idle | PyTorch above idle | binnet / PyTorch above idle |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range m.Results {
		var ratio, bAbove, pAbove, ratioAbove []float64
		for i := range min(len(r.Binnet), len(r.Peer), len(m.BinnetIdle), len(m.PeerIdle)) {
			ratio = append(ratio, r.Binnet[i]/r.Peer[i])
			b, pe := r.Binnet[i]-m.BinnetIdle[i], r.Peer[i]-m.PeerIdle[i]
			bAbove, pAbove = append(bAbove, b), append(pAbove, pe)
			ratioAbove = append(ratioAbove, b/pe)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", r.ID(), fmtSpread(r.Binnet, "%.0f"), fmtSpread(r.Peer, "%.0f"), fmtSpread(ratio, "%.2f"),
			fmtSpread(bAbove, "%.0f"), fmtSpread(pAbove, "%.0f"), fmtSpread(ratioAbove, "%.2f"))
	}
	p("\n")
}
