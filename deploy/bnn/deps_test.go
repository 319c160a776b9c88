package bnn

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestStandardLibraryOnly checks the promise of the package documentation:
// deploy/bnn and deploy/runtime import nothing outside the standard library
// but binnet's own internal/atomicfile (no GoMLX), as the go command lists
// their dependencies.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/binnet/binnet/deploy/bnn", "github.com/binnet/binnet/deploy/runtime").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	want := []string{"github.com/binnet/binnet/deploy/bnn", "github.com/binnet/binnet/deploy/runtime", "github.com/binnet/binnet/internal/atomicfile"}
	slices.Sort(deps)
	if !slices.Equal(deps, want) {
		t.Errorf("deploy/bnn and deploy/runtime depend on %v, want only %v and the standard library", deps, want)
	}
}
