package training

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
)

// FuzzDecodeCheckpoint feeds arbitrary bytes to the checkpoint reader: it must
// never panic, and anything it rejects must be reported as a corrupt
// checkpoint naming the file.
func FuzzDecodeCheckpoint(f *testing.F) {
	// Seed with a real checkpoint and damaged copies of it.
	dir := f.TempDir()
	cfg := smallConfig(f, schedule.Forward(3), 1, 3)
	cfg.Schedule, _ = schedule.Float(3, 1)
	cfg.OutDir = dir
	if _, err := Run(context.Background(), cfg, smallData(f)); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte(checkpointMagic))
	f.Fuzz(func(t *testing.T, blob []byte) {
		meta, values, err := decodeCheckpoint("fuzz.bin", blob)
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCorruptCheckpoint", err)
			}
			return
		}
		if meta == nil || values == nil {
			t.Fatal("nil result without error")
		}
	})
}
