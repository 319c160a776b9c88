package cifar10

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/binnet/binnet/datasets"
)

// File and folder names of the binary version of CIFAR-10.
const (
	// DirName is the folder that cifar-10-binary.tar.gz unpacks to.
	DirName = "cifar-10-batches-bin"
	// TestFile is the batch file of the 10,000 test images.
	TestFile = "test_batch.bin"
	// MetaFile lists the class names, one a line.
	MetaFile = "batches.meta.txt"
)

// trainFiles are the five training batch files, in the order their
// examples are concatenated.
var trainFiles = [5]string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}

// TrainFiles returns the names of the five training batch files,
// data_batch_1.bin to data_batch_5.bin, in the order [Load] concatenates
// them.
func TrainFiles() []string { return append([]string(nil), trainFiles[:]...) }

// batchFiles returns the six batch files: the five training ones, then the
// test one.
func batchFiles() []string { return append(TrainFiles(), TestFile) }

func corrupt(name, format string, args ...any) error {
	return &datasets.FileError{Path: name, Kind: datasets.ErrCorrupt, Msg: fmt.Sprintf(format, args...)}
}

// truncated is the error for a file of size bytes, which is not a multiple
// of RecordSize.
func truncated(name string, size int64) error {
	k := size / RecordSize
	return corrupt(name, "truncated: record %d at byte offset %d has %d of its %d bytes "+
		"(records are %d bytes: 1 label byte and %d pixel bytes), so the file size %d is not a multiple of %d",
		k, k*RecordSize, size%RecordSize, RecordSize, RecordSize, ImageSize, size, RecordSize)
}

func badLabel(name string, record int, label uint8) error {
	return corrupt(name, "record %d at byte offset %d: label %d out of range 0..%d",
		record, int64(record)*RecordSize, label, NumClasses-1)
}

// decodeRecord writes the image of the record rec (RecordSize bytes, pixels
// channel after channel) into dst (ImageSize bytes, channels last).
func decodeRecord(dst, rec []uint8) {
	dst = dst[:ImageSize]
	const plane = Rows * Cols
	red, green, blue := rec[1:1+plane], rec[1+plane:1+2*plane], rec[1+2*plane:1+3*plane]
	for p := range plane {
		d := dst[p*3 : p*3+3 : p*3+3]
		d[0], d[1], d[2] = red[p], green[p], blue[p]
	}
}

// encodeRecord is the inverse of decodeRecord.
func encodeRecord(rec []uint8, label uint8, img []uint8) {
	rec = rec[:RecordSize]
	img = img[:ImageSize]
	rec[0] = label
	const plane = Rows * Cols
	red, green, blue := rec[1:1+plane], rec[1+plane:1+2*plane], rec[1+2*plane:1+3*plane]
	for p := range plane {
		s := img[p*3 : p*3+3 : p*3+3]
		red[p], green[p], blue[p] = s[0], s[1], s[2]
	}
}

// readRecord reads record k (counting from 0) of the named input into rec,
// returning io.EOF if the input ends exactly before it.
func readRecord(r io.Reader, name string, k int, rec []uint8) error {
	n, err := io.ReadFull(r, rec)
	switch {
	case err == nil:
		if rec[0] >= NumClasses {
			return badLabel(name, k, rec[0])
		}
		return nil
	case err == io.EOF:
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return truncated(name, int64(k)*RecordSize+int64(n))
	default:
		return &datasets.FileError{Path: name, Msg: fmt.Sprintf("read error in record %d at byte offset %d", k, int64(k)*RecordSize+int64(n)), Err: err}
	}
}

// ReadBatch reads one batch file in the CIFAR-10 binary format from r: any
// number of RecordSize-byte records, each a label byte in 0..9 followed by
// the 1,024 red, 1,024 green and 1,024 blue bytes of a 32x32 image (each
// plane row-major). It returns the examples as a Set named name, with the
// images converted to channels-last order.
//
// Errors name the input as name. An input whose size is not a multiple of
// RecordSize, or a label above 9, gives an error matching
// [datasets.ErrCorrupt] that gives the record number (counting from 0) and
// its byte offset. ReadBatch does not check the number of records; [Load]
// does.
func ReadBatch(r io.Reader, name string) (*Set, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	s := &Set{Name: name, Images: []uint8{}, Labels: []uint8{}}
	rec := make([]uint8, RecordSize)
	for k := 0; ; k++ {
		err := readRecord(br, name, k, rec)
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		s.Labels = append(s.Labels, rec[0])
		s.Images = append(s.Images, make([]uint8, ImageSize)...)
		decodeRecord(s.Images[k*ImageSize:], rec)
	}
}

// readInto reads exactly len(labels) records of the named input into labels
// and images (len(labels)*ImageSize bytes), and fails if more data follows.
func readInto(r io.Reader, name string, images, labels []uint8) error {
	br := bufio.NewReaderSize(r, 64<<10)
	rec := make([]uint8, RecordSize)
	for k := range labels {
		err := readRecord(br, name, k, rec)
		if err == io.EOF {
			return corrupt(name, "ends after %d records (%d bytes); it had %d records when opened", k, int64(k)*RecordSize, len(labels))
		}
		if err != nil {
			return err
		}
		labels[k] = rec[0]
		decodeRecord(images[k*ImageSize:], rec)
	}
	if n, _ := io.ReadFull(br, rec[:1]); n > 0 {
		return corrupt(name, "has data after record %d (byte offset %d); it had %d records when opened",
			len(labels)-1, int64(len(labels))*RecordSize, len(labels))
	}
	return nil
}

// WriteBatch writes s to w in the CIFAR-10 binary format that [ReadBatch]
// reads: one RecordSize-byte record per example. It fails, writing nothing,
// if s is not valid (see [Set.Validate]).
func WriteBatch(w io.Writer, s *Set) error {
	if err := s.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	rec := make([]uint8, RecordSize)
	for i, l := range s.Labels {
		encodeRecord(rec, l, s.Image(i))
		if _, err := bw.Write(rec); err != nil {
			return fmt.Errorf("cifar10: writing %s: %w", s.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cifar10: writing %s: %w", s.Name, err)
	}
	return nil
}

// LoadOptions changes what [LoadWithOptions] accepts. The zero value gives
// the behaviour of [Load].
type LoadOptions struct {
	// AnyCount accepts batch files of any number of records, such as small
	// files written for tests; by default each file must hold exactly
	// RecordsPerBatch records, as the standard files do.
	AnyCount bool
}

// Load reads the training and test sets of CIFAR-10 from the folder
// cifar-10-batches-bin, given either as dir itself or as dir's sub-folder
// DirName (so both the folder and the directory it was unpacked into
// work). The training set is the concatenation of data_batch_1.bin to
// data_batch_5.bin (50,000 examples), the test set is test_batch.bin
// (10,000); they are named "cifar10/train" and "cifar10/test".
// batches.meta.txt is not needed.
//
// Besides the checks of [ReadBatch], Load checks that each file has exactly
// RecordsPerBatch records. A missing file gives an error matching
// [datasets.ErrNotFound] that names its path; bad content one matching
// [datasets.ErrCorrupt].
func Load(dir string) (train, test *Set, err error) {
	return LoadWithOptions(dir, LoadOptions{})
}

// LoadWithOptions is [Load] with a choice of checks.
func LoadWithOptions(dir string, opts LoadOptions) (train, test *Set, err error) {
	dir, err = resolveDir(dir)
	if err != nil {
		return nil, nil, err
	}
	files := batchFiles()
	var counts [6]int
	for i, f := range files {
		p := filepath.Join(dir, f)
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, &datasets.FileError{Path: p, Kind: datasets.ErrNotFound, Msg: "not found", Err: err}
			}
			return nil, nil, &datasets.FileError{Path: p, Msg: "cannot access", Err: err}
		}
		if !fi.Mode().IsRegular() {
			return nil, nil, &datasets.FileError{Path: p, Kind: datasets.ErrCorrupt, Msg: "not a regular file"}
		}
		if fi.Size()%RecordSize != 0 {
			return nil, nil, truncated(p, fi.Size())
		}
		counts[i] = int(fi.Size() / RecordSize)
		if !opts.AnyCount && counts[i] != RecordsPerBatch {
			return nil, nil, corrupt(p, "has %d records (%d bytes), want %d (%d bytes) as in every standard batch file",
				counts[i], fi.Size(), RecordsPerBatch, int64(RecordsPerBatch)*RecordSize)
		}
	}
	nTrain := counts[0] + counts[1] + counts[2] + counts[3] + counts[4]
	train = &Set{Name: "cifar10/train", Images: make([]uint8, nTrain*ImageSize), Labels: make([]uint8, nTrain)}
	test = &Set{Name: "cifar10/test", Images: make([]uint8, counts[5]*ImageSize), Labels: make([]uint8, counts[5])}
	var (
		wg   sync.WaitGroup
		errs [6]error
	)
	start := 0
	for i, f := range files {
		s, from := train, start
		if i == 5 {
			s, from = test, 0
		}
		to := from + counts[i]
		start = to
		wg.Go(func() {
			errs[i] = readFile(filepath.Join(dir, f), s.Images[from*ImageSize:to*ImageSize], s.Labels[from:to])
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// readFile reads the batch file at path into images and labels, which have
// room for exactly as many records as it should hold.
func readFile(path string, images, labels []uint8) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &datasets.FileError{Path: path, Kind: datasets.ErrNotFound, Msg: "not found", Err: err}
		}
		return &datasets.FileError{Path: path, Msg: "cannot open", Err: err}
	}
	defer f.Close()
	return readInto(f, path, images, labels)
}

// resolveDir returns the folder that holds the batch files: dir if it holds
// any of them, else dir/DirName if that is a folder, else dir.
func resolveDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	for _, f := range batchFiles() {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return dir, nil
		}
	}
	sub := filepath.Join(dir, DirName)
	if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
		return sub, nil
	}
	p := filepath.Join(dir, trainFiles[0])
	return "", &datasets.FileError{Path: p, Kind: datasets.ErrNotFound,
		Msg: fmt.Sprintf("not found (looked for the batch files in %s and %s)", dir, sub)}
}
