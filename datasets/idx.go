package datasets

import (
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Sentinel errors. Errors returned by this package wrap one of them where it
// applies, so callers can test with [errors.Is].
var (
	// ErrNotFound means a required data file does not exist.
	ErrNotFound = errors.New("datasets: file not found")
	// ErrCorrupt means a file exists but its content is not a valid IDX
	// file of the expected kind: bad magic number, wrong number of
	// dimensions, truncated data, trailing garbage, a broken gzip stream,
	// mismatched image and label counts or a label out of range.
	ErrCorrupt = errors.New("datasets: corrupt data")
	// ErrChecksum means a downloaded or cached file does not have the
	// expected SHA-256 (or size) of its uncompressed content. Errors that
	// match ErrChecksum also match ErrCorrupt.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	// ErrUnknownDataset means a data set name other than "mnist" or
	// "fashion-mnist" was given.
	ErrUnknownDataset = errors.New("datasets: unknown data set")
)

// FileError describes what is wrong with one file (or URL).
// Its message has the form "datasets: PATH: MSG[: ERR]".
type FileError struct {
	Path string // file path, embedded file name or URL
	Kind error  // ErrNotFound, ErrCorrupt, ErrChecksum, or nil for plain I/O errors
	Msg  string // what was wrong, e.g. "truncated: header declares ..."
	Err  error  // underlying cause, if any
}

// Error implements the error interface.
func (e *FileError) Error() string {
	s := "datasets: " + e.Path + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and Err (those that are not nil), for [errors.Is] and
// [errors.As].
func (e *FileError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func corrupt(name, format string, args ...any) error {
	return &FileError{Path: name, Kind: ErrCorrupt, Msg: fmt.Sprintf(format, args...)}
}

// IDX magic numbers: two zero bytes, element type 0x08 (unsigned byte),
// number of dimensions.
const (
	imagesMagic = 0x00000803
	labelsMagic = 0x00000801
	gzipMagic   = 0x1f8b
)

// NumClasses is the number of classes of MNIST and Fashion-MNIST: labels are
// in 0..NumClasses-1.
const NumClasses = 10

// initialChunk is the most that is allocated before the corresponding bytes
// have actually been read, so that a header declaring absurd sizes cannot
// make the readers allocate more than about twice the data really present.
const initialChunk = 64 << 10

// ReadImages reads an IDX3 unsigned-byte image file (magic 0x00000803) from
// r, which must hold uncompressed data. It returns the image size and the
// pixels of all images, row-major, image after image. name is used in error
// messages (usually the file path).
//
// The whole of r is consumed: besides a bad magic number or zero-sized
// images, data shorter than the header declares and any bytes after the
// declared data are errors matching [ErrCorrupt]. Memory is allocated as
// data arrives, so a lying header cannot cause a huge allocation.
func ReadImages(r io.Reader, name string) (rows, cols int, images []uint8, err error) {
	var hdr [16]byte
	if err := readHeader(r, name, hdr[:], imagesMagic, "images"); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	r32 := binary.BigEndian.Uint32(hdr[8:])
	c32 := binary.BigEndian.Uint32(hdr[12:])
	if r32 == 0 || c32 == 0 {
		return 0, 0, nil, corrupt(name, "header declares images of %dx%d pixels", r32, c32)
	}
	hi, size := bits.Mul64(uint64(n), uint64(r32)*uint64(c32))
	declared := fmt.Sprintf("header declares %d images of %dx%d", n, r32, c32)
	if hi != 0 || size > math.MaxInt || uint64(r32) > math.MaxInt || uint64(c32) > math.MaxInt {
		return 0, 0, nil, corrupt(name, "%s, too large", declared)
	}
	declared = fmt.Sprintf("%s (%d bytes)", declared, size)
	images, err = readBody(r, name, int(size), declared)
	if err != nil {
		return 0, 0, nil, err
	}
	return int(r32), int(c32), images, nil
}

// ReadLabels reads an IDX1 unsigned-byte label file (magic 0x00000801) from
// r, which must hold uncompressed data. Every label must be below
// [NumClasses]. name is used in error messages (usually the file path).
//
// As with [ReadImages], the whole of r is consumed, truncated data and
// trailing bytes are errors matching [ErrCorrupt], and memory is allocated
// only as data arrives.
func ReadLabels(r io.Reader, name string) ([]uint8, error) {
	var hdr [8]byte
	if err := readHeader(r, name, hdr[:], labelsMagic, "labels"); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if uint64(n) > math.MaxInt {
		return nil, corrupt(name, "header declares %d labels, too large", n)
	}
	labels, err := readBody(r, name, int(n), fmt.Sprintf("header declares %d labels", n))
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if l >= NumClasses {
			return nil, corrupt(name, "label %d at index %d is out of range 0..%d", l, i, NumClasses-1)
		}
	}
	return labels, nil
}

// readHeader fills hdr from r and checks the magic number in its first 4
// bytes.
func readHeader(r io.Reader, name string, hdr []byte, magic uint32, what string) error {
	n, err := io.ReadFull(r, hdr)
	switch {
	case err == io.EOF:
		return corrupt(name, "empty file, want an IDX %s file", what)
	case err == io.ErrUnexpectedEOF && n >= 4 && binary.BigEndian.Uint32(hdr) != magic:
		// Report the wrong magic number rather than the short header.
	case err != nil:
		if e := streamError(name, err); e != nil {
			return e
		}
		return corrupt(name, "truncated header: %d bytes, want %d", n, len(hdr))
	}
	got := binary.BigEndian.Uint32(hdr)
	if got == magic {
		return nil
	}
	var hint string
	switch {
	case got>>16 == gzipMagic:
		hint = "; this is gzip-compressed data, decompress it first"
	case got == imagesMagic:
		hint = "; this is an IDX images file"
	case got == labelsMagic:
		hint = "; this is an IDX labels file"
	case got>>16 != 0:
		hint = "; not an IDX file"
	case got>>8&0xff != 0x08:
		hint = fmt.Sprintf("; IDX element type 0x%02x, want 0x08 (unsigned byte)", got>>8&0xff)
	default:
		hint = fmt.Sprintf("; IDX file with %d dimensions, want %d", got&0xff, magic&0xff)
	}
	return corrupt(name, "bad magic number 0x%08x, want 0x%08x (IDX %s)%s", got, magic, what, hint)
}

// readBody reads exactly size bytes from r and then checks that r is at its
// end. The buffer grows as data arrives (doubling from initialChunk).
// declared describes the header for error messages.
func readBody(r io.Reader, name string, size int, declared string) ([]byte, error) {
	buf := make([]byte, 0, min(size, initialChunk))
	atEOF := false
	for len(buf) < size {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(size, 2*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF && len(buf) == size {
			atEOF = true
			break
		}
		if err == io.EOF {
			return nil, corrupt(name, "truncated: %s, file has %d", declared, len(buf))
		}
		if err != nil {
			if e := streamError(name, err); e != nil {
				return nil, e
			}
			return nil, &FileError{Path: name, Kind: ErrCorrupt, Err: err,
				Msg: fmt.Sprintf("truncated compressed stream: %s, stream broke off after %d bytes", declared, len(buf))}
		}
	}
	if !atEOF {
		// Read to the end: this finds trailing garbage and, for gzip
		// streams, makes the reader verify the CRC and size trailer.
		const limit = 1 << 20
		extra, err := io.Copy(io.Discard, io.LimitReader(r, limit))
		if err != nil {
			if e := streamError(name, err); e != nil {
				return nil, e
			}
			return nil, &FileError{Path: name, Kind: ErrCorrupt, Err: err,
				Msg: "truncated compressed stream after the declared data"}
		}
		if extra > 0 {
			atLeast := ""
			if extra == limit {
				atLeast = "at least "
			}
			return nil, corrupt(name, "trailing garbage: %s, file has %s%d more bytes", declared, atLeast, extra)
		}
	}
	return buf, nil
}

// streamError converts an error from the underlying reader, other than a
// premature end (io.EOF, io.ErrUnexpectedEOF, for which it returns nil), into
// a *FileError: a broken gzip or deflate stream matches ErrCorrupt, anything
// else is reported as an I/O error.
func streamError(name string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	var ce flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce) {
		return &FileError{Path: name, Kind: ErrCorrupt, Msg: "bad gzip stream", Err: err}
	}
	return &FileError{Path: name, Msg: "read error", Err: err}
}
