package backend_test

import (
	"fmt"
	"os"

	"github.com/binnet/binnet/binnet/backend"
)

// Without GOMLX_BACKEND, New opens the pure-Go backend, which needs nothing
// installed. Set GOMLX_BACKEND=xla:cpu (or xla:/path/to/plugin.so) to run on
// XLA instead.
func ExampleNew() {
	// This example shows the default, so it clears any GOMLX_BACKEND of the
	// environment, and restores it at the end.
	if old, ok := os.LookupEnv(backend.EnvVar); ok {
		os.Unsetenv(backend.EnvVar)
		defer os.Setenv(backend.EnvVar, old)
	}
	b, err := backend.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Finalize()
	fmt.Println(b.Name())
	// Output:
	// Go Backend
}
