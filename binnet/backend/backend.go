// Package backend opens the GoMLX compute backend that binnet runs on.
//
// The choice is the user's, through the GOMLX_BACKEND environment variable:
//
//	GOMLX_BACKEND=go                      pure-Go backend (the default)
//	GOMLX_BACKEND=xla:cpu                 XLA on the CPU (needs its PJRT plugin)
//	GOMLX_BACKEND=xla:/path/to/plugin.so  XLA with an explicit PJRT plugin, e.g. CUDA
//
// Without GOMLX_BACKEND binnet uses the pure-Go backend, which needs nothing
// installed. Nothing in binnet hard-wires a backend.
//
// To a Go backend configuration that does not set it, binnet adds
// num_executors=min(8, GOMAXPROCS) (see [Configuration]): GoMLX's default of 8
// graph executors takes worker slots from the matrix kernels on machines with
// few cores (on 2 cores it left the products of a training step on one core:
// up to 1.8x slower steps, 1.03-1.26x on most workloads). Set GOMLX_BACKEND=go:num_executors=8 for GoMLX's own
// choice.
package backend

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"  // pure-Go backend, always available
	_ "github.com/gomlx/go-xla/compute/xla" // XLA backend, used where a PJRT plugin exists
)

// EnvVar is the environment variable that selects the backend.
const EnvVar = compute.ConfigEnvVar

// Default is the backend configuration used when EnvVar is not set.
const Default = "go"

var (
	mu     sync.Mutex
	shared compute.Backend
)

// Configuration returns the backend configuration New opens: GOMLX_BACKEND
// (Default when unset), with num_executors=min(8, GOMAXPROCS) added to a Go
// backend configuration that does not set num_executors (see the package
// documentation: each of GoMLX's graph executors holds one of the worker
// slots, twice GOMAXPROCS, that the matrix products fan out to). The option
// words are the Go backend's own (gomlx/compute's gobackend.New); other
// backends' configurations pass unchanged.
func Configuration() string {
	config, ok := os.LookupEnv(EnvVar)
	if !ok || config == "" {
		config = Default
	}
	return tuned(config)
}

// tuned adds num_executors=min(8, GOMAXPROCS) to a Go backend configuration
// that does not set it, and returns other configurations unchanged.
func tuned(config string) string {
	name, options, _ := strings.Cut(config, ":")
	if name != "go" {
		return config
	}
	for _, o := range strings.Split(options, ",") {
		if key, _, _ := strings.Cut(o, "="); key == "num_executors" {
			return config
		}
	}
	executors := fmt.Sprintf("num_executors=%d", min(8, runtime.GOMAXPROCS(0)))
	if options == "" {
		return "go:" + executors
	}
	return config + "," + executors
}

// NewGo opens GoMLX's pure-Go backend as binnet configures it (one executor
// per core, see Configuration), whatever GOMLX_BACKEND says: for
// measurements that must run on the CPU.
func NewGo() (compute.Backend, error) {
	b, err := open(tuned("go"))
	if err != nil {
		return nil, fmt.Errorf("backend: cannot open the Go backend: %w", err)
	}
	return b, nil
}

// New opens a new backend as configured by GOMLX_BACKEND (see Configuration).
func New() (compute.Backend, error) {
	config := Configuration()
	b, err := open(config)
	if err != nil {
		return nil, fmt.Errorf("backend: cannot open %s=%q: %w", EnvVar, config, err)
	}
	return b, nil
}

// open opens the backend of a configuration "name[:options]", with an error
// (gomlx/compute panics) when no backend of that name is compiled in, or
// when its constructor panics.
func open(config string) (b compute.Backend, err error) {
	name, _, _ := strings.Cut(config, ":")
	known := compute.List()
	slices.Sort(known)
	if !slices.Contains(known, name) {
		return nil, fmt.Errorf("no backend named %q (known: %s; e.g. go, xla:cpu or xla:/path/to/pjrt_plugin.so)", name, strings.Join(known, ", "))
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}

// Shared returns a process-wide backend, opened by New on first use.
func Shared() (compute.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared, nil
	}
	b, err := New()
	if err != nil {
		return nil, err
	}
	shared = b
	return shared, nil
}
