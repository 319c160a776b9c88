package backend

import (
	"fmt"
	"runtime"
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
}
