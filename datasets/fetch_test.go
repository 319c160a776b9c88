package datasets_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/internal/loopback"
)

// mirrorServer serves the real MNIST files on 127.0.0.1 under several
// mirrors:
//
//	/good/    the real .gz files
//	/raw/     their uncompressed content (still under the .gz names)
//	/bad/     the real files, except train-labels with its first label changed
//	/missing/ 404 for everything
type mirrorServer struct {
	*loopback.Server
	// badSHA is the SHA-256 of the uncompressed train labels served by /bad/.
	badSHA string
}

func newMirrorServer(t *testing.T) *mirrorServer {
	src := sharedDir(t, "mnist")
	files := map[string][]byte{}
	var rawLabels []byte
	for _, f := range []string{datasets.TrainImagesFile, datasets.TrainLabelsFile, datasets.TestImagesFile, datasets.TestLabelsFile} {
		gz, err := os.ReadFile(filepath.Join(src, f+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		raw := gunzipFile(t, filepath.Join(src, f+".gz"))
		files["/good/"+f+".gz"] = gz
		files["/bad/"+f+".gz"] = gz
		files["/raw/"+f+".gz"] = raw
		if f == datasets.TrainLabelsFile {
			rawLabels = raw
		}
	}
	badLabels := bytes.Clone(rawLabels)
	badLabels[8] = 3 // was 5
	files["/bad/"+datasets.TrainLabelsFile+".gz"] = gzipBytes(t, badLabels)
	sum := sha256.Sum256(badLabels)
	return &mirrorServer{Server: loopback.New(t, files), badSHA: hex.EncodeToString(sum[:])}
}

// count returns the requests made to a mirror.
func (m *mirrorServer) count(mirror string) int { return m.HitsUnder("/" + mirror + "/") }

func (m *mirrorServer) opts(mirrors ...string) datasets.FetchOptions {
	var urls []string
	for _, mi := range mirrors {
		urls = append(urls, m.URL+"/"+mi+"/")
	}
	return datasets.FetchOptions{Client: m.Client(), Mirrors: urls}
}

// checkSameAsShared loads dir and compares it with the real MNIST.
func checkSameAsShared(t *testing.T, dir string) {
	t.Helper()
	train, test, err := datasets.Load("mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	wantTrain, wantTest := loadShared(t, "mnist")
	if !bytes.Equal(train.Images, wantTrain.Images) || !bytes.Equal(train.Labels, wantTrain.Labels) ||
		!bytes.Equal(test.Images, wantTest.Images) || !bytes.Equal(test.Labels, wantTest.Labels) {
		t.Errorf("fetched data differs from the real MNIST")
	}
}

// listDir returns the names of the files in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFetchFallback fetches through a mirror that answers 404 and then a
// good one; fetching again downloads nothing; a damaged cached file is
// downloaded again.
func TestFetchFallback(t *testing.T) {
	m := newMirrorServer(t)
	cache := t.TempDir()
	var logs []string
	opts := m.opts("missing", "good")
	opts.Logf = func(format string, args ...any) { logs = append(logs, format) }
	dir, err := datasets.FetchWithOptions(t.Context(), "mnist", cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(cache, "mnist") {
		t.Errorf("dir = %s, want %s", dir, filepath.Join(cache, "mnist"))
	}
	if m.count("missing") != 4 || m.count("good") != 4 {
		t.Errorf("requests: missing %d, good %d; want 4, 4", m.count("missing"), m.count("good"))
	}
	want := []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}
	if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cache holds %v, want %v", got, want)
	}
	checkSameAsShared(t, dir)
	if len(logs) == 0 {
		t.Errorf("no progress messages")
	}

	// Already there and verified: no request.
	if _, err := datasets.FetchWithOptions(t.Context(), "mnist", cache, opts); err != nil {
		t.Fatal(err)
	}
	if m.count("missing") != 4 || m.count("good") != 4 {
		t.Errorf("second Fetch made requests: missing %d, good %d", m.count("missing"), m.count("good"))
	}

	// A damaged file (here: another file's content) is replaced.
	labels := filepath.Join(dir, datasets.TrainLabelsFile+".gz")
	other, err := os.ReadFile(filepath.Join(dir, datasets.TestLabelsFile+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(labels, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.FetchWithOptions(t.Context(), "mnist", cache, opts); err != nil {
		t.Fatal(err)
	}
	if m.count("good") != 5 {
		t.Errorf("requests to good after damage: %d, want 5", m.count("good"))
	}
	checkSameAsShared(t, dir)
}

// TestFetchChecksumMismatch fetches from a mirror whose train labels are
// wrong: the error names the file, the expected and the actual checksum, and
// nothing wrong is left in the cache.
func TestFetchChecksumMismatch(t *testing.T) {
	m := newMirrorServer(t)
	cache := t.TempDir()
	dir, err := datasets.FetchWithOptions(t.Context(), "mnist", cache, m.opts("bad"))
	if err == nil {
		t.Fatalf("Fetch from a bad mirror succeeded into %s", dir)
	}
	const wantSHA = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
	checkFileError(t, err, datasets.ErrChecksum, m.URL+"/bad/train-labels-idx1-ubyte.gz",
		"SHA-256 of uncompressed train-labels-idx1-ubyte is "+m.badSHA, "want "+wantSHA)
	if !errors.Is(err, datasets.ErrCorrupt) {
		t.Errorf("checksum error does not match ErrCorrupt")
	}
	t.Log(err)
	// The images downloaded before the bad labels stay; no labels and no
	// temporary file are left.
	got := listDir(t, filepath.Join(cache, "mnist"))
	if strings.Join(got, " ") != "train-images-idx3-ubyte.gz" {
		t.Errorf("cache holds %v, want only the train images", got)
	}

	// With the good mirror as fallback, the fetch succeeds.
	dir, err = datasets.FetchWithOptions(t.Context(), "mnist", cache, m.opts("bad", "good"))
	if err != nil {
		t.Fatal(err)
	}
	checkSameAsShared(t, dir)
}

// TestFetchRawMirror fetches from a mirror that sends uncompressed data:
// it is verified the same way and stored under the raw names.
func TestFetchRawMirror(t *testing.T) {
	m := newMirrorServer(t)
	dir, err := datasets.FetchWithOptions(t.Context(), "mnist", t.TempDir(), m.opts("raw"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{datasets.TestImagesFile, datasets.TestLabelsFile, datasets.TrainImagesFile, datasets.TrainLabelsFile}
	if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cache holds %v, want %v", got, want)
	}
	checkSameAsShared(t, dir)
}

func TestFetchAllMissing(t *testing.T) {
	m := newMirrorServer(t)
	_, err := datasets.FetchWithOptions(t.Context(), "fashion-mnist", t.TempDir(), m.opts("missing", "missing2"))
	if !errors.Is(err, datasets.ErrNotFound) || !strings.Contains(err.Error(), "all 2 mirrors failed") ||
		!strings.Contains(err.Error(), m.URL+"/missing2/train-images-idx3-ubyte.gz: HTTP 404") {
		t.Errorf("got %v, want ErrNotFound naming both mirrors", err)
	}
}

func TestFetchCanceled(t *testing.T) {
	m := newMirrorServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := datasets.FetchWithOptions(ctx, "mnist", t.TempDir(), m.opts("good"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if m.count("good") != 0 {
		t.Errorf("canceled Fetch made %d requests", m.count("good"))
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("BINNET_DATA", "/some/where")
	if d, err := datasets.DefaultCacheDir(); err != nil || d != "/some/where" {
		t.Errorf("with BINNET_DATA: %q, %v", d, err)
	}
	t.Setenv("BINNET_DATA", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if d, err := datasets.DefaultCacheDir(); err != nil || filepath.Base(d) != "binnet" {
		t.Errorf("without BINNET_DATA: %q, %v", d, err)
	}
}

func TestMirrors(t *testing.T) {
	if got := datasets.Mirrors("mnist"); len(got) != 2 || got[0] != "https://ossci-datasets.s3.amazonaws.com/mnist/" {
		t.Errorf("Mirrors(mnist) = %v", got)
	}
	if got := datasets.Mirrors("fashion-mnist"); len(got) != 1 || !strings.HasPrefix(got[0], "http://fashion-mnist.s3-website") {
		t.Errorf("Mirrors(fashion-mnist) = %v", got)
	}
	_, err := datasets.Fetch(t.Context(), "nope", t.TempDir())
	if !errors.Is(err, datasets.ErrUnknownDataset) {
		t.Errorf("Fetch(nope): %v", err)
	}
}
