package datasets_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/binnet/binnet/datasets"
)

// idxContent re-encodes a set's images and labels as the IDX files they came
// from.
func idxContent(s *datasets.Set) (images, labels []byte) {
	images = binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, d := range []int{s.Len(), s.Rows, s.Cols} {
		images = binary.BigEndian.AppendUint32(images, uint32(d))
	}
	images = append(images, s.Images...)
	labels = binary.BigEndian.AppendUint32(nil, 0x00000801)
	labels = binary.BigEndian.AppendUint32(labels, uint32(s.Len()))
	labels = append(labels, s.Labels...)
	return images, labels
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// readMD5SUMS parses an MD5SUMS.uncompressed file.
func readMD5SUMS(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 {
			sums[fields[1]] = fields[0]
		}
	}
	return sums
}

func TestLoadReal(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		firstTrain, firstTest uint8
		trainHist, testHist   [10]int
		md5                   map[string]string
	}{
		{
			name:       "mnist",
			firstTrain: 5, firstTest: 7,
			trainHist: [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
			testHist:  [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009},
			md5: map[string]string{
				datasets.TrainImagesFile: "6bbc9ace898e44ae57da46a324031adb",
				datasets.TrainLabelsFile: "a25bea736e30d166cdddb491f175f624",
				datasets.TestImagesFile:  "2646ac647ad5339dbf082846283269ea",
				datasets.TestLabelsFile:  "27ae3e4e09519cfbb04c329615203637",
			},
		},
		{
			name:       "fashion-mnist",
			firstTrain: 9, firstTest: 9,
			trainHist: [10]int{6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000},
			testHist:  [10]int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000},
			md5: map[string]string{
				datasets.TrainImagesFile: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
				datasets.TrainLabelsFile: "9018921c3c673c538a1fc5bad174d6f9",
				datasets.TestImagesFile:  "8181f5470baa50b63fa0f6fddb340f0a",
				datasets.TestLabelsFile:  "15d484375f8d13e6eb1aabb0c3f46965",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, test := loadShared(t, tc.name)
			for _, c := range []struct {
				s     *datasets.Set
				name  string
				n     int
				first uint8
				hist  [10]int
			}{
				{train, tc.name + "/train", 60000, tc.firstTrain, tc.trainHist},
				{test, tc.name + "/test", 10000, tc.firstTest, tc.testHist},
			} {
				s := c.s
				if s.Name != c.name || s.Len() != c.n || s.Rows != 28 || s.Cols != 28 || len(s.Images) != c.n*28*28 {
					t.Errorf("%s: got %d images of %dx%d (%d bytes), want %s with %d of 28x28",
						s.Name, s.Len(), s.Rows, s.Cols, len(s.Images), c.name, c.n)
				}
				if s.Labels[0] != c.first {
					t.Errorf("%s: first label %d, want %d", s.Name, s.Labels[0], c.first)
				}
				var hist [10]int
				for _, l := range s.Labels {
					hist[l]++
				}
				if hist != c.hist {
					t.Errorf("%s: label histogram %v, want %v", s.Name, hist, c.hist)
				}
			}
			// The loaded data re-encoded must be byte for byte the
			// uncompressed files.
			sums := readMD5SUMS(t, filepath.Join(sharedDir(t, tc.name), "MD5SUMS.uncompressed"))
			trainImages, trainLabels := idxContent(train)
			testImages, testLabels := idxContent(test)
			for file, content := range map[string][]byte{
				datasets.TrainImagesFile: trainImages, datasets.TrainLabelsFile: trainLabels,
				datasets.TestImagesFile: testImages, datasets.TestLabelsFile: testLabels,
			} {
				got := md5hex(content)
				if got != tc.md5[file] || got != sums[file] {
					t.Errorf("%s %s: md5 %s, want %s (MD5SUMS.uncompressed says %s)", tc.name, file, got, tc.md5[file], sums[file])
				}
			}
		})
	}
}

// TestLoadRawAndVariants checks that raw files, dotted names and gzip data
// under a raw name (and raw data under a .gz name) load like the originals.
func TestLoadRawAndVariants(t *testing.T) {
	src := sharedDir(t, "mnist")
	want, wantTest := loadShared(t, "mnist")
	raw := map[string][]byte{}
	for _, f := range []string{datasets.TrainImagesFile, datasets.TrainLabelsFile, datasets.TestImagesFile, datasets.TestLabelsFile} {
		raw[f] = gunzipFile(t, filepath.Join(src, f+".gz"))
	}
	gz, err := os.ReadFile(filepath.Join(src, datasets.TestLabelsFile+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"raw", raw},
		{"dotted", map[string][]byte{
			"train-images.idx3-ubyte": raw[datasets.TrainImagesFile],
			"train-labels.idx1-ubyte": raw[datasets.TrainLabelsFile],
			"t10k-images.idx3-ubyte":  raw[datasets.TestImagesFile],
			"t10k-labels.idx1-ubyte":  raw[datasets.TestLabelsFile],
		}},
		{"content-detected", map[string][]byte{
			datasets.TrainImagesFile:         raw[datasets.TrainImagesFile],
			datasets.TrainLabelsFile + ".gz": raw[datasets.TrainLabelsFile], // raw data, .gz name
			"t10k-images.idx3-ubyte.gz":      raw[datasets.TestImagesFile],
			datasets.TestLabelsFile:          gz, // gzip data, raw name
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, test, err := datasets.Load("mnist", writeFiles(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]*datasets.Set{{train, want}, {test, wantTest}} {
				got, want := p[0], p[1]
				if got.Name != want.Name || got.Rows != want.Rows || got.Cols != want.Cols ||
					!bytes.Equal(got.Images, want.Images) || !bytes.Equal(got.Labels, want.Labels) {
					t.Errorf("%s loaded from %s files differs from the gzip original", want.Name, tc.name)
				}
			}
		})
	}
}

// TestLoadCorrupt checks each kind of bad input gives an error matching the
// right sentinel and naming the file.
func TestLoadCorrupt(t *testing.T) {
	gzImages := gzipBytes(t, idxImages(3, 28, 28))
	badCRC := bytes.Clone(gzImages)
	badCRC[len(badCRC)-8] ^= 0xff
	imagesMagic4 := idxImages(3, 28, 28)
	imagesMagic4[3] = 4
	for _, tc := range []struct {
		name string
		file string // file to replace ("" for none)
		data []byte // its new content (nil: remove it)
		kind error
		want []string // substrings of the message
	}{
		{"wrong magic", datasets.TrainImagesFile, idxLabels(1, 2, 3), datasets.ErrCorrupt,
			[]string{"bad magic number 0x00000801, want 0x00000803", "IDX labels file"}},
		{"wrong dimension count", datasets.TrainImagesFile, imagesMagic4, datasets.ErrCorrupt,
			[]string{"4 dimensions, want 3"}},
		{"images in labels file", datasets.TestLabelsFile, idxImages(2, 28, 28), datasets.ErrCorrupt,
			[]string{"bad magic number 0x00000803, want 0x00000801"}},
		{"empty", datasets.TrainLabelsFile, []byte{}, datasets.ErrCorrupt, []string{"empty file"}},
		{"truncated header", datasets.TrainImagesFile, idxImages(3, 28, 28)[:10], datasets.ErrCorrupt,
			[]string{"truncated header: 10 bytes, want 16"}},
		{"truncated images", datasets.TrainImagesFile, idxImages(3, 28, 28)[:16+2000], datasets.ErrCorrupt,
			[]string{"truncated: header declares 3 images of 28x28 (2352 bytes), file has 2000"}},
		{"truncated labels", datasets.TestLabelsFile, idxLabels(4, 5)[:9], datasets.ErrCorrupt,
			[]string{"truncated: header declares 2 labels, file has 1"}},
		{"trailing garbage", datasets.TrainImagesFile, append(idxImages(3, 28, 28), 1, 2, 3), datasets.ErrCorrupt,
			[]string{"trailing garbage", "3 more bytes"}},
		{"truncated gzip stream", datasets.TrainImagesFile + ".gz", gzImages[:len(gzImages)/2], datasets.ErrCorrupt,
			[]string{"truncated compressed stream"}},
		{"gzip trailer missing", datasets.TrainImagesFile + ".gz", gzImages[:len(gzImages)-8], datasets.ErrCorrupt,
			[]string{"truncated compressed stream"}},
		{"gzip bad CRC", datasets.TrainImagesFile + ".gz", badCRC, datasets.ErrCorrupt,
			[]string{"bad gzip stream", "checksum"}},
		{"truncated gzip header", datasets.TrainImagesFile + ".gz", gzImages[:5], datasets.ErrCorrupt, nil},
		{"label count mismatch", datasets.TrainLabelsFile, idxLabels(1, 2), datasets.ErrCorrupt,
			[]string{"has 2 labels but", datasets.TrainImagesFile + " has 3 images"}},
		{"label out of range", datasets.TrainLabelsFile, idxLabels(1, 10, 3), datasets.ErrCorrupt,
			[]string{"label 10 at index 1 is out of range 0..9"}},
		{"label 255", datasets.TestLabelsFile, idxLabels(4, 255), datasets.ErrCorrupt,
			[]string{"label 255 at index 1"}},
		{"image size mismatch", datasets.TestImagesFile, idxImages(2, 28, 27), datasets.ErrCorrupt,
			[]string{"has images of 28x27 but", "has 28x28"}},
		{"zero-sized images", datasets.TestImagesFile, idxImages(2, 0, 28), datasets.ErrCorrupt,
			[]string{"images of 0x28 pixels"}},
		{"missing file", datasets.TestImagesFile, nil, datasets.ErrNotFound,
			[]string{"not found", "t10k-images.idx3-ubyte.gz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := smallFiles()
			base := strings.TrimSuffix(tc.file, ".gz")
			delete(files, base)
			if tc.data != nil {
				files[tc.file] = tc.data
			}
			dir := writeFiles(t, files)
			train, test, err := datasets.Load("mnist", dir)
			if train != nil || test != nil {
				t.Errorf("Load returned sets with an error")
			}
			path := filepath.Join(dir, tc.file)
			if tc.data == nil {
				path = filepath.Join(dir, base)
			}
			checkFileError(t, err, tc.kind, path, tc.want...)
			t.Log(err)
			if tc.kind == datasets.ErrNotFound && errors.Is(err, datasets.ErrCorrupt) {
				t.Errorf("missing file error %q also matches ErrCorrupt", err)
			}
		})
	}
}

func TestLoadValidSmall(t *testing.T) {
	train, test, err := datasets.Load("fashion-mnist", writeFiles(t, smallFiles()))
	if err != nil {
		t.Fatal(err)
	}
	if train.Name != "fashion-mnist/train" || train.Len() != 3 || test.Name != "fashion-mnist/test" || test.Len() != 2 {
		t.Fatalf("got %s with %d and %s with %d examples", train.Name, train.Len(), test.Name, test.Len())
	}
	if !bytes.Equal(train.Labels, []uint8{1, 2, 3}) || train.Image(2)[5] != 2*7+5 {
		t.Errorf("wrong content: labels %v, train image 2 pixel 5 = %d", train.Labels, train.Image(2)[5])
	}
}

func TestLoadRealTruncated(t *testing.T) {
	src := sharedDir(t, "mnist")
	files := map[string][]byte{}
	for _, f := range []string{datasets.TrainImagesFile, datasets.TrainLabelsFile, datasets.TestImagesFile, datasets.TestLabelsFile} {
		data, err := os.ReadFile(filepath.Join(src, f+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		files[f+".gz"] = data
	}
	files[datasets.TrainImagesFile+".gz"] = files[datasets.TrainImagesFile+".gz"][:1<<20]
	dir := writeFiles(t, files)
	_, _, err := datasets.Load("mnist", dir)
	checkFileError(t, err, datasets.ErrCorrupt, filepath.Join(dir, datasets.TrainImagesFile+".gz"),
		"truncated compressed stream: header declares 60000 images of 28x28 (47040000 bytes)")
	t.Log(err)
}

func TestLoadUnknownName(t *testing.T) {
	_, _, err := datasets.Load("cifar10", t.TempDir())
	if !errors.Is(err, datasets.ErrUnknownDataset) {
		t.Errorf("Load(cifar10): %v, want ErrUnknownDataset", err)
	}
}

func TestSample(t *testing.T) {
	train, test, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if train.Name != "sample/train" || train.Len() != 10000 || test.Name != "sample/test" || test.Len() != 2000 ||
		train.Rows != 28 || train.Cols != 28 || test.Rows != 28 || test.Cols != 28 {
		t.Fatalf("got %s: %d of %dx%d, %s: %d of %dx%d", train.Name, train.Len(), train.Rows, train.Cols,
			test.Name, test.Len(), test.Rows, test.Cols)
	}
	if train.Labels[0] != 5 || test.Labels[0] != 7 {
		t.Errorf("first labels %d, %d, want 5, 7", train.Labels[0], test.Labels[0])
	}
	// Each call returns new memory.
	train.Images[0] = 99
	train2, _, err := datasets.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if train2.Images[0] != 0 {
		t.Errorf("Sample shares memory between calls")
	}
	t.Run("equals real MNIST", func(t *testing.T) {
		fullTrain, fullTest := loadShared(t, "mnist")
		for _, p := range []struct {
			sample, full *datasets.Set
		}{{train2, fullTrain}, {test, fullTest}} {
			n := p.sample.Len()
			if !bytes.Equal(p.sample.Images, p.full.Slice(0, n).Images) || !bytes.Equal(p.sample.Labels, p.full.Labels[:n]) {
				t.Errorf("%s differs from the first %d examples of %s", p.sample.Name, n, p.full.Name)
			}
		}
	})
}

// TestLoadOtherDatasetRefused: the real Fashion-MNIST files loaded as
// "mnist" (and MNIST's as "fashion-mnist") are refused naming the labels
// file and both sets, gzipped or raw; each set loads as itself, and files
// of neither (the same labels with one changed) load as either.
func TestLoadOtherDatasetRefused(t *testing.T) {
	mnist, fashion := sharedDir(t, "mnist"), sharedDir(t, "fashion-mnist")
	for _, c := range []struct {
		name, dir, want string
	}{
		{"mnist", fashion, "train-labels-idx1-ubyte.gz is Fashion-MNIST's training labels (SHA-256 bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9), not MNIST's"},
		{"fashion-mnist", mnist, "train-labels-idx1-ubyte.gz is MNIST's training labels (SHA-256 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5), not Fashion-MNIST's"},
	} {
		_, _, err := datasets.Load(c.name, c.dir)
		var wrong *datasets.WrongDatasetError
		if !errors.Is(err, datasets.ErrWrongDataset) || !errors.As(err, &wrong) || !strings.Contains(err.Error(), filepath.Join(c.dir, c.want)) {
			t.Errorf("Load(%q, %s): %v; want %q", c.name, c.dir, err, c.want)
		}
	}
	// MNIST's images and training labels with Fashion-MNIST's test labels,
	// uncompressed: the test labels are named.
	dir := t.TempDir()
	for _, f := range []string{datasets.TrainImagesFile, datasets.TrainLabelsFile, datasets.TestImagesFile} {
		copyFile(t, filepath.Join(mnist, f+".gz"), filepath.Join(dir, f+".gz"))
	}
	labels := gunzipFile(t, filepath.Join(fashion, datasets.TestLabelsFile+".gz"))
	raw := filepath.Join(dir, datasets.TestLabelsFile)
	if err := os.WriteFile(raw, labels, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := datasets.Load("mnist", dir)
	if want := raw + " is Fashion-MNIST's test labels (SHA-256 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34), not MNIST's"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Fashion-MNIST's raw test labels as mnist: %v; want %q", err, want)
	}
	// One label changed: neither set's file, a user's own data, loaded.
	labels[len(labels)-1] = (labels[len(labels)-1] + 1) % datasets.NumClasses
	if err := os.WriteFile(raw, labels, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, test, err := datasets.Load("mnist", dir); err != nil || test.Len() != 10000 {
		t.Errorf("labels of neither set: %v", err)
	}
	if _, _, err := datasets.Load("mnist", mnist); err != nil {
		t.Errorf("MNIST as mnist: %v", err)
	}
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSameData: the same name, set names of it, and MNIST with its
// embedded sample are the same data; Fashion-MNIST and MNIST are not.
func TestSameData(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"mnist", "mnist", true}, {"sample", "mnist", true}, {"mnist", "sample/test", true}, {"sample/train", "sample", true},
		{"imagenet", "imagenet", true}, {"fashion-mnist", "mnist", false}, {"sample", "fashion-mnist", false}, {"cifar10", "mnist", false},
	} {
		if got := datasets.SameData(c.a, c.b); got != c.same {
			t.Errorf("SameData(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
