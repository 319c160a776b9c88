package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// fileSum is the SHA-256 and size of the uncompressed content of one file.
type fileSum struct {
	sha256 string
	size   int64
}

// checksums of the uncompressed files, so that a mirror's own gzip
// compression does not matter.
var checksums = map[string]map[string]fileSum{
	"mnist": {
		TrainImagesFile: {"ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016},
		TrainLabelsFile: {"65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008},
		TestImagesFile:  {"0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016},
		TestLabelsFile:  {"ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008},
	},
	"fashion-mnist": {
		TrainImagesFile: {"c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016},
		TrainLabelsFile: {"bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008},
		TestImagesFile:  {"5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016},
		TestLabelsFile:  {"0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008},
	},
}

var defaultMirrors = map[string][]string{
	"mnist": {
		"https://ossci-datasets.s3.amazonaws.com/mnist/",
		"https://storage.googleapis.com/cvdf-datasets/mnist/",
	},
	"fashion-mnist": {
		"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
	},
}

// Mirrors returns the default base URLs that [Fetch] tries, in order, for the
// named data set; a file's URL is the base URL followed by its standard name
// and ".gz".
func Mirrors(name string) []string {
	return append([]string(nil), defaultMirrors[name]...)
}

// DefaultCacheDir returns $BINNET_DATA if set, else the "binnet" folder in
// [os.UserCacheDir]. [Fetch] stores each data set in a sub-folder of it.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("BINNET_DATA"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("datasets: no cache directory (set BINNET_DATA): %w", err)
	}
	return filepath.Join(d, "binnet"), nil
}

// FetchOptions changes how [FetchWithOptions] downloads. The zero value gives
// the behaviour of [Fetch].
type FetchOptions struct {
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// Mirrors are the base URLs tried in order for each file; nil means
	// Mirrors(name).
	Mirrors []string
	// Logf, if not nil, is called with progress messages.
	Logf func(format string, args ...any)
}

// maxDownload bounds the bytes accepted for one file from a mirror.
const maxDownload = 256 << 20

// Fetch makes sure the four IDX files of the named data set ("mnist" or
// "fashion-mnist") are in cacheDir/<name>/ and returns that directory, ready
// for [Load]. cacheDir "" means [DefaultCacheDir]().
//
// A file already there is kept if the SHA-256 of its uncompressed content is
// the known one; otherwise it is downloaded (as <file>.gz) from each mirror
// in turn until one gives the right content. Downloads are written to a
// temporary file, synced, verified and then renamed into place, so an
// interrupted Fetch never leaves a partial file under the final name. When
// all mirrors fail for a file the error holds each mirror's error; a
// mirror's wrong content gives one matching [ErrChecksum] that names the URL,
// the expected and the actual checksum.
func Fetch(ctx context.Context, name, cacheDir string) (dir string, err error) {
	return FetchWithOptions(ctx, name, cacheDir, FetchOptions{})
}

// FetchWithOptions is [Fetch] with a choice of HTTP client and mirrors.
func FetchWithOptions(ctx context.Context, name, cacheDir string, opts FetchOptions) (dir string, err error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	if opts.Mirrors == nil {
		opts.Mirrors = defaultMirrors[name]
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	dir = filepath.Join(cacheDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("datasets: %w", err)
	}
	for _, base := range fileNames {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if err := fetchFile(ctx, dir, base, checksums[name][base], opts); err != nil {
			return "", fmt.Errorf("datasets: fetching %s into %s: %w", name, dir, err)
		}
	}
	return dir, nil
}

// fetchFile makes sure dir holds a verified copy of base.
func fetchFile(ctx context.Context, dir, base string, want fileSum, opts FetchOptions) error {
	var stale []string // existing copies that failed verification
	for _, c := range candidates(base) {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		err := verify(p, base, want)
		if err == nil {
			return nil
		}
		opts.Logf("%v; downloading it again", err) // err names the package and the file
		stale = append(stale, p)
	}
	var errs []error
	for _, m := range opts.Mirrors {
		if err := ctx.Err(); err != nil {
			return err
		}
		url := m + base + ".gz"
		opts.Logf("datasets: downloading %s", url)
		final, err := download(ctx, opts.Client, url, dir, base, want)
		if err != nil {
			opts.Logf("%v", err)
			errs = append(errs, err)
			continue
		}
		for _, p := range stale {
			if p != final {
				os.Remove(p)
			}
		}
		return nil
	}
	if len(errs) == 0 {
		return &FileError{Path: base + ".gz", Kind: ErrNotFound, Msg: "no mirror to download from"}
	}
	return fmt.Errorf("%s.gz: all %d mirrors failed: %w", base, len(errs), errors.Join(errs...))
}

// download gets url into a temporary file in dir, verifies it and renames it
// to base.gz (or base, if the mirror sent uncompressed data). It returns the
// final path.
func download(ctx context.Context, client *http.Client, url, dir, base string, want fileSum) (final string, err error) {
	tmp, _, err := DownloadToTemp(ctx, client, url, dir, "."+base+".*.tmp", maxDownload, nil)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	gz, err := verifyFile(tmp, url, base, want)
	if err != nil {
		return "", err
	}
	final = filepath.Join(dir, base)
	if gz {
		final += ".gz"
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("datasets: %w", err)
	}
	syncDir(dir)
	return final, nil
}

// DownloadToTemp gets url into a new temporary file in dir (named by
// os.CreateTemp's pattern), accepting at most limit bytes, and also writes
// the bytes to tee (a hash, say) when tee is not nil. It returns the synced,
// closed temporary file's path and its size; on error nothing is left
// behind. Errors are *FileError values naming url: ErrNotFound for an HTTP
// 404, ErrCorrupt for a body larger than limit.
func DownloadToTemp(ctx context.Context, client *http.Client, url, dir, pattern string, limit int64, tee io.Writer) (path string, n int64, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, &FileError{Path: url, Msg: "bad URL", Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, &FileError{Path: url, Msg: "download failed", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fe := &FileError{Path: url, Msg: "HTTP " + resp.Status}
		if resp.StatusCode == http.StatusNotFound {
			fe.Kind = ErrNotFound
		}
		return "", 0, fe
	}
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", 0, fmt.Errorf("datasets: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if tee != nil {
		w = io.MultiWriter(tmp, tee)
	}
	n, err = io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", n, &FileError{Path: url, Msg: fmt.Sprintf("download failed after %d bytes", n), Err: err}
	}
	if n > limit {
		return "", n, &FileError{Path: url, Kind: ErrCorrupt, Msg: fmt.Sprintf("download larger than %d bytes", limit)}
	}
	if err = tmp.Sync(); err != nil {
		return "", n, fmt.Errorf("datasets: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", n, fmt.Errorf("datasets: %w", err)
	}
	return tmp.Name(), n, nil
}

// verify checks the uncompressed content of the file at path.
func verify(path, base string, want fileSum) error {
	_, err := verifyFile(path, path, base, want)
	return err
}

// verifyFile checks that the uncompressed content of the file at path has
// the size and SHA-256 of want, naming it display in errors, and reports
// whether it is gzip-compressed.
func verifyFile(path, display, base string, want fileSum) (gz bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, &FileError{Path: display, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	r, gz, err := maybeGunzip(f, display)
	if err != nil {
		return gz, err
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, want.size+1))
	if err != nil {
		if e := streamError(display, err); e != nil {
			return gz, e
		}
		return gz, &FileError{Path: display, Kind: ErrCorrupt, Msg: fmt.Sprintf("truncated gzip stream after %d bytes", n), Err: err}
	}
	if n != want.size {
		size := fmt.Sprint(n)
		if n > want.size {
			size = fmt.Sprint("more than ", want.size)
		}
		return gz, &FileError{Path: display, Kind: ErrChecksum,
			Msg: fmt.Sprintf("uncompressed %s has %s bytes, want %d", base, size, want.size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.sha256 {
		return gz, &FileError{Path: display, Kind: ErrChecksum,
			Msg: fmt.Sprintf("SHA-256 of uncompressed %s is %s, want %s", base, got, want.sha256)}
	}
	if gz {
		// Read to the end so the gzip reader checks its CRC and trailer.
		if _, err := io.Copy(io.Discard, r); err != nil {
			if e := streamError(display, err); e != nil {
				return gz, e
			}
			return gz, &FileError{Path: display, Kind: ErrCorrupt, Msg: "truncated gzip stream", Err: err}
		}
	}
	return gz, nil
}

// syncDir flushes a directory's entries (after a rename) where the system
// supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
