// Command gensample writes the MNIST sample embedded by package datasets:
// the first -train training and the first -test test examples of an MNIST
// directory, as gzip-compressed (best compression, no name or time in the
// gzip header, so the output is reproducible) IDX files.
//
// Usage, from the datasets package directory (see the go:generate line in
// load.go):
//
//	go run ./internal/gensample -src ../../shared/datasets/mnist -out sample
//
// It is deliberately independent of package datasets, which cannot compile
// without the files this command writes.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
)

func main() {
	src := flag.String("src", "", "directory with the MNIST IDX files (gzipped or raw)")
	out := flag.String("out", "sample", "output directory")
	nTrain := flag.Int("train", 10000, "number of training examples to keep")
	nTest := flag.Int("test", 2000, "number of test examples to keep")
	flag.Parse()
	if *src == "" {
		log.Fatal("gensample: -src is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, f := range []struct {
		base string
		n    int
	}{
		{"train-images-idx3-ubyte", *nTrain},
		{"train-labels-idx1-ubyte", *nTrain},
		{"t10k-images-idx3-ubyte", *nTest},
		{"t10k-labels-idx1-ubyte", *nTest},
	} {
		if err := head(*src, *out, f.base, f.n); err != nil {
			log.Fatal("gensample: ", err)
		}
	}
}

// head writes out/base.gz holding the first n records of src/base[.gz].
func head(src, out, base string, n int) error {
	data, err := readMaybeGzip(filepath.Join(src, base+".gz"))
	if os.IsNotExist(err) {
		data, err = readMaybeGzip(filepath.Join(src, base))
	}
	if err != nil {
		return err
	}
	if len(data) < 4 || data[0] != 0 || data[1] != 0 || data[2] != 8 {
		return fmt.Errorf("%s: not an IDX unsigned-byte file", base)
	}
	ndims := int(data[3])
	hdrLen := 4 + 4*ndims
	if len(data) < hdrLen || ndims < 1 {
		return fmt.Errorf("%s: bad header", base)
	}
	count := int(binary.BigEndian.Uint32(data[4:]))
	record := 1
	for d := 1; d < ndims; d++ {
		record *= int(binary.BigEndian.Uint32(data[4+4*d:]))
	}
	if n > count || len(data) != hdrLen+count*record {
		return fmt.Errorf("%s: has %d records (%d bytes), want at least %d", base, count, len(data), n)
	}
	hdr := bytes.Clone(data[:hdrLen])
	binary.BigEndian.PutUint32(hdr[4:], uint32(n))

	path := filepath.Join(out, base+".gz")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.Write(hdr)
	zw.Write(data[hdrLen : hdrLen+n*record])
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	log.Printf("wrote %s: %d records", path, n)
	return nil
}

func readMaybeGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
