package cifar10

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/binnet/binnet/datasets"
)

// The archive of the binary version, as published by its authors on
// https://www.cs.toronto.edu/~kriz/cifar.html with its MD5 sum.
const (
	ArchiveURL  = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	ArchiveName = "cifar-10-binary.tar.gz"
	ArchiveMD5  = "c32a1d4ab5d03f1284b67883e8d87530"
)

// FetchOptions changes how [FetchWithOptions] downloads. The zero value
// gives the behaviour of [Fetch].
type FetchOptions struct {
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// URLs are the addresses of the archive, tried in order; nil means
	// {ArchiveURL}.
	URLs []string
	// MD5 is the hex MD5 sum the archive must have; "" means ArchiveMD5.
	MD5 string
	// Logf, if not nil, is called with progress messages.
	Logf func(format string, args ...any)
}

const (
	// maxDownload bounds the bytes accepted for the archive (162 MiB).
	maxDownload = 256 << 20
	// maxTextFile bounds the size of batches.meta.txt and readme.html in
	// the archive.
	maxTextFile = 1 << 20
)

// extracted lists the members of the archive that are extracted (all
// others are skipped), and whether each must be there.
var extracted = map[string]bool{
	"data_batch_1.bin": true, "data_batch_2.bin": true, "data_batch_3.bin": true,
	"data_batch_4.bin": true, "data_batch_5.bin": true, TestFile: true,
	MetaFile: false, "readme.html": false,
}

// Fetch makes sure CIFAR-10 is unpacked in cacheDir/cifar10/cifar-10-batches-bin
// and returns that folder, ready for [Load]. cacheDir "" means
// [datasets.DefaultCacheDir]().
//
// If the folder is already there with its six batch files, Fetch does
// nothing more. Otherwise it uses cacheDir/cifar10/cifar-10-binary.tar.gz if
// that file exists and has the MD5 sum ArchiveMD5 (so the archive can be
// copied there by hand on a machine without internet access), else
// downloads the archive from ArchiveURL into a temporary file, checks its
// MD5 sum and removes it after unpacking. Only the batch files,
// batches.meta.txt and readme.html are unpacked, into a temporary folder
// that is renamed into place when complete, so an interrupted Fetch never
// leaves a partial folder under the final name. A download with the wrong
// MD5 sum gives an error matching [datasets.ErrChecksum] that names the
// URL, the expected and the actual sum.
func Fetch(ctx context.Context, cacheDir string) (dir string, err error) {
	return FetchWithOptions(ctx, cacheDir, FetchOptions{})
}

// FetchWithOptions is [Fetch] with a choice of HTTP client, URLs and
// checksum.
func FetchWithOptions(ctx context.Context, cacheDir string, opts FetchOptions) (dir string, err error) {
	if cacheDir == "" {
		if cacheDir, err = datasets.DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.URLs == nil {
		opts.URLs = []string{ArchiveURL}
	}
	if opts.MD5 == "" {
		opts.MD5 = ArchiveMD5
	}
	opts.MD5 = strings.ToLower(opts.MD5)
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	root := filepath.Join(cacheDir, "cifar10")
	dir = filepath.Join(root, DirName)
	if complete(dir) {
		return dir, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("cifar10: %w", err)
	}

	archive, display := filepath.Join(root, ArchiveName), ""
	if _, err := os.Stat(archive); err == nil {
		if err := checkMD5(archive, archive, opts.MD5); err != nil {
			opts.Logf("cifar10: %v; downloading it instead", err)
		} else {
			display = archive
		}
	}
	if display == "" {
		archive, display, err = downloadAny(ctx, root, opts)
		if err != nil {
			return "", fmt.Errorf("cifar10: fetching CIFAR-10 into %s: %w", root, err)
		}
		defer os.Remove(archive)
	}
	opts.Logf("cifar10: unpacking %s", display)
	if err := unpack(ctx, archive, display, root, dir); err != nil {
		return "", fmt.Errorf("cifar10: fetching CIFAR-10 into %s: %w", root, err)
	}
	return dir, nil
}

// complete reports whether dir holds the six batch files, each a whole
// number of records, at most RecordsPerBatch.
func complete(dir string) bool {
	for _, f := range batchFiles() {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || !fi.Mode().IsRegular() || fi.Size()%RecordSize != 0 || fi.Size() > RecordsPerBatch*RecordSize {
			return false
		}
	}
	return true
}

// downloadAny downloads the archive from each URL in turn into a temporary
// file in dir until one has the right MD5 sum. It returns the file and the
// URL.
func downloadAny(ctx context.Context, dir string, opts FetchOptions) (file, url string, err error) {
	var errs []error
	for _, url := range opts.URLs {
		if err := ctx.Err(); err != nil {
			return "", "", err
		}
		opts.Logf("cifar10: downloading %s", url)
		file, err := download(ctx, opts.Client, url, dir, opts.MD5)
		if err == nil {
			return file, url, nil
		}
		opts.Logf("cifar10: %v", err)
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return "", "", &datasets.FileError{Path: ArchiveName, Kind: datasets.ErrNotFound, Msg: "no URL to download from"}
	}
	if len(errs) == 1 {
		return "", "", errs[0]
	}
	return "", "", fmt.Errorf("%s: all %d URLs failed: %w", ArchiveName, len(errs), errors.Join(errs...))
}

// download gets url into a temporary file in dir and checks its MD5 sum.
func download(ctx context.Context, client *http.Client, url, dir, wantMD5 string) (file string, err error) {
	h := md5.New()
	file, n, err := datasets.DownloadToTemp(ctx, client, url, dir, "."+ArchiveName+".*.tmp", maxDownload, h)
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantMD5 {
		os.Remove(file)
		return "", &datasets.FileError{Path: url, Kind: datasets.ErrChecksum,
			Msg: fmt.Sprintf("MD5 of the %d bytes downloaded is %s, want %s", n, got, wantMD5)}
	}
	return file, nil
}

// checkMD5 checks the MD5 sum of the file at path, naming it display.
func checkMD5(path, display, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return &datasets.FileError{Path: display, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return &datasets.FileError{Path: display, Msg: "read error", Err: err}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &datasets.FileError{Path: display, Kind: datasets.ErrChecksum, Msg: fmt.Sprintf("MD5 is %s, want %s", got, want)}
	}
	return nil
}

// unpack extracts the expected members of the archive file (named display
// in errors) into a temporary folder in root and renames it to dir.
func unpack(ctx context.Context, archive, display, root, dir string) (err error) {
	f, err := os.Open(archive)
	if err != nil {
		return &datasets.FileError{Path: display, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(root, "."+DirName+".*.tmp")
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := extract(ctx, f, display, tmp); err != nil {
		return err
	}
	// Replace an incomplete folder left by someone else, if any.
	if _, err := os.Lstat(dir); err == nil {
		old, err := os.MkdirTemp(root, "."+DirName+".*.old")
		if err != nil {
			return fmt.Errorf("cifar10: %w", err)
		}
		if err := os.Rename(dir, filepath.Join(old, DirName)); err != nil {
			os.Remove(old)
			return fmt.Errorf("cifar10: replacing the incomplete %s: %w", dir, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	syncDir(root)
	return nil
}

// extract writes the expected members of the tar.gz stream r (named
// display in errors) into dir. Member names must be relative paths without
// ".." elements; the expected members must be regular files of a plausible
// size and appear once; the batch files must all be there.
func extract(ctx context.Context, r io.Reader, display, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return &datasets.FileError{Path: display, Kind: datasets.ErrCorrupt, Msg: "not a gzip stream", Err: err}
	}
	tr := tar.NewReader(zr)
	found := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &datasets.FileError{Path: display, Kind: datasets.ErrCorrupt, Msg: "bad tar stream", Err: err}
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || hasDotDot(name) {
			return corrupt(display, "member %q has an unsafe path", hdr.Name)
		}
		clean := path.Clean(name)
		dirPart, base := path.Split(clean)
		if dirPart != DirName+"/" {
			continue // the folder itself, or something unexpected
		}
		required, ok := extracted[base]
		if !ok {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return corrupt(display, "member %s is not a regular file (type %q)", hdr.Name, hdr.Typeflag)
		}
		if found[base] {
			return corrupt(display, "member %s appears twice", hdr.Name)
		}
		found[base] = true
		if required {
			if hdr.Size%RecordSize != 0 || hdr.Size > RecordsPerBatch*RecordSize {
				return corrupt(display, "member %s has %d bytes, want a multiple of %d up to %d",
					hdr.Name, hdr.Size, RecordSize, RecordsPerBatch*RecordSize)
			}
		} else if hdr.Size > maxTextFile {
			return corrupt(display, "member %s has %d bytes, want at most %d", hdr.Name, hdr.Size, maxTextFile)
		}
		if err := writeMember(tr, hdr, display, filepath.Join(dir, base)); err != nil {
			return err
		}
	}
	for _, f := range batchFiles() {
		if !found[f] {
			return corrupt(display, "has no member %s/%s", DirName, f)
		}
	}
	// Read to the end so that gzip checks its CRC and length.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return &datasets.FileError{Path: display, Kind: datasets.ErrCorrupt, Msg: "bad gzip stream after the tar data", Err: err}
	}
	syncDir(dir)
	return nil
}

// hasDotDot reports whether the slash-separated name has a ".." element.
func hasDotDot(name string) bool {
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// writeMember copies the current member of tr (hdr.Size bytes) into a new
// file at dst.
func writeMember(tr *tar.Reader, hdr *tar.Header, display, dst string) (err error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cifar10: %w", cerr)
		}
	}()
	n, err := io.Copy(out, tr)
	if err != nil {
		return &datasets.FileError{Path: display, Kind: datasets.ErrCorrupt,
			Msg: fmt.Sprintf("member %s broke off after %d of %d bytes", hdr.Name, n, hdr.Size), Err: err}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("cifar10: %w", err)
	}
	return nil
}

// syncDir flushes a directory's entries (after a rename) where the system
// supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
