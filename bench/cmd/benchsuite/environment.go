package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/binnet/binnet/binnet/backend"
	"github.com/gomlx/compute"
)

// Environment.

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
