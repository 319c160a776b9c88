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
package backend

import (
	"fmt"
	"os"
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

// New opens a new backend as configured by GOMLX_BACKEND (default "go").
func New() (compute.Backend, error) {
	config, ok := os.LookupEnv(EnvVar)
	if !ok || config == "" {
		config = Default
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("backend: cannot open %s=%q: %w", EnvVar, config, err)
	}
	return b, nil
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
