package main

// End-to-end tests of the command line: they call run (the whole CLI, flags
// to files) on the embedded 12,000-image MNIST sample with tiny schedules,
// and check the files and the output a user relies on.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/binnet/binnet/binnet/training"
)

// cli runs the command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustCLI runs the command line and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, args...)
	if code != 0 {
		t.Fatalf("binnet %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout, stderr
}

// epochJSON is one entry of results.json's "history".
type epochJSON struct {
	Epoch        int     `json:"epoch"`
	BinaryLayers []int   `json:"binary_layers"`
	ValAccuracy  float64 `json:"val_accuracy"`
}

// resultsJSON is the part of results.json the tests check.
type resultsJSON struct {
	Status       string      `json:"status"`
	Error        string      `json:"error"`
	Model        string      `json:"model"`
	Order        string      `json:"order"`
	Seed         int64       `json:"seed"`
	TestAccuracy float64     `json:"test_accuracy"`
	History      []epochJSON `json:"history"`
	Schedule     struct {
		Order []int `json:"order"`
	} `json:"schedule"`
}

// readResults reads dir/results.json and checks that the keys of the
// contract are present (not just zero values of a struct).
func readResults(t *testing.T, dir string) resultsJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatalf("results.json: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("results.json is not a JSON object: %v\n%s", err, b)
	}
	for _, k := range []string{"status", "test_accuracy", "history"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("results.json has no %q key:\n%s", k, b)
		}
	}
	var hist []map[string]json.RawMessage
	if err := json.Unmarshal(raw["history"], &hist); err != nil {
		t.Fatalf("results.json history is not a list of objects: %v", err)
	}
	for i, h := range hist {
		for _, k := range []string{"epoch", "binary_layers", "val_accuracy"} {
			if _, ok := h[k]; !ok {
				t.Fatalf("results.json history[%d] has no %q key", i, k)
			}
		}
		if string(h["binary_layers"]) == "null" {
			t.Fatalf("results.json history[%d].binary_layers is null, want a list", i)
		}
	}
	var r resultsJSON
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	return r
}

// checkHistory checks a completed run's results against the binary layers
// expected at each epoch.
func checkHistory(t *testing.T, r resultsJSON, wantLayers [][]int, minTestAcc float64) {
	t.Helper()
	if r.Status != "completed" {
		t.Errorf("status %q, want completed", r.Status)
	}
	if !(r.TestAccuracy > minTestAcc && r.TestAccuracy <= 1) {
		t.Errorf("test_accuracy %v, want in (%v,1]", r.TestAccuracy, minTestAcc)
	}
	if len(r.History) != len(wantLayers) {
		t.Fatalf("history has %d epochs, want %d: %+v", len(r.History), len(wantLayers), r.History)
	}
	for i, h := range r.History {
		if h.Epoch != i+1 {
			t.Errorf("history[%d].epoch = %d, want %d", i, h.Epoch, i+1)
		}
		if !slices.Equal(h.BinaryLayers, wantLayers[i]) {
			t.Errorf("epoch %d: binary_layers %v, want %v", h.Epoch, h.BinaryLayers, wantLayers[i])
		}
		if !(h.ValAccuracy > 0 && h.ValAccuracy <= 1) {
			t.Errorf("epoch %d: val_accuracy %v, want in (0,1]", h.Epoch, h.ValAccuracy)
		}
	}
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrainOrders(t *testing.T) {
	tiny := []string{"-model", "mlp-300-100", "-epochs-per-layer", "1", "-seed", "1", "-quiet"}
	for _, tc := range []struct {
		order  string
		epochs string
		want   [][]int
		minAcc float64
	}{
		{"forward", "3", [][]int{{1}, {1, 2}, {1, 2, 3}}, 0.5},
		{"3,1,2", "3", [][]int{{3}, {1, 3}, {1, 2, 3}}, 0.5},
		{"reverse", "3", [][]int{{3}, {2, 3}, {1, 2, 3}}, 0.5},
		{"float", "2", [][]int{{}, {}}, 0.5},
		{"binary", "2", [][]int{{1, 2, 3}, {1, 2, 3}}, 0.1},
	} {
		t.Run(strings.ReplaceAll(tc.order, ",", "-"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "-order", tc.order, "-epochs", tc.epochs, "-out", dir}, tiny...)
			stdout, _ := mustCLI(t, args...)
			if !strings.Contains(stdout, "test accuracy") || !strings.Contains(stdout, filepath.Join(dir, "results.json")) {
				t.Errorf("stdout does not report the test accuracy and the results file:\n%s", stdout)
			}
			r := readResults(t, dir)
			checkHistory(t, r, tc.want, tc.minAcc)
			if r.Order != tc.order || r.Model != "mlp-300-100" || r.Seed != 1 {
				t.Errorf("results record order %q, model %q, seed %d; want %q, mlp-300-100, 1", r.Order, r.Model, r.Seed, tc.order)
			}
			if _, err := os.Stat(filepath.Join(dir, "checkpoint.bin")); err != nil {
				t.Errorf("no checkpoint: %v", err)
			}
		})
	}
}

// TestTrainResume re-runs a completed run (it must not train again and must
// report the same test accuracy) and then tries a different run in the same
// folder (it must be refused without touching the checkpoint).
func TestTrainResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "-model", "mlp-300-100", "-order", "forward", "-epochs", "3", "-epochs-per-layer", "1", "-seed", "1", "-out", dir}
	_, stderr1 := mustCLI(t, args...)
	if !strings.Contains(stderr1, "epoch   3/3") {
		t.Errorf("first run shows no progress of epoch 3:\n%s", stderr1)
	}
	first := readResults(t, dir)
	ckpt := filepath.Join(dir, "checkpoint.bin")
	ckptBytes := fileBytes(t, ckpt)
	ckptInfo, err := os.Stat(ckpt)
	if err != nil {
		t.Fatal(err)
	}

	_, stderr2 := mustCLI(t, args...)
	if strings.Contains(stderr2, "epoch   1/3") || strings.Contains(stderr2, "epoch   3/3") {
		t.Errorf("the re-run of a completed run trained again:\n%s", stderr2)
	}
	second := readResults(t, dir)
	if second.TestAccuracy != first.TestAccuracy {
		t.Errorf("re-run test accuracy %v, first run %v", second.TestAccuracy, first.TestAccuracy)
	}
	if second.Status != "completed" || !slices.EqualFunc(first.History, second.History, func(a, b epochJSON) bool {
		return a.Epoch == b.Epoch && slices.Equal(a.BinaryLayers, b.BinaryLayers) && a.ValAccuracy == b.ValAccuracy
	}) {
		t.Errorf("re-run changed the results: status %q, history %+v, was %+v", second.Status, second.History, first.History)
	}
	if !bytes.Equal(fileBytes(t, ckpt), ckptBytes) {
		t.Error("the re-run of a completed run rewrote checkpoint.bin")
	}

	// Another seed into the same folder: refused before training.
	resultsBytes := fileBytes(t, filepath.Join(dir, "results.json"))
	other := slices.Clone(args)
	other[slices.Index(other, "-seed")+1] = "2"
	code, _, stderr := cli(t, other...)
	if code != 1 {
		t.Errorf("a different run into the same -out: exit code %d, want 1", code)
	}
	if !strings.Contains(stderr, "different run") || !strings.Contains(stderr, "seed") {
		t.Errorf("the refusal does not say that the folder holds a different run (seed):\n%s", stderr)
	}
	if strings.Contains(stderr, "epoch   1/") {
		t.Errorf("the refused run trained:\n%s", stderr)
	}
	if !bytes.Equal(fileBytes(t, ckpt), ckptBytes) {
		t.Error("the refused run changed checkpoint.bin")
	}
	if info, err := os.Stat(ckpt); err != nil || !info.ModTime().Equal(ckptInfo.ModTime()) {
		t.Errorf("the refused run touched checkpoint.bin (%v)", err)
	}
	if !bytes.Equal(fileBytes(t, filepath.Join(dir, "results.json")), resultsBytes) {
		t.Error("the refused run changed results.json")
	}
}

// sensitivityJSON is the part of sensitivity.json the tests check.
type sensitivityJSON struct {
	Model  string `json:"model"`
	Layers []struct {
		Layer       int      `json:"layer"`
		ValAccuracy *float64 `json:"val_accuracy"`
		ValLoss     float64  `json:"val_loss"`
	} `json:"layers"`
	OrderAscend  []int `json:"order_ascend"`
	OrderDescend []int `json:"order_descend"`
}

func isPermutation(order []int, n int) bool {
	s := slices.Sorted(slices.Values(order))
	for i, v := range s {
		if v != i+1 {
			return false
		}
	}
	return len(s) == n
}

// TestSensitivity runs the pre-training split across two invocations, checks
// sensitivity.json, re-runs it (everything already done), and trains with
// the ascend order it ranked.
func TestSensitivity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sens")
	base := []string{"sensitivity", "-model", "mlp-300-100", "-epochs", "1", "-out", dir}
	file := filepath.Join(dir, "sensitivity.json")

	// Layer 2 alone: incomplete, and stdout says what to do.
	stdout, _ := mustCLI(t, append(slices.Clone(base), "-layers", "2")...)
	if _, err := os.Stat(file); err == nil {
		t.Fatal("sensitivity.json written with only layer 2 done")
	}
	if !strings.Contains(stdout, "not every layer") || !strings.Contains(stdout, "-layers") {
		t.Errorf("stdout of an incomplete sensitivity run does not explain how to finish:\n%s", stdout)
	}

	// Layers 1 and 3 complete it.
	stdout, stderr := mustCLI(t, append(slices.Clone(base), "-layers", "1,3")...)
	if strings.Contains(stderr, "layer 2:") {
		t.Errorf("-layers 1,3 ran layer 2:\n%s", stderr)
	}
	if !strings.Contains(stdout, "order ascend") || !strings.Contains(stdout, file) {
		t.Errorf("stdout of the completing run shows no orders or file:\n%s", stdout)
	}
	var s sensitivityJSON
	if err := json.Unmarshal(fileBytes(t, file), &s); err != nil {
		t.Fatalf("sensitivity.json: %v", err)
	}
	if s.Model != "mlp-300-100" {
		t.Errorf("sensitivity.json model %q", s.Model)
	}
	if len(s.Layers) != 3 {
		t.Fatalf("sensitivity.json has %d layers, want 3", len(s.Layers))
	}
	ties := false
	for i, l := range s.Layers {
		if l.Layer != i+1 {
			t.Errorf("layers[%d].layer = %d, want %d", i, l.Layer, i+1)
		}
		if l.ValAccuracy == nil || !(*l.ValAccuracy > 0 && *l.ValAccuracy <= 1) {
			t.Errorf("layers[%d].val_accuracy missing or out of (0,1]", i)
		}
		for _, m := range s.Layers[:i] {
			if l.ValAccuracy != nil && m.ValAccuracy != nil && *l.ValAccuracy == *m.ValAccuracy && l.ValLoss == m.ValLoss {
				ties = true
			}
		}
	}
	if !isPermutation(s.OrderAscend, 3) || !isPermutation(s.OrderDescend, 3) {
		t.Fatalf("orders %v / %v are not permutations of 1..3", s.OrderAscend, s.OrderDescend)
	}
	if rev := slices.Clone(s.OrderAscend); !ties {
		slices.Reverse(rev)
		if !slices.Equal(rev, s.OrderDescend) {
			t.Errorf("order_descend %v is not the reverse of order_ascend %v", s.OrderDescend, s.OrderAscend)
		}
	}
	// Ascend: most sensitive (lowest val accuracy) first.
	if a, b := s.Layers[s.OrderAscend[0]-1].ValAccuracy, s.Layers[s.OrderAscend[2]-1].ValAccuracy; *a > *b {
		t.Errorf("order_ascend %v starts with a layer of higher accuracy (%v) than it ends with (%v)", s.OrderAscend, *a, *b)
	}

	// The same command again: every layer already done, same file.
	before := fileBytes(t, file)
	_, stderr = mustCLI(t, base...)
	if n := strings.Count(stderr, "(already done)"); n != 3 {
		t.Errorf("a re-run reports %d layers already done, want 3:\n%s", n, stderr)
	}
	if strings.Contains(stderr, "epoch   1/1") {
		t.Errorf("a re-run trained again:\n%s", stderr)
	}
	var again sensitivityJSON
	if err := json.Unmarshal(fileBytes(t, file), &again); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.OrderAscend, s.OrderAscend) {
		t.Errorf("a re-run changed order_ascend from %v to %v (file was %s)", s.OrderAscend, again.OrderAscend, before)
	}

	// The same folder with other settings: the layers done are not taken
	// as its results, and sensitivity.json stays as it was.
	for _, extra := range [][]string{{"-lr", "0.01"}, {"-train-size", "5000"}} {
		code, _, stderr := cli(t, append(slices.Clone(base), extra...)...)
		if code == 0 || !strings.Contains(stderr, "completed run of a different configuration") {
			t.Errorf("sensitivity %v over another configuration's layers: exit %d, %q", extra, code, stderr)
		}
	}
	if after := fileBytes(t, file); string(after) != string(before) {
		t.Errorf("refused re-runs rewrote %s", file)
	}

	// Train with the ascend order.
	out := filepath.Join(t.TempDir(), "ascend")
	mustCLI(t, "train", "-model", "mlp-300-100", "-order", "ascend", "-sensitivity", file,
		"-epochs", "3", "-epochs-per-layer", "1", "-quiet", "-out", out)
	r := readResults(t, out)
	want := [][]int{{s.OrderAscend[0]}, slices.Sorted(slices.Values(s.OrderAscend[:2])), {1, 2, 3}}
	checkHistory(t, r, want, 0.5)
	if !slices.Equal(r.Schedule.Order, s.OrderAscend) {
		t.Errorf("results schedule order %v, want order_ascend %v", r.Schedule.Order, s.OrderAscend)
	}
}

func TestSchedule(t *testing.T) {
	stdout, _ := mustCLI(t, "schedule", "-order", "1,3,2", "-epochs", "8", "-epochs-per-layer", "2")
	for _, row := range []string{`1\s+1-2\s+1`, `2\s+3-4\s+1,3`, `3\s+5-8\s+1,2,3`} {
		if !regexp.MustCompile(`(?m)^\s*` + row + `\s*$`).MatchString(stdout) {
			t.Errorf("stage table has no row %q:\n%s", row, stdout)
		}
	}
	if !strings.Contains(stdout, "order 1,3,2") || !strings.Contains(stdout, "stage") {
		t.Errorf("stage table has no header or order:\n%s", stdout)
	}
	if n := len(regexp.MustCompile(`(?m)^\s*\d+\s+\d+(-\d+)?\s+[\d,]+\s*$`).FindAllString(stdout, -1)); n != 3 {
		t.Errorf("stage table has %d rows, want 3:\n%s", n, stdout)
	}
	// schedule takes only the flags that shape a schedule: a training flag is
	// refused rather than silently ignored.
	if code, _, stderr := cli(t, "schedule", "-quantizer", "bogus", "-epochs", "6", "-epochs-per-layer", "2"); code != 2 ||
		!strings.Contains(stderr, "flag provided but not defined: -quantizer") {
		t.Errorf("schedule -quantizer: exit %d, %q", code, stderr)
	}
}

// TestScheduleOfficialOrderFile reads the paper's guided ascend order of
// ResNet-21, a layer file of the official code (PyTorch module indices;
// testdata/official-resnet21-layers-ascend.json), as binnet layer numbers
// ranked by hand: index 42 is the 13th binarizable module, 32 the 10th, and
// 26, the second stage's 1x1 downsampling convolution, binnet's layer 8.
func TestScheduleOfficialOrderFile(t *testing.T) {
	stdout, _ := mustCLI(t, "schedule", "-model", "resnet21", "-order", "testdata/official-resnet21-layers-ascend.json",
		"-epochs", "22", "-epochs-per-layer", "1")
	if want := "order 13,10,5,14,9,3,2,7,18,6,17,4,1,16,15,20,11,12,19,8,21,"; !strings.Contains(stdout, want) {
		t.Errorf("want %q in:\n%s", want, stdout)
	}
	for _, row := range []string{`1\s+1\s+13`, `2\s+2\s+10,13`, `21\s+21-22\s+1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21`} {
		if !regexp.MustCompile(`(?m)^\s*` + row + `\s*$`).MatchString(stdout) {
			t.Errorf("stage table has no row %q:\n%s", row, stdout)
		}
	}
}

func TestModels(t *testing.T) {
	stdout, _ := mustCLI(t, "models")
	for _, m := range []string{"mlp-300-100", "mlp-784-784"} {
		if !regexp.MustCompile(`(?m)^` + m + `\s`).MatchString(stdout) {
			t.Errorf("models does not list %s:\n%s", m, stdout)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, c.name, "-h")
			if code != 0 {
				t.Errorf("binnet %s -h: exit code %d, want 0", c.name, code)
			}
			if all := stdout + stderr; !strings.Contains(all, "Usage: binnet "+c.name) {
				t.Errorf("binnet %s -h prints no usage:\n%s", c.name, all)
			}
		})
	}
	for _, h := range []string{"-h", "--help", "help"} {
		code, stdout, _ := cli(t, h)
		if code != 0 || !strings.Contains(stdout, "Usage: binnet COMMAND") {
			t.Errorf("binnet %s: exit code %d, stdout:\n%s", h, code, stdout)
		}
	}
	// binnet help CMD is binnet CMD -h; an unknown CMD is a usage error.
	if code, stdout, stderr := cli(t, "help", "train"); code != 0 || !strings.Contains(stdout+stderr, "Usage: binnet train [flags]") {
		t.Errorf("binnet help train: exit code %d, output:\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "help", "bogus"); code != 2 || !strings.Contains(stderr, `unknown command "bogus"`) {
		t.Errorf("binnet help bogus: exit code %d, stderr:\n%s", code, stderr)
	}
	if code, _, stderr := cli(t, "help", "train", "-epochs"); code != 2 || !strings.Contains(stderr, `binnet help: one command name, got ["train" "-epochs"]`) {
		t.Errorf("binnet help train -epochs: exit code %d, stderr:\n%s", code, stderr)
	}
}

func TestCompareGoesOnPastDivergence(t *testing.T) {
	// At lr 1e8 Adam's float network's mean training loss grows past 1e8 by
	// its second epoch (0.9-1.0e8, 1.3-1.9e8, 2.7-3.0e8 for seeds 1 and 2),
	// while the binary one's (signs of the latent weights) falls from
	// 7.1-7.5e7 to 1.3-1.4e7: -max-loss 1e8 stops the float runs only.
	code, stdout, stderr := cli(t, "compare", "-lr", "1e8", "-max-loss", "1e8", "-epochs", "3", "-epochs-per-layer", "1", "-train-size", "1000",
		"-test-size", "500", "-orders", "float,binary", "-seeds", "1,2", "-quiet")
	if code != 1 {
		t.Errorf("exit code %d, want 1 (some runs diverged)", code)
	}
	if !regexp.MustCompile(`(?m)^float\s+diverged\s+diverged\s+-`).MatchString(stdout) {
		t.Errorf("no diverged row for float:\n%s", stdout)
	}
	if !regexp.MustCompile(`(?m)^binary\s+0\.\d{4} ± 0\.\d{4}\s`).MatchString(stdout) {
		t.Errorf("the binary runs did not go on after float diverged:\n%s", stdout)
	}
	for _, want := range []string{"2 of 4 runs diverged", "order float, seed 1: training diverged", "order float, seed 2: training diverged"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestMaxLoss: by default a run whose loss blows up without overflowing
// (Adam at lr 1e8: 1e7 and more) stops as diverged in its first epoch,
// naming the limit, with exit 1 and results.json marked failed.
func TestMaxLoss(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := cli(t, "train", "-quiet", "-order", "binary", "-lr", "1e8", "-epochs", "3", "-epochs-per-layer", "1",
		"-train-size", "1000", "-test-size", "500", "-out", out)
	if code != 1 || !strings.Contains(stderr, "above the limit 230.3 in epoch 1") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if r := readResults(t, out); r.Status != "failed" || !strings.Contains(r.Error, "diverged") {
		t.Errorf("results.json: status %q, error %q", r.Status, r.Error)
	}
	if code, _, stderr := cli(t, "train", "-max-loss", "0", "-epochs", "3", "-epochs-per-layer", "1"); code == 0 || !strings.Contains(stderr, "-max-loss 0: must be a positive number") {
		t.Errorf("-max-loss 0: exit %d, %q", code, stderr)
	}
}

// TestCompareOrderFile runs an order file of the official code (its
// mlp3_layers_132.json) and, in a second compare into the same folder, the
// same order written as -orders 1,3,2: the
// file's run folder is named after the file, its schedule is the order
// 1,3,2, and both runs, of one seed and one order, end with the same test
// accuracy. Two files of one name are refused before training: their runs
// would share a folder.
func TestCompareOrderFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cmp")
	// One compare of both is refused (the same schedule twice, see
	// TestOrdersOfTheSameSchedule): two compares into one folder.
	for _, order := range []string{"testdata/official-mlp3-layers-132.json", "1,3,2"} {
		mustCLI(t, "compare", "-epochs", "3", "-epochs-per-layer", "1", "-train-size", "1000", "-val-size", "500", "-test-size", "500",
			"-orders", order, "-seeds", "1", "-quiet", "-out", out)
	}
	file, err := training.ReadResults(filepath.Join(out, "official-mlp3-layers-132-seed1", training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	perm, err := training.ReadResults(filepath.Join(out, "1-3-2-seed1", training.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := file.Schedule.Order(); !slices.Equal(got, []int{0, 2, 1}) {
		t.Errorf("the order file's run has order %v, want [0 2 1] (layers 1,3,2)", got)
	}
	if file.TestAccuracy != perm.TestAccuracy || file.Status != training.StatusCompleted {
		t.Errorf("the order file's run: %s, test %v; -order 1,3,2: %v", file.Status, file.TestAccuracy, perm.TestAccuracy)
	}
	other := filepath.Join(t.TempDir(), "official-mlp3-layers-132.json")
	if err := os.WriteFile(other, []byte("[1, 2, 3]"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, 1, []string{"would share the run folder official-mlp3-layers-132-seedN"}, "compare", "-epochs", "3", "-epochs-per-layer", "1",
		"-orders", "testdata/official-mlp3-layers-132.json;"+other, "-seeds", "1")
}

// TestLRMilestones checks -lr-milestones and -lr-gamma against the rates of
// each epoch computed by hand: 0.1 before the first milestone, 0.1 x 0.5
// from it, 0.1 x 0.5 x 0.5 from the second (milestones count finished
// epochs, as PyTorch's MultiStepLR); "none" keeps the rate constant.
func TestLRMilestones(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []float64
	}{
		{[]string{"-lr-milestones", "1,3", "-lr-gamma", "0.5"}, []float64{0.1, 0.05, 0.05, 0.025}},
		{[]string{"-lr-milestones", "2"}, []float64{0.1, 0.1, 0.01, 0.01}},
		{[]string{"-lr-milestones", "none"}, []float64{0.1, 0.1, 0.1, 0.1}},
		// -optimizer in capitals, as -order FORWARD is taken.
		{[]string{"-optimizer", "SGD", "-lr-milestones", "2"}, []float64{0.1, 0.1, 0.01, 0.01}},
	} {
		run := tinyTrain(t, "forward", append([]string{"-epochs", "4", "-epochs-per-layer", "1"}, c.args...)...)
		res, err := training.ReadResults(filepath.Join(run, training.ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "sgd", false: "adam"}[slices.Contains(c.args, "SGD")]; res.Optimizer.Name != want {
			t.Errorf("%v: optimizer %q, want %q", c.args, res.Optimizer.Name, want)
		}
		var got []float64
		for _, h := range res.History {
			got = append(got, h.LearningRate)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%v: %d epochs", c.args, len(got))
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("%v: learning rates %v, want %v", c.args, got, c.want)
				break
			}
		}
	}
}

// TestSensitivityOfficialLength starts a sensitivity pre-training of VGG-5
// without -epochs, waits for its first layer's first epoch, and interrupts
// it: the layer's schedule is the official sensitivity script's 200 epochs
// (vgg5/sensitivity/layer.sh), not the 150 epochs per layer of its training.
func TestSensitivityOfficialLength(t *testing.T) {
	bin := binnetBinary(t)
	out := filepath.Join(t.TempDir(), "sens")
	cmd := exec.Command(bin, "sensitivity", "-model", "vgg5", "-train-size", "200", "-val-size", "100", "-test-size", "100",
		"-layers", "1", "-quiet", "-threads", "1", "-out", out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	results := filepath.Join(out, "layer-01", training.ResultsFile)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(results); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no epoch of layer 1 within 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	res, err := training.ReadResults(results)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Schedule.TotalEpochs(); got != 200 {
		t.Errorf("VGG-5's sensitivity run has %d epochs, want the official 200", got)
	}
}

func TestCompare(t *testing.T) {
	// 3 epochs: with 1 epoch per layer, the 3 layers of mlp-300-100 need 3 stages.
	stdout, _ := mustCLI(t, "compare", "-epochs", "3", "-epochs-per-layer", "1", "-orders", "float,forward", "-seeds", "1", "-quiet")
	if !regexp.MustCompile(`(?m)^order\s+test accuracy`).MatchString(stdout) {
		t.Errorf("no table header:\n%s", stdout)
	}
	for _, o := range []string{"float", "forward"} {
		m := regexp.MustCompile(`(?m)^` + o + `\s+(0\.\d{4}|1\.0000)\s+(0\.\d{4}|1\.0000)\s`).FindStringSubmatch(stdout)
		if m == nil {
			t.Errorf("no table row for %s with accuracies:\n%s", o, stdout)
			continue
		}
		if m[1] < "0.5" {
			t.Errorf("%s: test accuracy %s, want > 0.5", o, m[1])
		}
	}
}

// TestCompareInterruptedPrintsFinishedRuns interrupts compare (SIGINT, as
// Ctrl-C would) once float's two seeds are done: it exits 130 with the
// table of the runs that finished (float with both seeds, maybe binary with
// one, marked "1 of 2 seeds"), where it printed nothing.
func TestCompareInterruptedPrintsFinishedRuns(t *testing.T) {
	bin := binnetBinary(t)
	cmd := exec.Command(bin, "compare", "-seeds", "1,2", "-epochs", "6", "-epochs-per-layer", "2", "-threads", "1")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "== mlp-300-100, order binary, seed 1") {
			cmd.Process.Signal(syscall.SIGINT)
			break
		}
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130; stderr:\n%s", err, seen.String())
	}
	out := stdout.String()
	if !regexp.MustCompile(`Interrupted: the table holds the [23] of 8 runs that finished before it`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^float +0\.9\d{3} ± 0\.\d{4} `).MatchString(out) || strings.Contains(out, "reverse") {
		t.Errorf("stdout of the interrupted compare:\n%s", out)
	}
	if strings.Contains(out, "binary ") && !strings.Contains(out, "(1 of 2 seeds)") {
		t.Errorf("binary's one finished seed is not marked:\n%s", out)
	}
}
