package training

import (
	"fmt"
	"strings"
	"testing"
)

// TestDataParallelSpecs checks the sharding of a data-parallel step: the
// batch axis of images and labels split over the "data" axis of the mesh,
// everything else replicated.
func TestDataParallelSpecs(t *testing.T) {
	mesh, specs, err := DataParallelSpecs(8, 4)
	if err != nil {
		t.Fatal(err)
	}
	if mesh.NumDevices() != 8 || len(specs) != 3 {
		t.Fatalf("mesh of %d devices, %d specs: want 8 and 3", mesh.NumDevices(), len(specs))
	}
	if got := fmt.Sprint(specs[0].Axes); got != "[[data] [] [] []]" {
		t.Errorf("images sharded as %s, want the batch axis over data", got)
	}
	if got := fmt.Sprint(specs[1].Axes); got != "[[data]]" {
		t.Errorf("labels sharded as %s", got)
	}
	for i, s := range specs[2:] {
		if !s.IsReplicated() {
			t.Errorf("input %d is not replicated: %s", i+2, s)
		}
	}
}

// TestDataParallelOnOneDevice: the pure-Go backend has one device; one
// device is the plain step, more are refused with a message that says why.
func TestDataParallelOnOneDevice(t *testing.T) {
	e := newTestEngine(t, smallMLP, Optimizer{Name: "adam", LearningRate: 0.01})
	if err := e.DataParallel(1); err != nil {
		t.Fatalf("DataParallel(1): %v", err)
	}
	err := e.DataParallel(2)
	if err == nil || !strings.Contains(err.Error(), "2 devices") || !strings.Contains(err.Error(), "has 1") {
		t.Fatalf("DataParallel(2) on the Go backend: %v", err)
	}
}
