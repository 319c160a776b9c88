package datasets

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The standard file names of the four IDX files of MNIST and Fashion-MNIST,
// without the ".gz" suffix.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

var fileNames = [4]string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}

// Names lists the data sets known to [Load] and [Fetch].
var Names = []string{"mnist", "fashion-mnist"}

func checkName(name string) error {
	for _, n := range Names {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("%w %q: want one of %s", ErrUnknownDataset, name, strings.Join(Names, ", "))
}

// candidates returns the file names accepted for one standard file, in the
// order they are looked for: gzipped, raw, and the dotted variants
// ("train-images.idx3-ubyte") of both.
func candidates(base string) []string {
	dotted := strings.Replace(base, "-idx", ".idx", 1)
	return []string{base + ".gz", base, dotted + ".gz", dotted}
}

// Load reads the training and test sets of the named data set ("mnist" or
// "fashion-mnist") from dir, which must hold the four standard IDX files
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
// and t10k-labels-idx1-ubyte, each either gzip-compressed (with a ".gz"
// suffix) or raw, and also accepted with a dot before "idx"
// (train-images.idx3-ubyte). Compression is detected from the content, not
// the name. The sets are named name+"/train" and name+"/test".
//
// Besides the checks of [ReadImages] and [ReadLabels], Load checks that each
// images file has as many images as its labels file has labels and that
// training and test images have the same size, and that neither images
// file is empty (0 images). A missing file, or a directory where a file
// should be, gives an error matching [ErrNotFound]; bad content one matching
// [ErrCorrupt]. Errors name the file. Each Set's File is the display name
// of its images file.
//
// The labels files' content is hashed (SHA-256, as [Fetch] verifies it):
// when one is exactly the other known data set's file (Fashion-MNIST's
// labels loaded as "mnist", or the reverse), Load fails with a
// [*WrongDatasetError] naming both. Files that match neither, a user's own
// data in IDX format, are loaded.
func Load(name, dir string) (train, test *Set, err error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	if dir == "" {
		dir = "."
	}
	return loadFS(os.DirFS(dir), func(file string) string { return filepath.Join(dir, file) }, name)
}

//go:generate go run ./internal/gensample -src ../../shared/datasets/mnist -out sample -train 10000 -test 2000

//go:embed sample/*.gz
var sampleFS embed.FS

// SameData reports whether the data set names a and b (as -dataset takes
// them and runs record them, or set names such as "sample/train") name the
// same data: the same name, or "mnist" and "sample", Sample being a subset
// of MNIST. A ranking, or a model, made on one may be used on the other.
func SameData(a, b string) bool {
	family := func(name string) string {
		name, _, _ = strings.Cut(name, "/")
		if name == "sample" {
			return "mnist"
		}
		return name
	}
	return family(a) == family(b)
}

// Sample returns the MNIST sample embedded in this package: the first
// 10,000 training and the first 2,000 test examples of MNIST, as sets named
// "sample/train" and "sample/test". Each call returns new memory.
func Sample() (train, test *Set, err error) {
	sub, err := fs.Sub(sampleFS, "sample")
	if err != nil {
		return nil, nil, err
	}
	return loadFS(sub, func(file string) string { return "embedded sample/" + file }, "sample")
}

// loadFS loads the four files from fsys; display gives the name of a file in
// error messages.
func loadFS(fsys fs.FS, display func(string) string, name string) (train, test *Set, err error) {
	var paths [4]string
	for i, base := range fileNames {
		p, err := findFile(fsys, display, base)
		if err != nil {
			return nil, nil, err
		}
		paths[i] = p
	}
	var (
		wg         sync.WaitGroup
		errs       [4]error
		imgs       [2][]uint8
		rows, cols [2]int
		labels     [2][]uint8
		labelSums  [2][]byte // SHA-256 of the labels files' uncompressed content
	)
	for i := range 2 {
		wg.Go(func() {
			errs[2*i] = readFile(fsys, paths[2*i], display(paths[2*i]), func(r io.Reader, name string) (err error) {
				rows[i], cols[i], imgs[i], err = ReadImages(r, name)
				return err
			})
		})
		wg.Go(func() {
			errs[2*i+1] = readFile(fsys, paths[2*i+1], display(paths[2*i+1]), func(r io.Reader, name string) (err error) {
				// ReadLabels reads the whole file: the hash is the content's.
				h := sha256.New()
				labels[i], err = ReadLabels(io.TeeReader(r, h), name)
				labelSums[i] = h.Sum(nil)
				return err
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	for i, base := range [2]string{TrainLabelsFile, TestLabelsFile} {
		if err := checkNotOther(name, base, display(paths[2*i+1]), labelSums[i]); err != nil {
			return nil, nil, err
		}
	}
	var sets [2]*Set
	for i, split := range []string{"train", "test"} {
		n := len(imgs[i]) / (rows[i] * cols[i])
		if n == 0 {
			return nil, nil, corrupt(display(paths[2*i]), "has no images (its header declares 0 images of %dx%d): the %s set cannot be empty",
				rows[i], cols[i], [2]string{"training", "test"}[i])
		}
		if n != len(labels[i]) {
			return nil, nil, corrupt(display(paths[2*i+1]), "has %d labels but %s has %d images",
				len(labels[i]), display(paths[2*i]), n)
		}
		sets[i] = &Set{Name: name + "/" + split, Rows: rows[i], Cols: cols[i], Images: imgs[i], Labels: labels[i],
			File: display(paths[2*i])}
	}
	if rows[0] != rows[1] || cols[0] != cols[1] {
		return nil, nil, corrupt(display(paths[2]), "has images of %dx%d but %s has %dx%d",
			rows[1], cols[1], display(paths[0]), rows[0], cols[0])
	}
	return sets[0], sets[1], nil
}

// findFile returns the name in fsys of the first existing candidate for base
// that is not a directory. When the only candidates that exist are
// directories, the error says so, naming the first.
func findFile(fsys fs.FS, display func(string) string, base string) (string, error) {
	cands := candidates(base)
	dir := ""
	for _, c := range cands {
		fi, err := fs.Stat(fsys, c)
		if err == nil && !fi.IsDir() {
			return c, nil
		}
		if err == nil && dir == "" {
			dir = c
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", &FileError{Path: display(c), Msg: "cannot access", Err: err}
		}
	}
	if dir != "" {
		return "", &FileError{Path: display(dir), Kind: ErrNotFound,
			Msg: fmt.Sprintf("is a directory, not an IDX file (looked for a file named %s)", strings.Join(cands, ", "))}
	}
	return "", &FileError{Path: display(base), Kind: ErrNotFound,
		Msg: fmt.Sprintf("not found (looked for %s)", strings.Join(cands, ", "))}
}

// readFile opens file in fsys, decompresses it if it starts with the gzip
// magic bytes, and passes the content to read. name is used in errors.
func readFile(fsys fs.FS, file, name string, read func(r io.Reader, name string) error) error {
	f, err := fsys.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &FileError{Path: name, Kind: ErrNotFound, Msg: "not found", Err: err}
		}
		return &FileError{Path: name, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	r, _, err := maybeGunzip(f, name)
	if err != nil {
		return err
	}
	return read(r, name)
}

// maybeGunzip returns a reader of the uncompressed content of r: a gzip
// reader if r starts with the gzip magic bytes 1f 8b (then gz is true), else
// r itself (buffered).
func maybeGunzip(r io.Reader, name string) (_ io.Reader, gz bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, false, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		if e := streamError(name, err); e != nil {
			return nil, true, e
		}
		return nil, true, &FileError{Path: name, Kind: ErrCorrupt, Msg: "truncated gzip header", Err: err}
	}
	return zr, true, nil
}

// displayNames are the data sets' names as their authors write them.
var displayNames = map[string]string{"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

// fileRoles describe the standard files in messages.
var fileRoles = map[string]string{TrainImagesFile: "training images", TrainLabelsFile: "training labels",
	TestImagesFile: "test images", TestLabelsFile: "test labels"}

// ErrWrongDataset means that a file loaded as one known data set is
// exactly (by its SHA-256) the file of another: Fashion-MNIST's labels in
// a folder loaded as MNIST. Errors that match it are *WrongDatasetError.
var ErrWrongDataset = errors.New("datasets: the files of another data set")

// WrongDatasetError says that the file Path, loaded as the standard file
// File of the data set Want, is that file of the data set Got.
type WrongDatasetError struct {
	Path      string // the file, as displayed
	File      string // its standard name, e.g. TestLabelsFile
	Want, Got string // data set names, e.g. "mnist", "fashion-mnist"
	SHA256    string // of its uncompressed content, hex
}

// Error implements the error interface.
func (e *WrongDatasetError) Error() string {
	return fmt.Sprintf("datasets: %s is %s's %s (SHA-256 %s), not %s's", e.Path, displayName(e.Got), fileRoles[e.File], e.SHA256, displayName(e.Want))
}

// Unwrap returns ErrWrongDataset.
func (e *WrongDatasetError) Unwrap() error { return ErrWrongDataset }

func displayName(name string) string {
	if d, ok := displayNames[name]; ok {
		return d
	}
	return name
}

// checkNotOther returns a *WrongDatasetError when sum, the SHA-256 of the
// uncompressed content of the standard file base read as data set name
// from path, is that of another known data set's file of the same role,
// and not name's own. Other content (a user's own data in IDX format) and
// data sets without checksums (the embedded sample) pass: only the label
// files are hashed, which costs little (60 KB and 10 KB), and another set's
// exact files are the mistake it catches.
func checkNotOther(name, base, path string, sum []byte) error {
	own, known := checksums[name]
	if !known {
		return nil
	}
	got := hex.EncodeToString(sum)
	if own[base].sha256 == got {
		return nil
	}
	for _, other := range Names {
		if other != name && checksums[other][base].sha256 == got {
			return &WrongDatasetError{Path: path, File: base, Want: name, Got: other, SHA256: got}
		}
	}
	return nil
}
