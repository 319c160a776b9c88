package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/binnet/binnet/binnet/sensitivity"
	"github.com/binnet/binnet/binnet/training"
)

// checkOutputFile is called, before any work, for every flag that names a
// file a command writes (export -out, speed -cpuprofile). It refuses an
// empty name, a folder (writing would fail only at the end, leaving a
// temporary file behind) and an existing file that holds a user's results:
// a binnet training checkpoint (recognized by its magic bytes, whatever its
// name), a run's results.json or a sensitivity run's sensitivity.json. The
// error names the flag, the file and what it is. Any other existing file
// may be overwritten.
// example is a file name the folder error suggests, e.g. "model.bnn".
func checkOutputFile(flagName, path, example string) error {
	if path == "" {
		return fmt.Errorf("-%s: empty file name", flagName)
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a missing folder on the way fails when the file is created, naming the flag
	}
	if err != nil {
		return fmt.Errorf("-%s %s: %w", flagName, path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("-%s %s: is a folder, not a file (give a file name, e.g. %s)", flagName, path, filepath.Join(path, example))
	}
	switch filepath.Base(path) {
	case training.ResultsFile:
		return fmt.Errorf("-%s %s: refusing to overwrite a training run's results file (%s); choose another file name", flagName, path, training.ResultsFile)
	case sensitivity.ResultFile:
		return fmt.Errorf("-%s %s: refusing to overwrite a sensitivity run's results file (%s); choose another file name", flagName, path, sensitivity.ResultFile)
	}
	if training.IsCheckpointFile(path) {
		return fmt.Errorf("-%s %s: refusing to overwrite a binnet training checkpoint; choose another file name", flagName, path)
	}
	return nil
}
