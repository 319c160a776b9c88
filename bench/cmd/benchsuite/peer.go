package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Peer and sgemm (Python subprocesses).

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
