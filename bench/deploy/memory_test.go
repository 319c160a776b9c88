package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/binnet/binnet/deploy/runtime"
	"github.com/gomlx/gomlx/core/tensors"
)

// Resident memory of a loaded network, measured in a child process (this
// test binary run again with -test.run TestMemoryChild) so that each
// measurement starts from a fresh heap. The child reads RssAnon and VmRSS
// from /proc/self/status and the Go heap's live bytes (HeapAlloc) after
// runtime.GC and debug.FreeOSMemory (freed pages returned to the OS), before
// and after loading; and the peak resident memory (VmHWM, reset through
// /proc/self/clear_refs) while loading, during one batch-1 inference and
// during one batch of 64 (one goroutine): working buffers included, which a
// GC would drop from the first readings (sync.Pool). It prints everything as
// growth over the first reading.
//
//	GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd BINNET_BENCH=1 go test ./bench/deploy -run TestMemory -v

const memChildEnv = "BINNET_MEM_CHILD" // mode:arg for the child

// memReading is one reading of the child's memory.
type memReading struct {
	RssAnon, VmRSS, HeapAlloc int64 // bytes
	Peak                      int64 // VmHWM: the largest VmRSS since the last resetPeak
}

// memReport is what the child prints, relative to the first reading: after
// loading (or building), and the peaks of VmRSS while loading, during a
// batch-1 and during a batch-64 inference.
type memReport struct {
	Mode                      string
	WeightBytes               int64 // weights, scales and offsets of the loaded model (runtime modes)
	Loaded                    memReading
	PeakLoad, PeakB1, PeakB64 int64
}

// readMem settles the heap and reads the process's memory, twice: the
// reading with the smaller RssAnon (freed pages are now and then still
// resident after the first debug.FreeOSMemory).
func readMem(t testing.TB) memReading {
	r := readMemOnce(t)
	if r2 := readMemOnce(t); r2.RssAnon < r.RssAnon {
		r = r2
	}
	return r
}

func readMemOnce(t testing.TB) memReading {
	goruntime.GC()
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	r := memReading{HeapAlloc: int64(ms.HeapAlloc)}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		switch f[0] {
		case "RssAnon:":
			r.RssAnon = kb << 10
		case "VmRSS:":
			r.VmRSS = kb << 10
		case "VmHWM:":
			r.Peak = kb << 10
		}
	}
	if r.VmRSS == 0 {
		t.Fatal("no VmRSS in /proc/self/status")
	}
	return r
}

func (r memReading) minus(base memReading) memReading {
	return memReading{RssAnon: r.RssAnon - base.RssAnon, VmRSS: r.VmRSS - base.VmRSS, HeapAlloc: r.HeapAlloc - base.HeapAlloc,
		Peak: r.Peak - base.VmRSS}
}

// resetPeak resets VmHWM to the current VmRSS.
func resetPeak(t testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
}

// peakSince returns the peak VmRSS since resetPeak, relative to base's VmRSS
// (no GC before reading).
func peakSince(t testing.TB, base memReading) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb<<10 - base.VmRSS
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestMemoryChild runs in the child process only (BINNET_MEM_CHILD set):
// "runtime:FILE" loads a .bnn file with deploy/runtime; "gomlx:NETWORK"
// builds GoMLX's float inference of a network of allNetworks.
func TestMemoryChild(t *testing.T) {
	spec := os.Getenv(memChildEnv)
	if spec == "" {
		t.Skip("runs as TestMemory's child process")
	}
	mode, arg, _ := strings.Cut(spec, ":")
	rep := memReport{Mode: mode}
	switch mode {
	case "runtime":
		base := readMem(t)
		resetPeak(t)
		net, err := runtime.Load(arg)
		if err != nil {
			t.Fatal(err)
		}
		rep.PeakLoad = peakSince(t, base)
		rep.Loaded = readMem(t).minus(base)
		for _, l := range net.Model().Layers {
			rep.WeightBytes += int64(l.WeightBytes() + 4*len(l.Scale) + 4*len(l.Offset))
		}
		in := net.InputSize()
		x1, x64 := input(in), input(64*in)
		readMem(t)
		resetPeak(t)
		out := net.Logits(x1, nil)
		rep.PeakB1 = peakSince(t, base)
		resetPeak(t)
		out = net.LogitsBatchWorkers(x64, 64, out, 1)
		rep.PeakB64 = peakSince(t, base)
		goruntime.KeepAlive(net)
		goruntime.KeepAlive(out)
	case "gomlx":
		var nw *network
		for i := range allNetworks {
			if allNetworks[i].name == arg {
				nw = &allNetworks[i]
			}
		}
		if nw == nil {
			t.Fatalf("no network %q", arg)
		}
		floatExec(t, nw.net) // the backend, allocated once, is part of the baseline
		base := readMem(t)
		resetPeak(t)
		store, exec := floatExec(t, nw.net) // build, initialize, run at batch 1
		rep.PeakLoad = peakSince(t, base)
		rep.PeakB1 = rep.PeakLoad
		rep.Loaded = readMem(t).minus(base)
		xt := tensors.FromFlatDataAndDimensions(input(64*inputSize(nw.net)), dims(nw.net, 64)...)
		readMem(t)
		resetPeak(t)
		res := exec.MustExec(xt)
		_ = tensors.MustCopyFlatData[float32](res[0])
		rep.PeakB64 = peakSince(t, base)
		goruntime.KeepAlive(store)
		goruntime.KeepAlive(res)
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("BINNET_MEM %s\n", b)
}

// runMemChild runs one measurement in a child process.
func runMemChild(t *testing.T, spec string) memReport {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestMemoryChild$", "-test.count", "1")
	cmd.Env = append(os.Environ(), memChildEnv+"="+spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s%s", spec, err, out, stderr.Bytes())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "BINNET_MEM "); ok {
			var rep memReport
			if err := json.Unmarshal([]byte(rest), &rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
	}
	t.Fatalf("child %s printed no measurement:\n%s", spec, out)
	return memReport{}
}

// TestMemory prints the resident-memory table of docs/deploy.md: per
// network, the growth of RssAnon (anonymous resident memory: heap, not the
// binary's code) and, in parentheses, of the Go heap's live bytes, when
// GoMLX builds the float network (and runs it once) and when deploy/runtime
// loads the float32 and the all-binary .bnn file; then peaks of VmRSS over
// the same baseline while loading the binary file and during inference.
// Set BINNET_BENCH=1.
func TestMemory(t *testing.T) {
	if os.Getenv("BINNET_BENCH") == "" {
		t.Skip("set BINNET_BENCH=1 to measure")
	}
	if os.Getenv(memChildEnv) != "" {
		t.Skip("child process")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc/self/status (Linux)")
	}
	dir := t.TempDir()
	kib := func(b int64) string { return fmt.Sprintf("%d KiB", (b+512)>>10) }
	both := func(r memReading) string { return fmt.Sprintf("%s (%s)", kib(r.RssAnon), kib(r.HeapAlloc)) }
	fmt.Printf("resident memory: growth of RssAnon (Go heap live bytes) over the child's baseline; binary kernel: %s\n\n", runtime.Kernel())
	fmt.Println("| network | float32 variables | GoMLX float: built + run once | runtime, float32 .bnn: file | loaded | runtime, binary .bnn: file | loaded | float32 / binary, loaded: RssAnon (heap) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	var peaks []string
	for _, n := range networks() {
		p := getPair(t, n.name, n.net)
		bin, f32 := filepath.Join(dir, n.name+".bnn"), filepath.Join(dir, n.name+"-float32.bnn")
		if err := os.WriteFile(bin, p.bnnFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f32, p.f32File, 0o644); err != nil {
			t.Fatal(err)
		}
		g := runMemChild(t, "gomlx:"+n.name)
		rf := runMemChild(t, "runtime:"+f32)
		rb := runMemChild(t, "runtime:"+bin)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %.1fx (%.1fx) |\n", n.name, kib(int64(p.f32Bytes)),
			both(g.Loaded), kib(int64(len(p.f32File))), both(rf.Loaded), kib(int64(len(p.bnnFile))), both(rb.Loaded),
			float64(rf.Loaded.RssAnon)/float64(rb.Loaded.RssAnon), float64(rf.Loaded.HeapAlloc)/float64(rb.Loaded.HeapAlloc))
		peaks = append(peaks, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |", n.name,
			kib(g.PeakLoad), kib(g.PeakB64), kib(rf.PeakLoad), kib(rf.PeakB1), kib(rf.PeakB64),
			kib(rb.PeakLoad), kib(rb.PeakB1), kib(rb.PeakB64)))
		t.Logf("%s: float32 model weights+scale+offset %d B, binary %d B; VmRSS growth: float32 loaded %d B, binary loaded %d B",
			n.name, rf.WeightBytes, rb.WeightBytes, rf.Loaded.VmRSS, rb.Loaded.VmRSS)
	}
	fmt.Print("\npeak VmRSS (VmHWM) over the same baseline, no GC in between:\n\n")
	fmt.Println("| network | GoMLX float: build + run once | + batch 64 | runtime float32: loading | batch 1 | batch 64 (1 goroutine) | runtime binary: loading | batch 1 | batch 64 (1 goroutine) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, s := range peaks {
		fmt.Println(s)
	}
}
