package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leftovers lists the temporary files WriteFile left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

// TestWriteFileReplaces: a new file, then a replacement, each with its
// content and permissions, and no temporary file left behind.
func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	for _, c := range []struct {
		data string
		perm os.FileMode
	}{{"first", 0o644}, {"second, longer than the first", 0o600}, {"", 0o640}} {
		if err := WriteFile(path, []byte(c.data), c.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != c.data {
			t.Fatalf("after writing %q: read %q, %v", c.data, got, err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != c.perm {
			t.Fatalf("after writing %q with %v: mode %v, %v", c.data, c.perm, st.Mode().Perm(), err)
		}
	}
	if tmp := leftovers(t, dir); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestWriteFileFailureKeepsOld: when the replacement cannot land (the
// path is a non-empty folder, which rename cannot replace) the error names
// the path, what was there is untouched and the temporary file is removed;
// a folder that does not exist is an error naming the path too.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("new"), 0o644)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("writing over a folder: error %v, want one naming %s", err, path)
	}
	if st, err := os.Stat(filepath.Join(path, "inside")); err != nil || !st.IsDir() {
		t.Errorf("the folder's content changed: %v", err)
	}
	if tmp := leftovers(t, dir); len(tmp) > 0 {
		t.Errorf("temporary files left after the failure: %v", tmp)
	}

	missing := filepath.Join(dir, "no-such-folder", "results.json")
	if err := WriteFile(missing, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("writing into a missing folder: error %v, want one naming %s", err, missing)
	}
}

// TestWriteFileToFolder: a path that is a folder is refused as one, where
// the rename failed with "file exists" after a temporary file was made
// beside it (in the folder's parent, which may not be writable).
func TestWriteFileToFolder(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, dir + "/"} {
		err := WriteFile(path, []byte("x"), 0o644)
		if want := "writing " + path + ": is a directory, not a file"; err == nil || err.Error() != want {
			t.Errorf("WriteFile(%s): %v, want %q", path, err, want)
		}
	}
	if tmp := leftovers(t, parent); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
