package main

// Crash safety of the real binary: a train run is SIGKILLed at seeded random
// points (mid-epoch, during the checkpoint write, right after it), restarted
// each time, and must resume at the right epoch and stage and end with the
// same results, bit for bit, as an uninterrupted run with the same seed.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binnetOnce sync.Once
	binnetPath string
	binnetErr  error
	binnetDir  string
)

func TestMain(m *testing.M) {
	// sweep and sensitivity -parallel start their jobs by re-executing
	// their own binary (selfExecutable), which under go test is this test
	// binary: started with a binnet command, it is binnet, so that an
	// in-process test of those commands runs real jobs instead of the whole
	// test suite again in every job (and again in theirs).
	if len(os.Args) > 1 && slices.ContainsFunc(commands, func(c command) bool { return c.name == os.Args[1] }) {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binnetDir != "" {
		os.RemoveAll(binnetDir)
	}
	os.Exit(code)
}

// binnetBinary builds the binnet binary once for the tests that run it as a
// separate process.
func binnetBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goCmd := goCommand(t)
	binnetOnce.Do(func() {
		if binnetDir, binnetErr = os.MkdirTemp("", "binnet-test-bin-"); binnetErr != nil {
			return
		}
		binnetPath = filepath.Join(binnetDir, "binnet")
		out, err := exec.Command(goCmd, "build", "-o", binnetPath, ".").CombinedOutput()
		if err != nil {
			binnetErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binnetErr != nil {
		t.Fatal(binnetErr)
	}
	return binnetPath
}

// checkpointEpochs returns the epochs_done of dir/checkpoint.bin (0 if there
// is none), reading its header: "BINNETCK" | version uint32 | header length
// uint64 | header JSON.
func checkpointEpochs(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 20 || string(b[:8]) != "BINNETCK" {
		t.Fatalf("checkpoint.bin has no valid header (%d bytes)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[12:20])
	if uint64(len(b)-20) < n {
		t.Fatalf("checkpoint.bin is truncated: header of %d bytes, file of %d", n, len(b))
	}
	var meta struct {
		Epochs int `json:"epochs_done"`
	}
	if err := json.Unmarshal(b[20:20+n], &meta); err != nil {
		t.Fatalf("checkpoint.bin header: %v", err)
	}
	return meta.Epochs
}

// comparable returns results.json without what legitimately differs between
// an interrupted run and an uninterrupted one: wall-clock seconds and the
// list of resumed epochs.
func comparableResults(t *testing.T, dir string) (map[string]any, []int) {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(fileBytes(t, filepath.Join(dir, "results.json")), &r); err != nil {
		t.Fatal(err)
	}
	var resumed []int
	if l, ok := r["resumed_at_epoch"].([]any); ok {
		for _, v := range l {
			resumed = append(resumed, int(v.(float64)))
		}
	}
	delete(r, "train_seconds")
	delete(r, "resumed_at_epoch")
	hist, _ := r["history"].([]any)
	for _, h := range hist {
		delete(h.(map[string]any), "seconds")
	}
	return r, resumed
}

var epochLine = regexp.MustCompile(`^epoch +(\d+)/(\d+) +stage (\d+) +binary (\S+)`)

// killRun is one start of the binary that is killed when trigger says so.
type killRun struct {
	cmd    *exec.Cmd
	lines  chan string // stderr, line by line; closed at EOF
	stderr bytes.Buffer
	mu     sync.Mutex
}

func startRun(t *testing.T, bin string, args []string) *killRun {
	t.Helper()
	k := &killRun{cmd: exec.Command(bin, args...), lines: make(chan string, 100)}
	pipe, err := k.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			k.mu.Lock()
			k.stderr.WriteString(sc.Text() + "\n")
			k.mu.Unlock()
			k.lines <- sc.Text()
		}
		close(k.lines)
	}()
	return k
}

func (k *killRun) output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stderr.String()
}

func TestKillAndResume(t *testing.T) {
	bin := binnetBinary(t)
	seed := uint64(1)
	if s := os.Getenv("BINNET_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BINNET_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("kill points seeded with %d (set BINNET_CRASH_SEED to vary them)", seed)
	rng := rand.New(rand.NewPCG(seed, 0xb1))
	const epochs = 4
	args := func(dir string) []string {
		return []string{"train", "-model", "mlp-300-100", "-order", "forward", "-epochs", strconv.Itoa(epochs),
			"-epochs-per-layer", "1", "-seed", "5", "-out", dir}
	}

	// The uninterrupted run.
	refDir := filepath.Join(t.TempDir(), "ref")
	start := time.Now()
	if out, err := exec.Command(bin, args(refDir)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	var refRaw struct {
		TrainSeconds float64 `json:"train_seconds"`
	}
	if err := json.Unmarshal(fileBytes(t, filepath.Join(refDir, "results.json")), &refRaw); err != nil {
		t.Fatal(err)
	}
	epochSeconds := refRaw.TrainSeconds / epochs
	t.Logf("uninterrupted run: %.1fs, %.2fs per epoch", time.Since(start).Seconds(), epochSeconds)
	want, _ := comparableResults(t, refDir)
	type epochInfo struct {
		stage  int
		binary string
	}
	var refEpochs []epochInfo
	for _, h := range want["history"].([]any) {
		m := h.(map[string]any)
		var layers []string
		for _, l := range m["binary_layers"].([]any) {
			layers = append(layers, fmt.Sprint(l))
		}
		refEpochs = append(refEpochs, epochInfo{int(m["stage"].(float64)), strings.Join(layers, ",")})
	}
	if len(refEpochs) != epochs {
		t.Fatalf("uninterrupted run has %d epochs of history, want %d", len(refEpochs), epochs)
	}

	// The interrupted one: each kind of kill point, in a seeded order, then a
	// last start that runs to the end.
	kinds := []string{"mid-epoch", "checkpoint-write", "after-checkpoint", "mid-epoch", "checkpoint-write", "after-checkpoint"}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	dir := filepath.Join(t.TempDir(), "run")
	var resumedAt []int
	hit := map[string]int{}
	for i := 0; i <= len(kinds); i++ {
		kind := "none"
		if i < len(kinds) {
			kind = kinds[i]
		}
		done := checkpointEpochs(t, dir)
		if done == epochs {
			t.Logf("start %d: the checkpoint already holds all %d epochs", i+1, epochs)
		}
		k := startRun(t, bin, args(dir))
		firstEpoch := 0
		check := func(line string) {
			m := epochLine.FindStringSubmatch(line)
			if m == nil || firstEpoch != 0 {
				return
			}
			e, _ := strconv.Atoi(m[1])
			firstEpoch = e
			if e != done+1 {
				t.Errorf("start %d (after %d checkpointed epochs): first epoch trained is %d, want %d\n%s", i+1, done, e, done+1, k.output())
				return
			}
			ref := refEpochs[e-1]
			if st, _ := strconv.Atoi(m[3]); st != ref.stage || m[4] != ref.binary {
				t.Errorf("start %d resumed epoch %d in stage %s with binary layers %s, the uninterrupted run had stage %d, layers %s",
					i+1, e, m[3], m[4], ref.stage, ref.binary)
			}
		}
		killed := false
		kill := func() {
			if err := k.cmd.Process.Signal(syscall.SIGKILL); err == nil {
				killed = true
			}
		}
		switch kind {
		case "mid-epoch":
			// A random moment within about 1.5 epochs of the header line
			// (printed when the data is loaded, before the backend starts and
			// the checkpoint is read).
			delay := time.Duration(rng.Float64() * 1.5 * epochSeconds * float64(time.Second))
			var timer <-chan time.Time
		wait:
			for {
				select {
				case l, ok := <-k.lines:
					if !ok {
						break wait
					}
					check(l)
					if timer == nil && strings.HasPrefix(l, "mlp-300-100 on ") {
						timer = time.After(delay)
					}
				case <-timer:
					kill()
					break wait
				}
			}
		case "checkpoint-write":
			// As soon as a temporary checkpoint file appears: the kill lands
			// between its creation and its rename.
			before := tempCheckpoints(t, dir)
			deadline := time.Now().Add(2 * time.Minute)
		poll:
			for time.Now().Before(deadline) {
				select {
				case l, ok := <-k.lines:
					if !ok {
						break poll
					}
					check(l)
				default:
				}
				if len(tempCheckpoints(t, dir)) > len(before) {
					kill()
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
		case "after-checkpoint":
			// Right after the progress line of an epoch, which is printed
			// between the checkpoint's rename and the write of results.json.
			for l := range k.lines {
				check(l)
				if epochLine.MatchString(l) {
					kill()
					break
				}
			}
		}
		for l := range k.lines { // drain
			check(l)
		}
		err := k.cmd.Wait()
		if killed {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != -1 {
				// The process ended before the signal arrived.
				killed = false
			}
		}
		after := checkpointEpochs(t, dir)
		if after < done {
			t.Fatalf("start %d: the checkpoint went back from %d to %d epochs", i+1, done, after)
		}
		if firstEpoch > 1 {
			resumedAt = append(resumedAt, firstEpoch)
		}
		t.Logf("start %d: kill %-16s killed=%v, epochs checkpointed %d -> %d, first epoch trained %d", i+1, kind, killed, done, after, firstEpoch)
		if killed {
			hit[kind]++
			// Whatever results.json holds after a kill is whole JSON.
			if b, err := os.ReadFile(filepath.Join(dir, "results.json")); err == nil {
				var r resultsJSON
				if err := json.Unmarshal(b, &r); err != nil {
					t.Errorf("start %d: results.json after the kill is not valid JSON: %v", i+1, err)
				}
			}
			continue
		}
		if err != nil {
			t.Fatalf("start %d (%s): %v\n%s", i+1, kind, err, k.output())
		}
		if kind != "none" {
			t.Logf("start %d finished before its %s kill point", i+1, kind)
		}
		break
	}
	if hit["mid-epoch"] == 0 || hit["checkpoint-write"]+hit["after-checkpoint"] == 0 {
		t.Errorf("too few kills landed (%v)", hit)
	}
	if len(resumedAt) == 0 {
		t.Error("no start resumed from a checkpoint")
	}

	got, gotResumed := comparableResults(t, dir)
	if got["status"] != "completed" {
		t.Fatalf("the interrupted run did not complete: status %v", got["status"])
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("results of the interrupted run differ from the uninterrupted one\ninterrupted:\n%s\nuninterrupted:\n%s", gb, wb)
	}
	for _, e := range gotResumed {
		found := false
		for _, r := range resumedAt {
			found = found || r == e
		}
		if !found {
			t.Errorf("results.json lists a resume at epoch %d; the starts resumed at %v", e, resumedAt)
		}
	}
	t.Logf("test accuracy %v in both; resumed at %v (results.json: %v); kills %v; stray temporary checkpoints: %d",
		got["test_accuracy"], resumedAt, gotResumed, hit, len(tempCheckpoints(t, dir)))
}

// tempCheckpoints lists the temporary files of checkpoint writes in dir.
func tempCheckpoints(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".checkpoint.bin.tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}
