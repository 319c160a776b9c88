package imagefolder

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/binnet/binnet/datasets"
)

// ImageNet's per-channel mean and standard deviation (R, G, B) of pixels
// scaled to [0, 1], the values of the official code's Normalize.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Defaults of [Options].
const (
	DefaultSize       = 224     // Options.Size
	DefaultResizeSize = 256     // Options.ResizeSize for the default Size
	DefaultMaxPixels  = 1 << 26 // Options.MaxPixels: 67M pixels, e.g. 8192×8192
)

// ErrUnknownClass means a class folder is not among the classes given in
// [Options.Classes]: for example a val/ folder that the train/ folder
// lacks. Errors of [Open] wrap it in a [*datasets.FileError] naming the
// folder.
var ErrUnknownClass = errors.New("imagefolder: class not in the given class list")

// ErrUnreadableClass means that none of the image files of a class folder
// could be read or decoded. [Folder.Batch] returns it, in a
// [*datasets.FileError] naming the class folder that also wraps the error of
// the class's first file, as soon as it has tried every file of the class.
var ErrUnreadableClass = errors.New("imagefolder: no image of the class can be read")

// TrainTransform selects the random crop of the training transform, which
// [Folder.Batch] applies when given a non-nil rng. Both are followed by a
// horizontal flip with probability 1/2.
type TrainTransform int

const (
	// RandomResizedCrop, the default, is torchvision's
	// RandomResizedCrop(Size), the training transform of the official
	// code: a crop of a random fraction of the image's area in
	// [Options.Scale] (0.08 to 1) and a random aspect ratio in
	// [Options.Ratio] (3/4 to 4/3, drawn uniformly in log scale) at a
	// random position, resized to Size×Size. When 10 tries find no crop
	// that fits the image, the largest centred crop with an aspect ratio
	// in range is used.
	RandomResizedCrop TrainTransform = iota
	// ResizeRandomCrop is Resize(ResizeSize) followed by RandomCrop(Size):
	// the shorter side is resized to ResizeSize (256) and a Size×Size
	// (224) square is cut at a random position. It is the evaluation
	// transform with a random instead of a centred crop, and augments less
	// than RandomResizedCrop (no zoom, no change of aspect ratio).
	ResizeRandomCrop
)

// String returns the transform's name as in this package.
func (t TrainTransform) String() string {
	switch t {
	case RandomResizedCrop:
		return "RandomResizedCrop"
	case ResizeRandomCrop:
		return "ResizeRandomCrop"
	}
	return fmt.Sprintf("TrainTransform(%d)", int(t))
}

// Options configures [Open]. The zero value gives the official code's
// ImageNet settings: 224×224 examples, RandomResizedCrop for training,
// resize 256 and centre crop 224 for evaluation, ImageNet normalization and
// one worker per CPU.
type Options struct {
	// Size is the side of the square examples (default 224), at most
	// MaxSize, and Size×Size at most MaxPixels.
	Size int
	// ResizeSize is the length the shorter side is resized to before the
	// centre crop of the evaluation transform and the random crop of
	// ResizeRandomCrop. It must be at least Size. The default is
	// Size*256/224 rounded down: 256 for 224, 36 for 32 (the crop keeps
	// 7/8 of the shorter side). Bounded as Size is.
	ResizeSize int
	// Train is the training transform (default RandomResizedCrop).
	Train TrainTransform
	// Scale is RandomResizedCrop's range of the crop's area as a fraction
	// of the image's (default {0.08, 1}).
	Scale [2]float64
	// Ratio is RandomResizedCrop's range of the crop's aspect ratio,
	// width/height (default {3/4, 4/3}).
	Ratio [2]float64
	// Mean and Std normalize each channel (R, G, B) of pixels scaled to
	// [0, 1]: (pixel/255 - Mean)/Std. If Std is all zero, both default to
	// ImageNetMean and ImageNetStd (so Mean {0, 0, 0}, Std {1, 1, 1} only
	// scales to [0, 1]).
	Mean, Std [3]float32
	// Workers is the number of goroutines that decode the files of a batch
	// (0: runtime.NumCPU(); negative is an error).
	Workers int
	// Classes, if not nil, is the class list that gives labels: a class
	// folder's label is its index in Classes, and a folder not in it is an
	// error matching ErrUnknownClass. Pass the training folder's Classes()
	// when opening the validation folder. Classes in the list need not
	// have a folder, unless AllClasses is set.
	Classes []string
	// AllClasses makes Open refuse a root that lacks a folder for one of
	// Classes, with an error naming the class that matches
	// datasets.ErrNotFound: set it when opening a validation folder that
	// must cover every class of the training folder.
	AllClasses bool
	// Name names the set in messages and String (default: root).
	Name string
	// MaxPixels is the largest width×height of an image that is decoded;
	// larger ones are skipped as corrupt, before their pixels are
	// allocated (0: DefaultMaxPixels; negative is an error).
	MaxPixels int
}

// withDefaults returns o with zero fields set to their defaults, or an error
// for invalid values.
func (o Options) withDefaults() (Options, error) {
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Workers < 0 {
		return o, fmt.Errorf("imagefolder: Workers %d: want >= 0 (0: one per CPU)", o.Workers)
	}
	if o.MaxPixels < 0 {
		return o, fmt.Errorf("imagefolder: MaxPixels %d: want >= 0 (0: DefaultMaxPixels)", o.MaxPixels)
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	// Bounded before any arithmetic: an example has Size×Size×3 values,
	// which for a Size of 1<<32 overflowed to 0.
	if err := checkSide("Size", o.Size, o.MaxPixels); err != nil {
		return o, err
	}
	resizeDefault := o.ResizeSize == 0
	if resizeDefault {
		o.ResizeSize = o.Size * DefaultResizeSize / DefaultSize
	}
	if o.ResizeSize > 0 && o.ResizeSize >= o.Size {
		if err := checkSide("ResizeSize", o.ResizeSize, o.MaxPixels); err != nil {
			if resizeDefault {
				return o, fmt.Errorf("%w (the default for Size %d, Size*%d/%d)", err, o.Size, DefaultResizeSize, DefaultSize)
			}
			return o, err
		}
	}
	if o.Scale == [2]float64{} {
		o.Scale = [2]float64{0.08, 1}
	}
	if o.Ratio == [2]float64{} {
		o.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	if o.Std == [3]float32{} {
		o.Mean, o.Std = ImageNetMean, ImageNetStd
	}
	if o.Workers == 0 {
		o.Workers = runtime.NumCPU()
	}
	switch {
	case o.ResizeSize < o.Size:
		return o, fmt.Errorf("imagefolder: ResizeSize %d is smaller than Size %d", o.ResizeSize, o.Size)
	case o.Train != RandomResizedCrop && o.Train != ResizeRandomCrop:
		return o, fmt.Errorf("imagefolder: unknown %v", o.Train)
	case !(o.Scale[0] > 0 && o.Scale[0] <= o.Scale[1]) || math.IsInf(o.Scale[1], 0):
		return o, fmt.Errorf("imagefolder: Scale %v: want 0 < Scale[0] <= Scale[1]", o.Scale)
	case !(o.Ratio[0] > 0 && o.Ratio[0] <= o.Ratio[1]) || math.IsInf(o.Ratio[1], 0):
		return o, fmt.Errorf("imagefolder: Ratio %v: want 0 < Ratio[0] <= Ratio[1]", o.Ratio)
	}
	for c, s := range o.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(o.Mean[c])) || math.IsInf(float64(o.Mean[c]), 0) {
			return o, fmt.Errorf("imagefolder: Mean %v, Std %v: want finite values and Std > 0", o.Mean, o.Std)
		}
	}
	return o, nil
}

// MaxSize is the largest Size and ResizeSize of [Options]; the square of
// either must also be at most MaxPixels.
const MaxSize = 1 << 15

// checkSide checks the side of a square image (Options' field name): 1..
// MaxSize, and its square at most maxPixels.
func checkSide(field string, side, maxPixels int) error {
	if side <= 0 {
		return fmt.Errorf("imagefolder: %s %d: want > 0", field, side)
	}
	if side > MaxSize {
		return fmt.Errorf("imagefolder: %s %d: want at most %d", field, side, MaxSize)
	}
	if side > maxPixels/side {
		return fmt.Errorf("imagefolder: %s %d: %d×%d is more than MaxPixels %d", field, side, side, side, maxPixels)
	}
	return nil
}

// Folder is a class-folder image set opened by [Open]. It holds the list of
// file names and the labels, never decoded images. Its methods are safe for
// concurrent use.
type Folder struct {
	root    string
	opts    Options
	classes []string

	// The files, sorted by label and then name: file i is
	// root/classes[labels[i]]/names[ends[i-1]:ends[i]]. Names are packed
	// in one byte slice to keep the memory and the pointers that the
	// garbage collector scans small for millions of files.
	names      []byte
	ends       []uint32
	labels     []int32
	classStart []int // files of label l are classStart[l]:classStart[l+1]

	mul, add [3]float32 // normalization of a 0..255 value: v*mul + add

	mu      sync.Mutex
	bad     map[int]error // unreadable files, by index
	skipped []SkippedFile // the same, in the order found
}

// SkippedFile is a file that could not be read or decoded and was replaced
// (see [Folder.Skipped]).
type SkippedFile struct {
	Index int    // its index in the Folder
	Path  string // its path
	Err   error  // why: a *datasets.FileError matching datasets.ErrCorrupt, datasets.ErrNotFound, or neither for other I/O errors
}

// Open lists the images of the class-folder tree at root: the subfolders of
// root are the classes (sorted by name, or as given by opts.Classes) and
// the .jpeg, .jpg and .png files in each (any case, sorted by name) are
// their examples. No image is read until [Folder.Batch].
//
// A missing root gives an error matching [datasets.ErrNotFound]; so do a
// root without class folders and a class folder without image files, which
// the error names. A class folder not in opts.Classes gives an error
// matching [ErrUnknownClass]; with opts.AllClasses, a class of opts.Classes
// without a folder in root gives one matching [datasets.ErrNotFound] that
// names it. All are [*datasets.FileError] values.
func Open(root string, opts Options) (*Folder, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = root
	}
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &datasets.FileError{Path: root, Kind: datasets.ErrNotFound, Msg: "image folder not found", Err: err}
		}
		return nil, &datasets.FileError{Path: root, Msg: "cannot access", Err: err}
	}
	if !fi.IsDir() {
		return nil, &datasets.FileError{Path: root, Kind: datasets.ErrNotFound, Msg: "is not a folder"}
	}
	folders, err := ClassFolders(root)
	if err != nil {
		return nil, err
	}
	if len(folders) == 0 {
		return nil, &datasets.FileError{Path: root, Kind: datasets.ErrNotFound,
			Msg: "has no class folders (want root/<class>/<image>.JPEG)"}
	}

	classes := folders
	if opts.Classes != nil {
		classes = slices.Clone(opts.Classes)
		index := make(map[string]int, len(classes))
		for i, c := range classes {
			if c == "" || strings.ContainsAny(c, `/\`) || c == "." || c == ".." {
				return nil, fmt.Errorf("imagefolder: Options.Classes[%d] = %q is not a folder name", i, c)
			}
			if j, dup := index[c]; dup {
				return nil, fmt.Errorf("imagefolder: Options.Classes[%d] and [%d] are both %q", j, i, c)
			}
			index[c] = i
		}
		for _, name := range folders {
			if _, ok := index[name]; !ok {
				return nil, &datasets.FileError{Path: filepath.Join(root, name), Kind: ErrUnknownClass,
					Msg: fmt.Sprintf("class %q is not among the %d given classes", name, len(classes))}
			}
		}
	}
	present := make(map[string]bool, len(folders))
	for _, name := range folders {
		present[name] = true
	}
	if opts.AllClasses {
		var missing, quoted []string
		for _, c := range classes {
			if !present[c] {
				missing = append(missing, c)
				quoted = append(quoted, fmt.Sprintf("%q", c))
			}
		}
		if len(missing) > 0 {
			list := strings.Join(quoted[:min(len(quoted), 5)], ", ")
			if len(quoted) > 5 {
				list += fmt.Sprintf(" and %d more", len(quoted)-5)
			}
			return nil, &datasets.FileError{Path: filepath.Join(root, missing[0]), Kind: datasets.ErrNotFound,
				Msg: fmt.Sprintf("no folder for class %s (%d of the %d given classes missing; want root/<class>/<image>.JPEG for every class)",
					list, len(missing), len(classes))}
		}
	}

	f := &Folder{root: root, opts: opts, classes: classes, classStart: make([]int, len(classes)+1)}
	for label, class := range classes {
		f.classStart[label] = len(f.labels)
		if !present[class] {
			continue
		}
		dir := filepath.Join(root, class)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, &datasets.FileError{Path: dir, Msg: "cannot list class folder", Err: err}
		}
		before := len(f.labels)
		for _, e := range entries { // sorted by name
			name := e.Name()
			if strings.HasPrefix(name, ".") || !imageExt(name) || !(e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0) {
				continue
			}
			f.names = append(f.names, name...)
			if uint64(len(f.names)) > math.MaxUint32 {
				return nil, fmt.Errorf("imagefolder: %s: file names take more than 4 GiB", root)
			}
			f.ends = append(f.ends, uint32(len(f.names)))
			f.labels = append(f.labels, int32(label))
		}
		if len(f.labels) == before {
			return nil, &datasets.FileError{Path: dir, Kind: datasets.ErrNotFound,
				Msg: fmt.Sprintf("class folder %q has no .jpeg, .jpg or .png files", class)}
		}
	}
	f.classStart[len(classes)] = len(f.labels)
	f.names = slices.Clip(f.names)
	f.ends = slices.Clip(f.ends)
	f.labels = slices.Clip(f.labels)
	for c := range 3 {
		f.mul[c] = 1 / (255 * opts.Std[c])
		f.add[c] = -opts.Mean[c] / opts.Std[c]
	}
	return f, nil
}

// ClassFolders returns the names of the subfolders of root (following
// symbolic links), sorted, without those starting with ".": the classes
// Open finds in root when Options.Classes is empty.
func ClassFolders(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, &datasets.FileError{Path: root, Msg: "cannot list", Err: err}
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(root, name)); err == nil {
				isDir = fi.IsDir()
			}
		}
		if isDir {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// imageExt reports whether name ends in .jpeg, .jpg or .png, in any case.
func imageExt(name string) bool {
	ext := filepath.Ext(name)
	return strings.EqualFold(ext, ".jpeg") || strings.EqualFold(ext, ".jpg") || strings.EqualFold(ext, ".png")
}

// String returns the set's name: Options.Name, or the root folder.
func (f *Folder) String() string { return f.opts.Name }

// Len returns the number of image files listed, readable or not: files are
// read only by [Folder.Batch], so an unreadable file is known only once a
// batch has asked for it (see [Folder.Skipped]).
func (f *Folder) Len() int { return len(f.labels) }

// Fingerprint identifies the examples without reading the images: the
// number of files, the CRC-32C of the class names and file names in order,
// and the example size (binnet/training records it so that a run does not
// resume on another folder tree; files replaced under the same names are not
// detected).
func (f *Folder) Fingerprint() string {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	for _, c := range f.classes {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	h.Write(f.names)
	for _, e := range f.ends {
		h.Write([]byte{byte(e), byte(e >> 8), byte(e >> 16), byte(e >> 24)})
	}
	return fmt.Sprintf("%d files of %d classes, names crc32c %08x, %dx%d", f.Len(), len(f.classes), h.Sum32(), f.opts.Size, f.opts.Size)
}

// ExampleShape returns [Size, Size, 3]: an example is a Size×Size RGB image,
// channels last.
func (f *Folder) ExampleShape() []int { return []int{f.opts.Size, f.opts.Size, 3} }

// Classes returns the class names, indexed by label: the class folders
// sorted by name, or Options.Classes.
func (f *Folder) Classes() []string { return slices.Clone(f.classes) }

// Options returns the options in effect, defaults filled in.
func (f *Folder) Options() Options {
	o := f.opts
	o.Classes = slices.Clone(o.Classes)
	return o
}

// Path returns the path of file i, 0 <= i < Len(); it panics outside that
// range, as a slice index does.
func (f *Folder) Path(i int) string {
	start := uint32(0)
	if i > 0 {
		start = f.ends[i-1]
	}
	return filepath.Join(f.root, f.classes[f.labels[i]], string(f.names[start:f.ends[i]]))
}

// Label returns the label of file i, 0 <= i < Len(): the index of its class
// in Classes().
func (f *Folder) Label(i int) int { return int(f.labels[i]) }

// ClassRange returns the indices [from, to) of the files of a label.
func (f *Folder) ClassRange(label int) (from, to int) {
	return f.classStart[label], f.classStart[label+1]
}

// Skipped returns the files found unreadable so far, sorted by index. Each
// is reported once; later batches replace it without reading it again.
func (f *Folder) Skipped() []SkippedFile {
	f.mu.Lock()
	s := slices.Clone(f.skipped)
	f.mu.Unlock()
	slices.SortFunc(s, func(a, b SkippedFile) int { return a.Index - b.Index })
	return s
}

// isBad reports whether file i is known to be unreadable.
func (f *Folder) isBad(i int) bool {
	f.mu.Lock()
	_, bad := f.bad[i]
	f.mu.Unlock()
	return bad
}

// markBad records that file i is unreadable, once.
func (f *Folder) markBad(i int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.bad[i]; dup {
		return
	}
	if f.bad == nil {
		f.bad = map[int]error{}
	}
	f.bad[i] = err
	f.skipped = append(f.skipped, SkippedFile{Index: i, Path: f.Path(i), Err: err})
}

// unreadableClass returns the error of a class none of whose files can be
// read: a *datasets.FileError naming the class folder, matching
// ErrUnreadableClass and wrapping the first file's error.
func (f *Folder) unreadableClass(label int32) error {
	from, to := f.classStart[label], f.classStart[label+1]
	var first error
	f.mu.Lock()
	for j := from; j < to && first == nil; j++ {
		first = f.bad[j]
	}
	f.mu.Unlock()
	class := f.classes[label]
	msg := fmt.Sprintf("class %q of %s: none of its %d image files can be read", class, f, to-from)
	if first != nil {
		msg += "; the first"
	}
	return &datasets.FileError{Path: filepath.Join(f.root, class), Kind: ErrUnreadableClass, Err: first, Msg: msg}
}
