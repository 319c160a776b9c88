package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/binnet/binnet/binnet/schedule"
	"github.com/binnet/binnet/binnet/training"
)

// TestDeployCommands trains one all-binary epoch on the embedded sample, then
// runs summary (preset and checkpoint), export, infer, and infer on a damaged
// copy of the file.
func TestDeployCommands(t *testing.T) {
	out, _ := mustCLI(t, "summary", "-model", "mlp-300-100")
	for _, want := range []string{"every binarizable layer binary", "dense1", "bn3", "compression ratio 25.87x"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	stdout, _ := mustCLI(t, "train", "-model", "mlp-300-100", "-order", "binary", "-epochs", "1", "-quiet", "-out", run)
	acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
	if acc == nil {
		t.Fatalf("train printed no test accuracy: %s", stdout)
	}
	out, _ = mustCLI(t, "summary", "-checkpoint", run)
	if !strings.Contains(out, "after epoch 1") || strings.Count(out, "binary") < 3 {
		t.Errorf("summary of the checkpoint:\n%s", out)
	}
	model := filepath.Join(dir, "m.bnn")
	out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
	if !strings.Contains(out, "dense1:binary dense2:binary dense3:binary") {
		t.Errorf("export: %s", out)
	}
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	// header 64 + name + 3 descriptors + 38,640 bytes of layer data + 32.
	if st.Size() < 64+3*64+38640+32 || st.Size() > 64+3*64+38640+32+200 {
		t.Errorf("model file is %d bytes", st.Size())
	}
	out, _ = mustCLI(t, "infer", "-model", model)
	got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
	if got == nil || got[1] != acc[1] {
		t.Errorf("infer accuracy %v, train recorded %s:\n%s", got, acc[1], out)
	}
	for _, want := range []string{"batch 1: mean", "batch 64:", "images/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("infer lacks %q:\n%s", want, out)
		}
	}
	// A damaged file is refused with the field and the offset.
	b, _ := os.ReadFile(model)
	b[1000] ^= 1
	bad := filepath.Join(dir, "bad.bnn")
	os.WriteFile(bad, b, 0o644)
	code, _, stderr := cli(t, "infer", "-model", bad)
	if code != 1 || !strings.Contains(stderr, "layer 1 (dense1).weights at offset") || !strings.Contains(stderr, "damaged") {
		t.Errorf("damaged model: exit %d, %s", code, stderr)
	}
	if _, err := strconv.ParseFloat(acc[1], 64); err != nil {
		t.Fatal(err)
	}
}

// TestDeployConvCommands trains the small CNN and VGG-5 for one short epoch on
// sample images (VGG-5's padded to 32x32x3), exports them and runs infer on
// the same test images: the accuracy equals the one training recorded.
// summary shows the conv rows.
func TestDeployConvCommands(t *testing.T) {
	out, _ := mustCLI(t, "summary", "-model", "vgg5")
	for _, want := range []string{"conv1   conv2d     binary       64", "37,748,736", "dense3", "compression ratio 31.27x"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary -model vgg5 lacks %q:\n%s", want, out)
		}
	}
	models := []struct{ name, trainSize, testSize, layers string }{
		{"cnn", "500", "300", "conv1:binary conv2:binary maxpool flatten dense3:binary"},
		{"vgg5", "200", "100", "conv1:binary conv2:binary maxpool flatten dense3:binary dense4:binary dense5:binary"},
	}
	if testing.Short() {
		models = models[:1]
	}
	dir := t.TempDir()
	var inferOut string
	for _, m := range models {
		run := filepath.Join(dir, m.name)
		stdout, _ := mustCLI(t, "train", "-model", m.name, "-order", "binary", "-epochs", "1", "-train-size", m.trainSize,
			"-val-size", "100", "-test-size", m.testSize, "-quiet", "-out", run)
		acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
		if acc == nil {
			t.Fatalf("%s: train printed no test accuracy: %s", m.name, stdout)
		}
		model := filepath.Join(dir, m.name+".bnn")
		out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
		if !strings.Contains(out, m.layers) {
			t.Errorf("%s: export: %s", m.name, out)
		}
		out, _ = mustCLI(t, "infer", "-model", model, "-n", m.testSize)
		got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
		if got == nil || got[1] != acc[1] {
			t.Errorf("%s: infer accuracy %v, train recorded %s:\n%s", m.name, got, acc[1], out)
		}
		t.Logf("%s: %s", m.name, out)
		inferOut = out
	}
	if !testing.Short() && !strings.Contains(inferOut, "padded to 32x32x3") {
		t.Errorf("vgg5 infer did not pad the images:\n%s", inferOut)
	}
}

// TestDeployResNetCommands trains ResNet-20 on sample images padded to
// 32x32x3 and ResNet-21 on an image folder (sample digits written as 40x40
// JPEGs, the network rebuilt for 32x32 crops and 10 classes), each for one
// short all-binary epoch, exports them (residual adds, global average
// pooling; the adapted ResNet-21 rebuilt from results.json) and runs infer on
// the test images: the accuracy equals the one training recorded.
func TestDeployResNetCommands(t *testing.T) {
	dir := t.TempDir()
	check := func(name string, trainArgs, inferArgs []string, layers string) {
		t.Helper()
		run := filepath.Join(dir, name)
		stdout, _ := mustCLI(t, append([]string{"train", "-model", name, "-order", "binary", "-epochs", "1", "-optimizer", "adam",
			"-lr", "0.001", "-batch", "50", "-quiet", "-out", run}, trainArgs...)...)
		acc := regexp.MustCompile(`test accuracy ([0-9.]+)`).FindStringSubmatch(stdout)
		if acc == nil {
			t.Fatalf("%s: train printed no test accuracy: %s", name, stdout)
		}
		out, _ := mustCLI(t, "summary", "-checkpoint", run)
		if !strings.Contains(out, "after epoch 1") {
			t.Errorf("%s: summary of the checkpoint:\n%s", name, out)
		}
		model := filepath.Join(dir, name+".bnn")
		out, _ = mustCLI(t, "export", "-checkpoint", run, "-out", model)
		if !strings.Contains(out, layers) {
			t.Errorf("%s: export: %s", name, out)
		}
		out, _ = mustCLI(t, append([]string{"infer", "-model", model}, inferArgs...)...)
		got := regexp.MustCompile(`accuracy ([0-9.]+)`).FindStringSubmatch(out)
		if got == nil || got[1] != acc[1] {
			t.Errorf("%s: infer accuracy %v, train recorded %s:\n%s", name, got, acc[1], out)
		}
		t.Logf("%s: %s", name, out)
	}
	check("resnet20", []string{"-train-size", "200", "-val-size", "100", "-test-size", "100"}, []string{"-n", "100"},
		"conv1:binary l1b0.conv1:binary l1b0.conv2:binary l1b0.add l1b1.conv1:binary")
	if testing.Short() {
		return
	}
	root := writeDigitFolders(t, 200, 100)
	check("resnet21", []string{"-dataset", "imagenet", "-data-dir", root, "-image-size", "32", "-workers", "2"},
		[]string{"-dataset", "imagenet", "-data-dir", root},
		"l2b0.conv1:binary l2b0.conv2:binary l2b0.downsample:binary l2b0.add")
}

// TestExportSummaryNoCheckpoint checks the messages of export and summary
// for a run folder whose results.json records a run that failed before its
// first epoch (so it has no checkpoint.bin), and of summary for a folder
// without results.json: each names the folder or the file, with no
// "export:" prefix in summary's.
func TestExportSummaryNoCheckpoint(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "diverged")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	sched, err := schedule.New(schedule.Config{NumLayers: 3, Kind: schedule.KindBinary, TotalEpochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	res := &training.Results{Status: training.StatusFailed, Error: "training diverged: loss NaN in epoch 1", Model: "mlp-300-100",
		Network: "mlp-784-300-100-10", Dataset: "mnist", Schedule: sched}
	if err := training.WriteResults(filepath.Join(run, training.ResultsFile), res); err != nil {
		t.Fatal(err)
	}
	msg := run + " has no checkpoint.bin: its results.json records the run as failed before its first epoch ended (training diverged: loss NaN in epoch 1), so no trained weights were saved: there is nothing to export or summarize\n"
	out := filepath.Join(dir, "m.bnn")
	for _, cmd := range [][]string{{"export", "-checkpoint", run, "-out", out}, {"summary", "-checkpoint", run}} {
		code, stdout, stderr := cli(t, cmd...)
		if want := "binnet " + cmd[0] + ": " + msg; code != 1 || stderr != want || stdout != "" {
			t.Errorf("binnet %s: exit %d, stdout %q, stderr\n%q\nwant exit 1 and\n%q", strings.Join(cmd, " "), code, stdout, stderr, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("export wrote %s (%v)", out, err)
	}
	empty := t.TempDir()
	code, _, stderr := cli(t, "summary", "-checkpoint", empty)
	if want := "binnet summary: open " + filepath.Join(empty, "results.json") + ": no such file or directory\n"; code != 1 || stderr != want {
		t.Errorf("summary of a folder without results.json: exit %d, stderr\n%q\nwant\n%q", code, stderr, want)
	}
}
