package training

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/internal/atomicfile"
)

// failWrites makes writeFile fail with ENOSPC (a full disk), as the real one
// would, for the writes of each file named in bases from its first-th write
// to its last-th (1-based; last 0: every write from first on) until the test
// ends; every other write goes through.
func failWrites(t *testing.T, first, last int, bases ...string) {
	t.Helper()
	calls := map[string]int{}
	writeFile = func(path string, data []byte, perm os.FileMode) error {
		if base := filepath.Base(path); slices.Contains(bases, base) {
			if calls[base]++; calls[base] >= first && (last == 0 || calls[base] <= last) {
				return fmt.Errorf("writing %s: %w", path, &os.PathError{Op: "write", Path: path + ".tmp-1", Err: syscall.ENOSPC})
			}
		}
		return atomicfile.WriteFile(path, data, perm)
	}
	t.Cleanup(func() { writeFile = atomicfile.WriteFile })
}

// valAccuracies returns the validation accuracy of every epoch of r.
func valAccuracies(r *Results) []float64 {
	var v []float64
	for _, h := range r.History {
		v = append(v, h.ValAccuracy)
	}
	return v
}

// TestWriteFailureKeepsCheckpoint fills the disk (ENOSPC) for one write when
// a run writes its checkpoint or its results after epoch 2 of 3: the run stops with an
// error that names the epoch, the cause and the checkpoint that still holds
// the epochs before; results.json records the failure with the epochs that
// checkpoint holds; the same command then resumes and ends with the numbers of
// an uninterrupted run.
func TestWriteFailureKeepsCheckpoint(t *testing.T) {
	data := smallData(t)
	ref := smallConfig(t, schedule.Forward(3), 1, 3)
	ref.OutDir = t.TempDir()
	want, err := Run(context.Background(), ref, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		kept int // the epochs the checkpoint holds after the failure
	}{{CheckpointFile, 1}, {ResultsFile, 2}} {
		t.Run(c.file, func(t *testing.T) {
			cfg := ref
			cfg.OutDir = t.TempDir()
			failWrites(t, 2, 2, c.file) // the disk full for that one write
			_, err := Run(context.Background(), cfg, data)
			ckpt := filepath.Join(cfg.OutDir, CheckpointFile)
			if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "epoch 2") ||
				!strings.Contains(err.Error(), fmt.Sprintf("%s still holds epoch %d; running the same configuration again resumes from it", ckpt, c.kept)) {
				t.Fatalf("Run with the disk full at the second write of %s returned %v", c.file, err)
			}
			meta, _, rerr := readCheckpoint(ckpt)
			if rerr != nil || meta.Epochs != c.kept {
				t.Errorf("checkpoint after the failure: %+v, %v; want the intact one of epoch %d", meta, rerr, c.kept)
			}
			onDisk, rerr := ReadResults(filepath.Join(cfg.OutDir, ResultsFile))
			if rerr != nil || onDisk.Status != StatusFailed || onDisk.Error != err.Error() || len(onDisk.History) != c.kept {
				t.Errorf("results.json after the failure: status %q, error %q, %d epochs, %v; want failed, the error, %d epochs",
					onDisk.Status, onDisk.Error, len(onDisk.History), rerr, c.kept)
			}
			writeFile = atomicfile.WriteFile
			got, err := Run(context.Background(), cfg, data)
			if err != nil {
				t.Fatalf("resuming after the failure: %v", err)
			}
			if got.Status != StatusCompleted || !reflect.DeepEqual(got.ResumedAt, []int{c.kept + 1}) ||
				got.TestAccuracy != want.TestAccuracy || !reflect.DeepEqual(valAccuracies(got), valAccuracies(want)) {
				t.Errorf("resumed run: status %q, resumed at %v, test %v, val %v; uninterrupted: test %v, val %v",
					got.Status, got.ResumedAt, got.TestAccuracy, valAccuracies(got), want.TestAccuracy, valAccuracies(want))
			}
		})
	}
}

// TestWriteFailureUnrecorded fills the disk for good after epoch 1: the
// failure cannot be recorded either, the error says so, and results.json is
// left as the last epoch that could write it saw it ("running"), with the
// checkpoint it names intact.
func TestWriteFailureUnrecorded(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig(t, schedule.Forward(3), 1, 3)
	cfg.OutDir = t.TempDir()
	failWrites(t, 2, 0, CheckpointFile, ResultsFile)
	_, err := Run(context.Background(), cfg, data)
	if err == nil || !strings.Contains(err.Error(), "still holds epoch 1") || !strings.Contains(err.Error(), "nor could the failure be recorded") {
		t.Fatalf("Run returned %v", err)
	}
	onDisk, rerr := ReadResults(filepath.Join(cfg.OutDir, ResultsFile))
	if rerr != nil || onDisk.Status != StatusRunning || len(onDisk.History) != 1 {
		t.Errorf("results.json: %+v, %v; want epoch 1's, still running", onDisk, rerr)
	}
}
