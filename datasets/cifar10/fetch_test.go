package cifar10_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/datasets/internal/loopback"
)

// member is one entry of a test archive.
type member struct {
	name     string
	data     []byte
	typeflag byte // tar.TypeReg if 0
	linkname string
}

// buildArchive returns a tar.gz holding members.
func buildArchive(t *testing.T, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: m.typeflag, Linkname: m.linkname}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// fixture is a small CIFAR-10 archive made of real MNIST digits: 10
// examples per batch file.
type fixture struct {
	set     *cifar10.Set // the 60 examples: 50 training, then 10 test
	members []member     // the archive's members, in the layout of the real one
	archive []byte
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{set: mnistAsCIFAR(t, 60)}
	f.members = []member{{name: cifar10.DirName + "/", typeflag: tar.TypeDir}}
	for i, name := range append(cifar10.TrainFiles(), cifar10.TestFile) {
		f.members = append(f.members, member{name: cifar10.DirName + "/" + name, data: encode(t, f.set.Slice(i*10, (i+1)*10))})
	}
	f.members = append(f.members,
		member{name: cifar10.DirName + "/" + cifar10.MetaFile, data: []byte(strings.Join(cifar10.ClassNames(), "\n") + "\n")},
		member{name: cifar10.DirName + "/readme.html", data: []byte("<html></html>\n")},
		member{name: cifar10.DirName + "/extra.txt", data: []byte("not extracted\n")},
		member{name: "elsewhere/data_batch_1.bin", data: []byte("not extracted\n")},
	)
	f.archive = buildArchive(t, f.members)
	return f
}

// with returns the members with the one named name replaced by m (or
// removed if m.name is ""), plus extra.
func (f *fixture) with(name string, m member, extra ...member) []member {
	var out []member
	for _, o := range f.members {
		if o.name == cifar10.DirName+"/"+name {
			if m.name != "" {
				out = append(out, m)
			}
			continue
		}
		out = append(out, o)
	}
	return append(out, extra...)
}

// server serves archives by path on 127.0.0.1 and counts requests.
type server struct{ *loopback.Server }

func newServer(t *testing.T, files map[string][]byte) *server {
	return &server{loopback.New(t, files)}
}

func (s *server) count(path string) int { return s.Hits(path) }

func (s *server) opts(md5sum string, paths ...string) cifar10.FetchOptions {
	var urls []string
	for _, p := range paths {
		urls = append(urls, s.URL+p)
	}
	return cifar10.FetchOptions{Client: s.Client(), URLs: urls, MD5: md5sum}
}

// checkFetched loads dir and compares it with the fixture.
func (f *fixture) checkFetched(t *testing.T, dir string) {
	t.Helper()
	train, test, err := cifar10.LoadWithOptions(dir, cifar10.LoadOptions{AnyCount: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(train, f.set.Slice(0, 50)) || !sameSet(test, f.set.Slice(50, 60)) {
		t.Errorf("fetched data differs from the archive's")
	}
}

func TestFetch(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, map[string][]byte{"/good.tar.gz": f.archive})
	cache := t.TempDir()
	var logs []string
	opts := srv.opts(md5Hex(f.archive), "/missing.tar.gz", "/good.tar.gz")
	opts.Logf = func(format string, args ...any) { logs = append(logs, format) }
	dir, err := cifar10.FetchWithOptions(t.Context(), cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "cifar10", cifar10.DirName); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	if srv.count("/missing.tar.gz") != 1 || srv.count("/good.tar.gz") != 1 {
		t.Errorf("requests: %d for /missing.tar.gz, %d for /good.tar.gz; want 1 each", srv.count("/missing.tar.gz"), srv.count("/good.tar.gz"))
	}
	want := []string{"batches.meta.txt", "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
		"data_batch_4.bin", "data_batch_5.bin", "readme.html", "test_batch.bin"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("folder holds %v, want %v", got, want)
	}
	// No archive and no temporary file is left.
	if got := listDir(t, filepath.Join(cache, "cifar10")); !slices.Equal(got, []string{cifar10.DirName}) {
		t.Errorf("cache holds %v", got)
	}
	meta, err := os.ReadFile(filepath.Join(dir, cifar10.MetaFile))
	if err != nil || !strings.HasPrefix(string(meta), "airplane\nautomobile\n") {
		t.Errorf("batches.meta.txt: %q, %v", meta, err)
	}
	f.checkFetched(t, dir)
	if len(logs) == 0 {
		t.Errorf("no progress messages")
	}

	// Already there: no request.
	if _, err := cifar10.FetchWithOptions(t.Context(), cache, opts); err != nil {
		t.Fatal(err)
	}
	if srv.count("/good.tar.gz") != 1 {
		t.Errorf("second Fetch downloaded again")
	}

	// An incomplete folder is replaced.
	if err := os.Remove(filepath.Join(dir, cifar10.TestFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := cifar10.FetchWithOptions(t.Context(), cache, opts); err != nil {
		t.Fatal(err)
	}
	if srv.count("/good.tar.gz") != 2 {
		t.Errorf("incomplete folder not fetched again")
	}
	f.checkFetched(t, dir)
	if got := listDir(t, filepath.Join(cache, "cifar10")); !slices.Equal(got, []string{cifar10.DirName}) {
		t.Errorf("cache holds %v after replacing the folder", got)
	}
}

// TestFetchChecksumMismatch serves a damaged archive: the error names the
// URL, the expected and the actual MD5, and nothing is left in the cache.
func TestFetchChecksumMismatch(t *testing.T) {
	f := newFixture(t)
	bad := bytes.Clone(f.archive)
	bad[len(bad)/2] ^= 0x40
	srv := newServer(t, map[string][]byte{"/bad.tar.gz": bad, "/good.tar.gz": f.archive})
	cache := t.TempDir()
	want := md5Hex(f.archive)
	_, err := cifar10.FetchWithOptions(t.Context(), cache, srv.opts(want, "/bad.tar.gz"))
	checkFileError(t, err, datasets.ErrChecksum, srv.URL+"/bad.tar.gz",
		"MD5 of the "+strconv.Itoa(len(bad))+" bytes downloaded is "+md5Hex(bad), "want "+want)
	if !errors.Is(err, datasets.ErrCorrupt) {
		t.Errorf("checksum error does not match ErrCorrupt")
	}
	t.Log(err)
	if got := listDir(t, filepath.Join(cache, "cifar10")); len(got) != 0 {
		t.Errorf("cache holds %v after a bad download", got)
	}

	// The default checksum is the real archive's.
	_, err = cifar10.FetchWithOptions(t.Context(), cache, srv.opts("", "/good.tar.gz"))
	checkFileError(t, err, datasets.ErrChecksum, srv.URL+"/good.tar.gz", "want c32a1d4ab5d03f1284b67883e8d87530")
	if cifar10.ArchiveMD5 != "c32a1d4ab5d03f1284b67883e8d87530" || cifar10.ArchiveURL != "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" {
		t.Errorf("ArchiveMD5 %s, ArchiveURL %s", cifar10.ArchiveMD5, cifar10.ArchiveURL)
	}

	// With a good URL after the bad one, Fetch succeeds (an upper-case
	// checksum is fine).
	dir, err := cifar10.FetchWithOptions(t.Context(), cache, srv.opts(strings.ToUpper(want), "/bad.tar.gz", "/good.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	f.checkFetched(t, dir)
}

// TestFetchBadArchives serves archives with the right MD5 but unsafe or
// wrong members: each is rejected, and nothing is written outside the
// cache or left in it.
func TestFetchBadArchives(t *testing.T) {
	f := newFixture(t)
	one := f.members[1].data
	for _, tc := range []struct {
		name    string
		members []member
		want    string
	}{
		{"traversal", f.with("", member{}, member{name: "../evil.bin", data: one}), `member "../evil.bin" has an unsafe path`},
		{"nested traversal", f.with("", member{}, member{name: cifar10.DirName + "/../../evil.bin", data: one}), "has an unsafe path"},
		{"absolute", f.with("", member{}, member{name: "/tmp/evil.bin", data: one}), `member "/tmp/evil.bin" has an unsafe path`},
		{"symlink", f.with("data_batch_2.bin", member{name: cifar10.DirName + "/data_batch_2.bin", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}),
			"member cifar-10-batches-bin/data_batch_2.bin is not a regular file"},
		{"missing", f.with(cifar10.TestFile, member{}), "has no member cifar-10-batches-bin/test_batch.bin"},
		{"twice", f.with("", member{}, member{name: "./" + cifar10.DirName + "/data_batch_1.bin", data: one}),
			"member ./cifar-10-batches-bin/data_batch_1.bin appears twice"},
		{"size", f.with("data_batch_3.bin", member{name: cifar10.DirName + "/data_batch_3.bin", data: one[:2*3073+1]}),
			"member cifar-10-batches-bin/data_batch_3.bin has 6147 bytes, want a multiple of 3073"},
		{"big meta", f.with(cifar10.MetaFile, member{name: cifar10.DirName + "/" + cifar10.MetaFile, data: make([]byte, 1<<20+1)}),
			"batches.meta.txt has 1048577 bytes, want at most 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := buildArchive(t, tc.members)
			srv := newServer(t, map[string][]byte{"/a.tar.gz": archive})
			parent := t.TempDir()
			cache := filepath.Join(parent, "cache")
			_, err := cifar10.FetchWithOptions(t.Context(), cache, srv.opts(md5Hex(archive), "/a.tar.gz"))
			checkFileError(t, err, datasets.ErrCorrupt, srv.URL+"/a.tar.gz", tc.want)
			if got := listDir(t, parent); !slices.Equal(got, []string{"cache"}) {
				t.Errorf("parent of the cache holds %v", got)
			}
			if got := listDir(t, filepath.Join(cache, "cifar10")); len(got) != 0 {
				t.Errorf("cache holds %v", got)
			}
		})
	}

	// Not gzip at all.
	srv := newServer(t, map[string][]byte{"/a.tar.gz": []byte("<html>moved</html>")})
	_, err := cifar10.FetchWithOptions(t.Context(), t.TempDir(), srv.opts(md5Hex([]byte("<html>moved</html>")), "/a.tar.gz"))
	checkFileError(t, err, datasets.ErrCorrupt, srv.URL+"/a.tar.gz", "not a gzip stream")
}

// TestFetchLocalArchive uses an archive copied into the cache by hand, and
// ignores a wrong one.
func TestFetchLocalArchive(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, map[string][]byte{"/good.tar.gz": f.archive})
	cache := t.TempDir()
	root := filepath.Join(cache, "cifar10")
	os.MkdirAll(root, 0o755)
	local := filepath.Join(root, cifar10.ArchiveName)
	if err := os.WriteFile(local, f.archive, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := srv.opts(md5Hex(f.archive), "/good.tar.gz")
	dir, err := cifar10.FetchWithOptions(t.Context(), cache, opts)
	if err != nil {
		t.Fatal(err)
	}
	if srv.count("/good.tar.gz") != 0 {
		t.Errorf("downloaded although the archive was in the cache")
	}
	f.checkFetched(t, dir)
	if got := listDir(t, root); !slices.Equal(got, []string{cifar10.DirName, cifar10.ArchiveName}) {
		t.Errorf("cache holds %v, want the archive kept", got)
	}

	// A damaged local archive is not used (nor removed).
	os.RemoveAll(dir)
	if err := os.WriteFile(local, f.archive[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if dir, err = cifar10.FetchWithOptions(t.Context(), cache, opts); err != nil {
		t.Fatal(err)
	}
	if srv.count("/good.tar.gz") != 1 {
		t.Errorf("damaged local archive: %d downloads, want 1", srv.count("/good.tar.gz"))
	}
	f.checkFetched(t, dir)
}

func TestFetchAllMissing(t *testing.T) {
	srv := newServer(t, nil)
	_, err := cifar10.FetchWithOptions(t.Context(), t.TempDir(), srv.opts("", "/a", "/b"))
	if !errors.Is(err, datasets.ErrNotFound) || !strings.Contains(err.Error(), "all 2 URLs failed") ||
		!strings.Contains(err.Error(), srv.URL+"/b: HTTP 404") {
		t.Errorf("got %v, want ErrNotFound naming both URLs", err)
	}
	_, err = cifar10.FetchWithOptions(t.Context(), t.TempDir(), srv.opts("", "/a"))
	checkFileError(t, err, datasets.ErrNotFound, srv.URL+"/a", "HTTP 404")
}

func TestFetchCanceled(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, map[string][]byte{"/good.tar.gz": f.archive})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := cifar10.FetchWithOptions(ctx, t.TempDir(), srv.opts(md5Hex(f.archive), "/good.tar.gz"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if srv.count("/good.tar.gz") != 0 {
		t.Errorf("canceled Fetch made a request")
	}
}

// listDir returns the names of the entries of dir, sorted.
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
