package main

// Tests of order input: order files in binnet's layer numbers or the
// official code's module indices, and typos in them.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeOrderFile writes content to a file name in a temporary folder and
// returns its path.
func writeOrderFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOrderFileTypo: an order file that is neither binnet's layer numbers
// nor the model's official module indices (a typo, numbers from 0) is
// refused naming both readings, before anything trains, rather than ranked
// into some order as it used to be.
func TestOrderFileTypo(t *testing.T) {
	for _, c := range []struct {
		model, content, want string
	}{
		{"mlp-300-100", "[1,2,4]", "[1,2,4]: neither binnet's layer numbers 1..3 (4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"mlp-300-100", "[2,3,4]", "(4 is out of range) nor the official code's module indices of mlp-300-100 (2,5,9)"},
		{"mlp-784-784", "[0,1,2]", "[0,1,2]: neither binnet's layer numbers 1..3 (0 is out of range) nor the official code's module indices of mlp-784-784 (2,5,9)"},
		{"vgg5", "[1,2,3,4,6]", "nor the official code's module indices of vgg5 (2,5,10,13,16)"},
		// The official MLP's file for a VGG-5 model: the wrong length.
		{"vgg5", "[2,9,5]", "lists 3 layers, the network has 5 binarizable layers"},
		// The official code has no cnn: its numbers only.
		{"cnn", "[2,9,5]", "[2,9,5]: not binnet's layer numbers 1..3 (9 is out of range)"},
	} {
		path := writeOrderFile(t, "a.json", c.content)
		stderr := mustRefuse(t, 1, []string{"order file " + path + " ", c.want}, "schedule", "-model", c.model, "-order", path, "-epochs", "6", "-epochs-per-layer", "1")
		if strings.Contains(stderr, "module indices of "+c.model+" [") {
			t.Errorf("%s %s: refused, yet said to be read as module indices:\n%s", c.model, c.content, stderr)
		}
	}
	// compare and train refuse it as schedule does, naming the order.
	path := writeOrderFile(t, "typo.json", "[1,2,4]")
	mustRefuse(t, 1, []string{`order "` + path + `"`, "neither binnet's layer numbers 1..3"},
		"compare", "-orders", "forward;"+path, "-epochs", "3", "-epochs-per-layer", "1", "-seeds", "1")
	mustRefuse(t, 1, []string{"neither binnet's layer numbers 1..3"},
		"train", "-order", path, "-epochs", "3", "-epochs-per-layer", "1", "-out", filepath.Join(t.TempDir(), "run"))
}

// TestOrderFileOfficialNote: a layer file of the official code is read as
// its module indices, ranked, and the command says so on stderr once, even
// where the schedule is built for several seeds (compare); binnet's own
// numbers need no note.
func TestOrderFileOfficialNote(t *testing.T) {
	stdout, stderr := mustCLI(t, "schedule", "-order", "testdata/official-mlp3-layers-132.json", "-epochs", "3", "-epochs-per-layer", "1")
	note := "order file testdata/official-mlp3-layers-132.json: the official code's module indices of mlp-300-100 [2,9,5], ranked: 1,3,2\n"
	if !strings.Contains(stdout, "order 1,3,2") || stderr != note {
		t.Errorf("schedule of mlp3_layers_132.json: stdout\n%s\nstderr %q, want order 1,3,2 and the note %q", stdout, stderr, note)
	}
	_, stderr = mustCLI(t, "compare", "-orders", "testdata/official-mlp3-layers-132.json", "-seeds", "1,2", "-epochs", "3", "-epochs-per-layer", "1",
		"-train-size", "200", "-val-size", "100", "-test-size", "100", "-quiet")
	if n := strings.Count(stderr, note); n != 1 {
		t.Errorf("compare of 2 seeds said the note %d times, want once:\n%s", n, stderr)
	}
	numbers := writeOrderFile(t, "numbers.json", "[1, 3, 2]")
	if stdout, stderr := mustCLI(t, "schedule", "-order", numbers, "-epochs", "3", "-epochs-per-layer", "1"); !strings.Contains(stdout, "order 1,3,2") || stderr != "" {
		t.Errorf("schedule of [1, 3, 2]: stdout\n%s\nstderr %q, want order 1,3,2 and no note", stdout, stderr)
	}
}
