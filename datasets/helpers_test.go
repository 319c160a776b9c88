package datasets_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/binnet/binnet/datasets"
)

// sharedRoot is where the real data sets are, relative to this package's
// directory (the repository's ../shared/datasets).
const sharedRoot = "../../shared/datasets"

// sharedDir returns the folder of a real data set, in sharedRoot or in
// $BINNET_TEST_DATASETS when set (a clone elsewhere than beside shared/),
// or skips the test when it is absent.
func sharedDir(t testing.TB, name string) string {
	t.Helper()
	root := sharedRoot
	if env := os.Getenv("BINNET_TEST_DATASETS"); env != "" {
		root = env
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, datasets.TrainImagesFile+".gz")); err != nil {
		t.Skipf("real %s data not available in %s: %v", name, dir, err)
	}
	return dir
}

type loaded struct {
	train, test *datasets.Set
	err         error
}

var (
	loadMu    sync.Mutex
	loadCache = map[string]*loaded{}
)

// loadShared loads a real data set once per test binary (skipping when it is
// absent). Callers must not modify the sets.
func loadShared(t testing.TB, name string) (train, test *datasets.Set) {
	t.Helper()
	dir := sharedDir(t, name)
	loadMu.Lock()
	defer loadMu.Unlock()
	l, ok := loadCache[name]
	if !ok {
		l = &loaded{}
		l.train, l.test, l.err = datasets.Load(name, dir)
		loadCache[name] = l
	}
	if l.err != nil {
		t.Fatalf("Load(%q, %q): %v", name, dir, l.err)
	}
	return l.train, l.test
}

// gunzipFile returns the uncompressed content of a gzip file.
func gunzipFile(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// idxImages encodes images in the IDX3 format; pixel p of image i is
// byte(i*7+p).
func idxImages(n, rows, cols int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, d := range []int{n, rows, cols} {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	for i := range n {
		for p := range rows * cols {
			b = append(b, byte(i*7+p))
		}
	}
	return b
}

// idxLabels encodes labels in the IDX1 format.
func idxLabels(labels ...uint8) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000801)
	b = binary.BigEndian.AppendUint32(b, uint32(len(labels)))
	return append(b, labels...)
}

// smallFiles returns the content of a valid small data set: 3 training and 2
// test images of 28x28.
func smallFiles() map[string][]byte {
	return map[string][]byte{
		datasets.TrainImagesFile: idxImages(3, 28, 28),
		datasets.TrainLabelsFile: idxLabels(1, 2, 3),
		datasets.TestImagesFile:  idxImages(2, 28, 28),
		datasets.TestLabelsFile:  idxLabels(4, 5),
	}
}

// writeFiles writes files into a new temporary directory and returns it.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkFileError checks that err matches kind and is a *FileError naming
// path, with a message containing path and every one of want.
func checkFileError(t testing.TB, err error, kind error, path string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one matching %v naming %s", kind, path)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", err, kind)
	}
	var fe *datasets.FileError
	if !errors.As(err, &fe) {
		t.Errorf("error %q is not a *FileError", err)
	} else if fe.Path != path {
		t.Errorf("FileError.Path = %q, want %q", fe.Path, path)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) {
		t.Errorf("error %q does not name %s", msg, path)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
}
