package backend

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
)

// TestConfiguration checks the executor count binnet adds to Go backend
// configurations, and that it leaves every other configuration alone.
func TestConfiguration(t *testing.T) {
	n := min(8, runtime.GOMAXPROCS(0))
	for _, c := range []struct{ env, want string }{
		{"", fmt.Sprintf("go:num_executors=%d", n)},
		{"go", fmt.Sprintf("go:num_executors=%d", n)},
		{"go:ops_sequential", fmt.Sprintf("go:ops_sequential,num_executors=%d", n)},
		{"go:num_executors=8", "go:num_executors=8"},
		{"go:parallelism=4,num_executors=3", "go:parallelism=4,num_executors=3"},
		{"xla:cpu", "xla:cpu"},
		{"xla:/opt/pjrt/xla_cuda_plugin.so", "xla:/opt/pjrt/xla_cuda_plugin.so"},
	} {
		t.Setenv(EnvVar, c.env)
		if got := Configuration(); got != c.want {
			t.Errorf("%s=%q: configuration %q, want %q", EnvVar, c.env, got, c.want)
		}
	}
	for _, c := range []struct {
		env, what string
		open      func() (compute.Backend, error)
	}{{"", "New without GOMLX_BACKEND", New}, {"xla:cpu", "NewGo with GOMLX_BACKEND=xla:cpu", NewGo}} {
		t.Setenv(EnvVar, c.env)
		b, err := c.open()
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if b.Name() != "Go Backend" {
			t.Errorf("%s opened %q, want the Go backend", c.what, b.Name())
		}
		b.Finalize()
	}
	t.Setenv(EnvVar, "go:no_such_option")
	if _, err := New(); err == nil {
		t.Error("an unknown Go backend option opened a backend")
	}
	// An unknown backend name is an error naming it and the known ones
	// (gomlx/compute panics on it).
	t.Setenv(EnvVar, "cuda")
	if _, err := New(); err == nil || !strings.Contains(err.Error(), `GOMLX_BACKEND="cuda": no backend named "cuda" (known: `) ||
		!strings.Contains(err.Error(), "go, ") || !strings.Contains(err.Error(), "xla") {
		t.Errorf("GOMLX_BACKEND=cuda: error %v", err)
	}
}

// TestStepThreadCandidates checks the thread policy: one thread and the
// current GOMAXPROCS, to be timed, for small steps on the pure-Go backend;
// only the current GOMAXPROCS otherwise, or when the user set GOMAXPROCS or
// another backend.
func TestStepThreadCandidates(t *testing.T) {
	current := runtime.GOMAXPROCS(0)
	if current == 1 {
		t.Skip("one thread: nothing to choose")
	}
	t.Setenv("GOMAXPROCS", "")
	both, only := []int{1, current}, []int{current}
	for _, c := range []struct {
		env  string
		macs int64
		want []int
	}{
		{"", 56_000_000, both},
		{"go", SmallStepMACs - 1, both},
		{"go:num_executors=2", 1_000_000, both},
		{"", SmallStepMACs, only},
		{"", 370_000_000, only},
		{"xla:cpu", 56_000_000, only},
	} {
		t.Setenv(EnvVar, c.env)
		if got := StepThreadCandidates(c.macs); !slices.Equal(got, c.want) {
			t.Errorf("%s=%q, %d MACs: candidates %v, want %v", EnvVar, c.env, c.macs, got, c.want)
		}
	}
	for _, env := range []string{"", "go:num_executors=2"} {
		t.Setenv(EnvVar, env)
		if !PicksThreads() {
			t.Errorf("%s=%q without GOMAXPROCS: PicksThreads false, want true", EnvVar, env)
		}
	}
	t.Setenv(EnvVar, "xla:cpu")
	if PicksThreads() {
		t.Errorf("%s=xla:cpu: PicksThreads true, want false", EnvVar)
	}
	t.Setenv(EnvVar, "")
	t.Setenv("GOMAXPROCS", "3")
	if got := StepThreadCandidates(1000); !slices.Equal(got, only) || PicksThreads() {
		t.Errorf("with GOMAXPROCS set by the user: candidates %v (want %v), PicksThreads %v (want false)", got, only, PicksThreads())
	}
	prev := UseThreads(1)
	if runtime.GOMAXPROCS(0) != 1 || prev != current {
		t.Errorf("UseThreads(1): GOMAXPROCS %d, returned %d (want 1 and %d)", runtime.GOMAXPROCS(0), prev, current)
	}
	UseThreads(prev)
}
