package cifar10_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
)

func TestConstants(t *testing.T) {
	if cifar10.ImageSize != 3072 || cifar10.RecordSize != 3073 || cifar10.RecordsPerBatch*cifar10.RecordSize != 30730000 {
		t.Errorf("ImageSize %d, RecordSize %d", cifar10.ImageSize, cifar10.RecordSize)
	}
	names := cifar10.ClassNames()
	if len(names) != 10 || names[0] != "airplane" || names[9] != "truck" {
		t.Errorf("ClassNames() = %v", names)
	}
	names[0] = "changed"
	if cifar10.ClassNames()[0] != "airplane" {
		t.Errorf("ClassNames shares memory with the package")
	}
	if f := cifar10.TrainFiles(); len(f) != 5 || f[0] != "data_batch_1.bin" || f[4] != "data_batch_5.bin" {
		t.Errorf("TrainFiles() = %v", f)
	}
}

// TestKnownPixels reads two hand-built records and checks that each known
// pixel value lands at its channels-last position, and nothing else is set.
func TestKnownPixels(t *testing.T) {
	data := make([]byte, 2*cifar10.RecordSize)
	rec0, rec1 := data[:cifar10.RecordSize], data[cifar10.RecordSize:]
	rec0[0] = 7
	rec0[1+5*32+9] = 200      // red at row 5, column 9
	rec0[1+1024+5*32+9] = 100 // green at row 5, column 9
	rec0[1+2048+31*32+0] = 50 // blue at row 31, column 0
	rec1[0] = 3
	rec1[1+0*32+31] = 255     // red at row 0, column 31
	rec1[1+2048+17*32+16] = 1 // blue at row 17, column 16
	s, err := cifar10.ReadBatch(bytes.NewReader(data), "hand-built")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "hand-built" || s.Len() != 2 || len(s.Images) != 2*3072 || s.Labels[0] != 7 || s.Labels[1] != 3 {
		t.Fatalf("got %q with %d labels %v, %d image bytes", s.Name, s.Len(), s.Labels, len(s.Images))
	}
	want := map[int]uint8{
		(5*32+9)*3 + 0:          200,
		(5*32+9)*3 + 1:          100,
		(31*32+0)*3 + 2:         50,
		3072 + (0*32+31)*3 + 0:  255,
		3072 + (17*32+16)*3 + 2: 1,
	}
	for i, v := range s.Images {
		if v != want[i] {
			t.Errorf("Images[%d] = %d, want %d", i, v, want[i])
		}
	}
	if s.Pixel(0, 5, 9, 0) != 200 || s.Pixel(0, 5, 9, 1) != 100 || s.Pixel(0, 31, 0, 2) != 50 || s.Pixel(1, 0, 31, 0) != 255 {
		t.Errorf("Pixel disagrees with Images")
	}
	if got := encode(t, s); !bytes.Equal(got, data) {
		t.Errorf("WriteBatch does not give back the hand-built records")
	}
}

// TestRoundTrip writes real MNIST digits (as CIFAR images) and reads them
// back byte for byte.
func TestRoundTrip(t *testing.T) {
	s := mnistAsCIFAR(t, 300)
	data := encode(t, s)
	if len(data) != 300*cifar10.RecordSize {
		t.Fatalf("%d bytes for 300 records", len(data))
	}
	for k := range 300 {
		if data[k*cifar10.RecordSize] != s.Labels[k] {
			t.Fatalf("record %d starts with %d, want its label %d", k, data[k*cifar10.RecordSize], s.Labels[k])
		}
	}
	// The red plane of record 0, row 14, equals row 12 of the gray digit.
	for c := range 28 {
		if got, want := data[1+14*32+c+2], s.Pixel(0, 14, c+2, 0); got != want {
			t.Fatalf("record 0 red (14, %d) = %d, want %d", c+2, got, want)
		}
	}
	back, err := cifar10.ReadBatch(bytes.NewReader(data), "round-trip")
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(back, s) {
		t.Errorf("ReadBatch(WriteBatch(s)) differs from s")
	}
	if again := encode(t, back); !bytes.Equal(again, data) {
		t.Errorf("second WriteBatch differs from the first")
	}
}

func TestReadBatchEmpty(t *testing.T) {
	s, err := cifar10.ReadBatch(bytes.NewReader(nil), "empty")
	if err != nil || s.Len() != 0 || len(s.Images) != 0 || s.Images == nil {
		t.Errorf("got %v, %v", s, err)
	}
}

func TestReadBatchTruncated(t *testing.T) {
	data := encode(t, mnistAsCIFAR(t, 11))[:10*cifar10.RecordSize+100]
	s, err := cifar10.ReadBatch(bytes.NewReader(data), "data_batch_3.bin")
	if s != nil {
		t.Errorf("got a set with the error")
	}
	checkFileError(t, err, datasets.ErrCorrupt, "data_batch_3.bin",
		"data_batch_3.bin", "truncated", "record 10 ", "byte offset 30730 ", "has 100 of its 3073 bytes",
		"file size 30830 is not a multiple of 3073")
	t.Log(err)

	// A header-sized fragment.
	_, err = cifar10.ReadBatch(bytes.NewReader(data[:1]), "one-byte")
	checkFileError(t, err, datasets.ErrCorrupt, "one-byte", "record 0 at byte offset 0 has 1 of its 3073 bytes")
}

func TestReadBatchBadLabel(t *testing.T) {
	s := mnistAsCIFAR(t, 5)
	data := encode(t, s)
	for _, label := range []byte{10, 255} {
		data[3*cifar10.RecordSize] = label
		_, err := cifar10.ReadBatch(bytes.NewReader(data), "bad-labels.bin")
		checkFileError(t, err, datasets.ErrCorrupt, "bad-labels.bin",
			"record 3 at byte offset 9219", "label "+strconv.Itoa(int(label))+" out of range 0..9")
	}
}

// failingReader returns n zero bytes, then an error.
type failingReader struct{ n int }

var errDisk = errors.New("disk on fire")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errDisk
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func TestReadBatchIOError(t *testing.T) {
	_, err := cifar10.ReadBatch(&failingReader{n: 4000}, "flaky")
	if !errors.Is(err, errDisk) || errors.Is(err, datasets.ErrCorrupt) || !strings.Contains(err.Error(), "flaky") ||
		!strings.Contains(err.Error(), "record 1 at byte offset 4000") {
		t.Errorf("got %v, want the read error naming the input and the record", err)
	}
}

func TestFromGray(t *testing.T) {
	train, _, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	g := train.Slice(0, 50)
	s, err := cifar10.FromGray("digits", g.Rows, g.Cols, g.Images, g.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "digits" || s.Len() != 50 || len(s.Images) != 50*3072 || !bytes.Equal(s.Labels, g.Labels) {
		t.Fatalf("got %s with %d labels, %d image bytes", s.Name, s.Len(), len(s.Images))
	}
	for i := range 50 {
		img := g.Image(i)
		for r := range 32 {
			for c := range 32 {
				var want uint8
				if r >= 2 && r < 30 && c >= 2 && c < 30 {
					want = img[(r-2)*28+c-2]
				}
				for ch := range 3 {
					if got := s.Pixel(i, r, c, ch); got != want {
						t.Fatalf("image %d (%d, %d, %d) = %d, want %d", i, r, c, ch, got, want)
					}
				}
			}
		}
	}
	// The labels are copied.
	s.Labels[0] = 9
	if g.Labels[0] == 9 {
		t.Errorf("FromGray shares the labels")
	}

	// An odd size is centred: a 3x2 image goes to rows 14..16, columns 15..16.
	odd, err := cifar10.FromGray("odd", 3, 2, []uint8{1, 2, 3, 4, 5, 6}, []uint8{4})
	if err != nil {
		t.Fatal(err)
	}
	if odd.Pixel(0, 14, 15, 2) != 1 || odd.Pixel(0, 14, 16, 0) != 2 || odd.Pixel(0, 16, 16, 1) != 6 || odd.Pixel(0, 13, 15, 0) != 0 {
		t.Errorf("3x2 image not centred at (14, 15)")
	}

	for _, tc := range []struct {
		rows, cols     int
		images, labels []uint8
		want           string
	}{
		{33, 28, make([]uint8, 33*28), []uint8{1}, "images of 33x28, want 1x1 to 32x32"},
		{0, 28, nil, nil, "images of 0x28"},
		{28, 28, make([]uint8, 783), []uint8{1}, "783 image bytes for 1 labels of 28x28 images, want 784"},
		{2, 2, make([]uint8, 8), []uint8{1, 10}, "example 1 has label 10"},
	} {
		_, err := cifar10.FromGray("bad", tc.rows, tc.cols, tc.images, tc.labels)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad") {
			t.Errorf("FromGray(%dx%d): %v, want an error containing %q", tc.rows, tc.cols, err, tc.want)
		}
	}
}

func TestSetMethods(t *testing.T) {
	s := mnistAsCIFAR(t, 20)
	sl := s.Slice(5, 8)
	if sl.Name != "mnist-sample[5:8]" || sl.Len() != 3 || !bytes.Equal(sl.Image(0), s.Image(5)) || sl.Labels[2] != s.Labels[7] {
		t.Errorf("Slice(5, 8) = %s with %d examples", sl.Name, sl.Len())
	}
	if got := append(sl.Labels, 1); &got[0] == &s.Labels[5] {
		t.Errorf("appending to a slice's labels overwrites the set")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Slice(5, 21) did not panic")
			}
		}()
		s.Slice(5, 21)
	}()

	sub, err := s.Subset([]int{19, 0, 19})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Name != "mnist-sample[subset of 3]" || sub.Len() != 3 || !bytes.Equal(sub.Image(0), s.Image(19)) ||
		!bytes.Equal(sub.Image(1), s.Image(0)) || !bytes.Equal(sub.Image(2), s.Image(19)) || sub.Labels[1] != s.Labels[0] {
		t.Errorf("Subset gave %s", sub.Name)
	}
	sub.Images[0]++
	if sub.Images[0] == s.Image(19)[0] {
		t.Errorf("Subset shares memory with the set")
	}
	if _, err := s.Subset([]int{0, 1, 20}); err == nil || !strings.Contains(err.Error(), "indices[2] = 20 out of range 0..19") {
		t.Errorf("Subset with 20: %v", err)
	}
	if _, err := s.Subset([]int{-1}); err == nil || !strings.Contains(err.Error(), "indices[0] = -1") {
		t.Errorf("Subset with -1: %v", err)
	}

	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	bad := &cifar10.Set{Name: "bad", Images: make([]uint8, 3072), Labels: []uint8{0, 1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "3072 image bytes for 2 labels, want 6144") {
		t.Errorf("Validate: %v", err)
	}
	var buf bytes.Buffer
	if err := cifar10.WriteBatch(&buf, bad); err == nil || buf.Len() != 0 {
		t.Errorf("WriteBatch of an invalid set: %v, %d bytes written", err, buf.Len())
	}
	bad = &cifar10.Set{Name: "bad", Images: make([]uint8, 3072), Labels: []uint8{12}}
	if err := cifar10.WriteBatch(&buf, bad); err == nil || !strings.Contains(err.Error(), "example 0 has label 12") || buf.Len() != 0 {
		t.Errorf("WriteBatch with label 12: %v, %d bytes written", err, buf.Len())
	}
	if err := cifar10.WriteBatch(errWriter{}, s); !errors.Is(err, errDisk) {
		t.Errorf("WriteBatch to a failing writer: %v", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errDisk }

// loadFolderTest writes 5+1 batch files from s into a folder, loads them
// back from the folder and from its parent, and checks the standard-count
// check rejects them.
func loadFolderTest(t *testing.T, s *cifar10.Set, perFile int) {
	parent := t.TempDir()
	dir := filepath.Join(parent, cifar10.DirName)
	var bounds [7]int
	for i := range bounds {
		bounds[i] = i * perFile
	}
	writeFolder(t, dir, s, bounds)
	for _, d := range []string{dir, parent} {
		train, test, err := cifar10.LoadWithOptions(d, cifar10.LoadOptions{AnyCount: true})
		if err != nil {
			t.Fatal(err)
		}
		if train.Name != "cifar10/train" || test.Name != "cifar10/test" {
			t.Errorf("names %q, %q", train.Name, test.Name)
		}
		if !sameSet(train, s.Slice(0, 5*perFile)) || !sameSet(test, s.Slice(5*perFile, 6*perFile)) {
			t.Errorf("Load(%s) differs from the sets written", d)
		}
	}
	_, _, err := cifar10.Load(parent)
	checkFileError(t, err, datasets.ErrCorrupt, filepath.Join(dir, "data_batch_1.bin"),
		"has "+strconv.Itoa(perFile)+" records", "want 10000 (30730000 bytes)")
}

// TestLoadSample loads a folder written from the embedded MNIST sample.
func TestLoadSample(t *testing.T) {
	loadFolderTest(t, mnistAsCIFAR(t, 6*100), 100)
}

// TestLoadFashionMNIST loads a folder written from the real Fashion-MNIST
// in ../shared/datasets, if it is there.
func TestLoadFashionMNIST(t *testing.T) {
	dir := filepath.Join(sharedRoot, "fashion-mnist")
	if _, err := os.Stat(filepath.Join(dir, datasets.TrainImagesFile+".gz")); err != nil {
		t.Skipf("real Fashion-MNIST not available: %v", err)
	}
	train, test, err := datasets.Load("fashion-mnist", dir)
	if err != nil {
		t.Fatal(err)
	}
	const per = 300
	images := append(append([]uint8(nil), train.Images[:5*per*784]...), test.Images[:per*784]...)
	labels := append(append([]uint8(nil), train.Labels[:5*per]...), test.Labels[:per]...)
	s, err := cifar10.FromGray("fashion-mnist", 28, 28, images, labels)
	if err != nil {
		t.Fatal(err)
	}
	loadFolderTest(t, s, per)
}

// TestLoadStandardCount loads six full-size (10,000-record) files, and
// rejects one of 9,999 records.
func TestLoadStandardCount(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 184 MB")
	}
	s := mnistAsCIFAR(t, cifar10.RecordsPerBatch)
	data := encode(t, s)
	dir := t.TempDir()
	first := filepath.Join(dir, "data_batch_1.bin")
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(cifar10.TrainFiles()[1:], cifar10.TestFile) {
		if err := os.Link(first, filepath.Join(dir, f)); err != nil {
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	train, test, err := cifar10.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 50000 || test.Len() != 10000 || len(train.Images) != 50000*3072 {
		t.Fatalf("loaded %d and %d examples", train.Len(), test.Len())
	}
	for i := range 5 {
		if !sameSet(train.Slice(i*10000, (i+1)*10000), s) {
			t.Errorf("training examples %d..%d differ from the file", i*10000, (i+1)*10000)
		}
	}
	if !sameSet(test, s) {
		t.Errorf("test set differs from the file")
	}

	short := filepath.Join(dir, "data_batch_4.bin")
	os.Remove(short)
	if err := os.WriteFile(short, data[:len(data)-cifar10.RecordSize], 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = cifar10.Load(dir)
	checkFileError(t, err, datasets.ErrCorrupt, short, "has 9999 records (30726927 bytes), want 10000 (30730000 bytes)")
	if _, _, err := cifar10.LoadWithOptions(dir, cifar10.LoadOptions{AnyCount: true}); err != nil {
		t.Errorf("AnyCount: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	s := mnistAsCIFAR(t, 60)
	dir := t.TempDir()
	writeFolder(t, dir, s, [7]int{0, 10, 20, 30, 40, 50, 60})
	any := cifar10.LoadOptions{AnyCount: true}

	// A bad label in data_batch_2.bin.
	p := filepath.Join(dir, "data_batch_2.bin")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[4*cifar10.RecordSize] = 11
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = cifar10.LoadWithOptions(dir, any)
	checkFileError(t, err, datasets.ErrCorrupt, p, "record 4 at byte offset 12292: label 11 out of range")

	// A truncated data_batch_2.bin.
	if err := os.WriteFile(p, data[:3*cifar10.RecordSize+7], 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = cifar10.LoadWithOptions(dir, any)
	checkFileError(t, err, datasets.ErrCorrupt, p, "record 3 at byte offset 9219 has 7 of its 3073 bytes")

	// A missing test_batch.bin.
	writeFolder(t, dir, s, [7]int{0, 10, 20, 30, 40, 50, 60})
	missing := filepath.Join(dir, cifar10.TestFile)
	os.Remove(missing)
	_, _, err = cifar10.LoadWithOptions(dir, any)
	checkFileError(t, err, datasets.ErrNotFound, missing, "not found")

	// An empty folder.
	empty := t.TempDir()
	_, _, err = cifar10.Load(empty)
	checkFileError(t, err, datasets.ErrNotFound, filepath.Join(empty, "data_batch_1.bin"),
		"looked for the batch files in "+empty+" and "+filepath.Join(empty, cifar10.DirName))

	// A folder instead of a file.
	os.Mkdir(missing, 0o755)
	_, _, err = cifar10.LoadWithOptions(dir, any)
	checkFileError(t, err, datasets.ErrCorrupt, missing, "not a regular file")
}

// TestReadBatchFromFileLikeLoad checks that ReadBatch on a file and Load
// agree.
func TestReadBatchFromFileLikeLoad(t *testing.T) {
	s := mnistAsCIFAR(t, 70)
	dir := t.TempDir()
	writeFolder(t, dir, s, [7]int{0, 10, 20, 30, 40, 50, 70})
	f, err := os.Open(filepath.Join(dir, cifar10.TestFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := cifar10.ReadBatch(io.Reader(f), f.Name())
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := cifar10.LoadWithOptions(dir, cifar10.LoadOptions{AnyCount: true})
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, test) || test.Len() != 20 {
		t.Errorf("ReadBatch and Load disagree")
	}
}
