package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

// TestChecksumsMatchRealFiles checks the hard-coded SHA-256 sums and sizes
// against the real files, for both data sets.
func TestChecksumsMatchRealFiles(t *testing.T) {
	for _, name := range Names {
		dir := filepath.Join("../../shared/datasets", name)
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("real data not available in %s: %v", dir, err)
		}
		if len(checksums[name]) != 4 || len(defaultMirrors[name]) == 0 {
			t.Fatalf("%s: %d checksums, %d mirrors", name, len(checksums[name]), len(defaultMirrors[name]))
		}
		for _, base := range fileNames {
			if err := verify(filepath.Join(dir, base+".gz"), base, checksums[name][base]); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	// And a wrong one is caught.
	dir := filepath.Join("../../shared/datasets/mnist")
	err := verify(filepath.Join(dir, TrainLabelsFile+".gz"), TrainLabelsFile, checksums["mnist"][TestLabelsFile])
	if err == nil {
		t.Errorf("verify accepted the wrong checksum")
	}
}
