package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/binnet/binnet/binnet/models"
	"github.com/binnet/binnet/binnet/training"
	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// dataOptions are the flags that choose the data.
type dataOptions struct {
	dataset   string
	dataDir   string
	valSize   int
	trainSize int
	testSize  int
	fetch     bool
	augment   string
	splitFile string
	splitSeed uint64
	imageSize int
	workers   int
}

func (o *dataOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.dataset, "dataset", "", "data set: mnist | fashion-mnist | sample | cifar10 | imagenet (any class-folder tree with train/ and val/) (default: sample, the embedded 12,000-image MNIST subset; with -data-dir, the preset's data set, mnist for the MLPs)")
	fs.StringVar(&o.dataDir, "data-dir", "", "folder with the data: the four IDX files (MNIST, Fashion-MNIST), cifar-10-batches-bin or its parent (CIFAR-10), train/ and val/ class folders (imagenet)")
	fs.IntVar(&o.valSize, "val-size", 0, "training examples held out for validation: MNIST's are the LAST ones as in the paper's code, CIFAR-10's a seeded random set (default: the preset's 5000; 1000 for the sample; imagenet validates on val/)")
	fs.IntVar(&o.trainSize, "train-size", 0, "use only the first N training examples (after the validation split), for short experiments (default: all)")
	fs.IntVar(&o.testSize, "test-size", 0, "use only the first N test examples, for short experiments (default: all)")
	fs.BoolVar(&o.fetch, "fetch", false, "download -dataset into the cache (checksums verified) when it is not there")
	fs.StringVar(&o.augment, "augment", "auto", "training augmentation: auto (on for cifar10 and imagenet as in the paper's code, off for MNIST-like sets) | on | off")
	fs.StringVar(&o.splitFile, "split-file", "", "CIFAR-10: a JSON file {\"train\": [...], \"validation\": [...]} (or \"val\") of training indices, e.g. the official cifar10_split0613.json")
	fs.Uint64Var(&o.splitSeed, "split-seed", 613, "CIFAR-10: seed of the random validation split when there is no -split-file")
	fs.IntVar(&o.imageSize, "image-size", 0, "imagenet: side of the square crops (default: the preset's 224); the network is rebuilt for it")
	fs.IntVar(&o.workers, "workers", 0, "imagenet: JPEG decoding goroutines (default: one per CPU)")
}

// load returns the data set's name and its three splits, and sets p.Network
// to the preset's network rebuilt for the data where the data dictates the
// input size or the number of classes (image folders).
func (o *dataOptions) load(ctx context.Context, p *models.Preset, stderr io.Writer) (string, training.Data, error) {
	name := datasetName(o, *p)
	var augment bool
	switch o.augment {
	case "auto":
		augment = name == "cifar10" || name == "imagenet"
	case "on":
		augment = true
	case "off":
	default:
		return "", training.Data{}, fmt.Errorf("-augment %q: want auto, on or off", o.augment)
	}
	if o.trainSize < 0 || o.valSize < 0 || o.testSize < 0 {
		return "", training.Data{}, errors.New("-train-size, -val-size and -test-size cannot be negative")
	}
	var data training.Data
	var err error
	switch name {
	case "cifar10":
		data, err = o.loadCIFAR10(ctx, *p, augment, stderr)
	case "imagenet":
		data, err = o.loadImageFolder(p, augment, stderr)
	case "sample", "mnist", "fashion-mnist":
		data, err = o.loadGray(ctx, name, *p, augment, stderr)
	default:
		err = fmt.Errorf("-dataset %q: want mnist, fashion-mnist, sample, cifar10 or imagenet", name)
	}
	if err != nil {
		return "", training.Data{}, err
	}
	return name, data, nil
}

// checkSizes rejects a -train-size or -test-size larger than the set it
// cuts, naming the flag.
func (o *dataOptions) checkSizes(train, val, test int) error {
	if o.trainSize > train {
		return fmt.Errorf("-train-size %d: only %d training examples after holding out %d for validation", o.trainSize, train, val)
	}
	if o.testSize > test {
		return fmt.Errorf("-test-size %d: the test set has %d examples", o.testSize, test)
	}
	return nil
}

// loadGray loads the MNIST-like 28x28 grey sets. A network that wants
// 32x32x3 colour images (the CIFAR-10 presets) gets them padded by 2 pixels
// and replicated to three channels, so the paper's conv networks run
// unchanged on real MNIST and Fashion-MNIST images.
func (o *dataOptions) loadGray(ctx context.Context, name string, p models.Preset, augment bool, stderr io.Writer) (training.Data, error) {
	var train, test *datasets.Set
	var err error
	switch {
	case name == "sample":
		if o.dataDir != "" {
			return training.Data{}, errors.New("-data-dir cannot be used with -dataset sample")
		}
		train, test, err = datasets.Sample()
	case o.dataDir != "":
		train, test, err = datasets.Load(name, o.dataDir)
	default:
		train, test, err = loadCached(ctx, name, o.fetch, stderr)
	}
	if wrong := (*datasets.WrongDatasetError)(nil); errors.As(err, &wrong) {
		return training.Data{}, fmt.Errorf("%w: use -dataset %s", err, wrong.Got)
	}
	if err != nil {
		return training.Data{}, err
	}
	// datasets.Load has checked that the test images have the training
	// images' size.
	if err := checkGrayShape(p, name, train); err != nil {
		return training.Data{}, err
	}
	val := o.valSize
	if val == 0 {
		val = p.Hyper.ValidationSize
		if name == "sample" || val == 0 {
			val = 1000
		}
	}
	tr, va, err := train.HoldOutLast(val)
	if err != nil {
		return training.Data{}, fmt.Errorf("-val-size: %w", err)
	}
	if err := o.checkSizes(tr.Len(), va.Len(), test.Len()); err != nil {
		return training.Data{}, err
	}
	if o.trainSize > 0 {
		tr = tr.Slice(0, o.trainSize)
	}
	if o.testSize > 0 {
		test = test.Slice(0, o.testSize)
	}
	mean, std := datasets.Normalization(name)
	shape := p.Network.InputShape()
	var data training.Data
	sets := []*datasets.Set{tr, va, test}
	dsts := []*training.Source{&data.Train, &data.Val, &data.Test}
	switch {
	case slices.Equal(shape, []int{cifar10.Rows, cifar10.Cols, cifar10.Channels}):
		for i, s := range sets {
			cs, err := cifar10.FromGray(s.Name, s.Rows, s.Cols, s.Images, s.Labels)
			if err != nil {
				return training.Data{}, err
			}
			src, err := cifar10.NewSource(cs, cifar10.SourceOptions{Augment: augment && i == 0,
				Mean: [3]float32{mean, mean, mean}, Std: [3]float32{std, std, std}})
			if err != nil {
				return training.Data{}, err
			}
			*dsts[i] = src
		}
	case augment:
		return training.Data{}, fmt.Errorf("-augment on: %s images have no augmentation for model %s (only the 32x32 colour models pad-crop-flip them)", name, p.Name)
	default:
		for i, s := range sets {
			ex, err := training.FromSet(s, mean, std, shape...)
			if err != nil {
				return training.Data{}, fmt.Errorf("model %s wants examples of shape %v; %s has %dx%d grey images: %w", p.Name, shape, name, s.Rows, s.Cols, err)
			}
			*dsts[i] = ex
		}
	}
	return data, nil
}

// checkGrayShape checks that the grey images of s (s.Rows x s.Cols pixels,
// one channel) fit the input of p's network (see checkGrayInput).
func checkGrayShape(p models.Preset, name string, s *datasets.Set) error {
	return checkGrayInput(p.Name, p.Network.InputShape(), name, s)
}

// checkGrayInput checks that the grey images of s (s.Rows x s.Cols pixels,
// one channel) fit a model's input shape want: a [rows, cols, 1] input must
// have the same rows and columns (comparing only the pixel counts would read
// 14x56 images as 28x28 ones), a flat [n] input (an MLP) n = rows*cols
// values, and a 32x32x3 input (the CIFAR-10 networks) images of at most
// 32x32, which are padded and replicated to three channels. The error names
// the data set, the images file, the shape found, the model and the shape
// wanted. binnet train checks its training images with it, binnet infer its
// test images.
func checkGrayInput(model string, want []int, name string, s *datasets.Set) error {
	file := s.File
	if file == "" {
		file = s.Name
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("data set %s: %s has grey images of %dx%d pixels (shape %dx%dx1), but model %s %s",
			name, file, s.Rows, s.Cols, s.Rows, s.Cols, model, fmt.Sprintf(format, a...))
	}
	switch {
	case slices.Equal(want, []int{cifar10.Rows, cifar10.Cols, cifar10.Channels}):
		if s.Rows > cifar10.Rows || s.Cols > cifar10.Cols {
			return fail("wants %s colour images, and only grey images of at most %dx%d can be padded to them", shapeString(want), cifar10.Rows, cifar10.Cols)
		}
	case len(want) == 3:
		if want[0] != s.Rows || want[1] != s.Cols || want[2] != 1 {
			return fail("wants %s images", shapeString(want))
		}
	case len(want) == 1:
		if want[0] != s.Rows*s.Cols {
			return fail("wants %d input values (flattened images), not %d", want[0], s.Rows*s.Cols)
		}
	default:
		return fail("wants examples of shape %s", shapeString(want))
	}
	return nil
}

// loadCIFAR10 loads the CIFAR-10 binary files and holds out the validation
// set: the indices of -split-file, or a seeded random draw.
func (o *dataOptions) loadCIFAR10(ctx context.Context, p models.Preset, augment bool, stderr io.Writer) (training.Data, error) {
	if got := p.Network.InputShape(); !slices.Equal(got, []int{cifar10.Rows, cifar10.Cols, cifar10.Channels}) {
		return training.Data{}, fmt.Errorf("model %s wants examples of shape %v, CIFAR-10 has 32x32x3 colour images", p.Name, got)
	}
	dir := o.dataDir
	if dir == "" {
		cache, err := datasets.DefaultCacheDir()
		if err != nil {
			return training.Data{}, err
		}
		if !o.fetch {
			dir = filepath.Join(cache, "cifar10")
		} else if dir, err = cifar10.FetchWithOptions(ctx, cache, cifar10.FetchOptions{Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}); err != nil {
			return training.Data{}, err
		}
	}
	train, test, err := cifar10.Load(dir)
	if err != nil {
		if o.dataDir == "" && !o.fetch {
			return training.Data{}, fmt.Errorf("%w (pass -data-dir DIR with cifar-10-batches-bin, or -fetch to download it)", err)
		}
		return training.Data{}, err
	}
	var tr, va *cifar10.Set
	if o.splitFile != "" {
		tr, va, err = cifar10.SplitFile(train, o.splitFile)
	} else {
		val := o.valSize
		if val == 0 {
			val = p.Hyper.ValidationSize
		}
		tr, va, err = cifar10.SplitSeeded(train, val, o.splitSeed)
	}
	if err != nil {
		return training.Data{}, err
	}
	if err := o.checkSizes(tr.Len(), va.Len(), test.Len()); err != nil {
		return training.Data{}, err
	}
	if o.trainSize > 0 {
		tr = tr.Slice(0, o.trainSize)
	}
	if o.testSize > 0 {
		test = test.Slice(0, o.testSize)
	}
	var data training.Data
	dsts := []*training.Source{&data.Train, &data.Val, &data.Test}
	for i, s := range []*cifar10.Set{tr, va, test} {
		src, err := cifar10.NewSource(s, cifar10.SourceOptions{Augment: augment && i == 0})
		if err != nil {
			return training.Data{}, err
		}
		*dsts[i] = src
	}
	return data, nil
}

// loadImageFolder opens DIR/train and DIR/val (ImageNet's layout: one folder
// per class) as streaming JPEG sources; val/ serves as both the validation
// and the test set, as in the paper's ImageNet code. The network is rebuilt
// for the crop size and the number of classes.
func (o *dataOptions) loadImageFolder(p *models.Preset, augment bool, stderr io.Writer) (training.Data, error) {
	if o.dataDir == "" {
		return training.Data{}, errors.New("-dataset imagenet needs -data-dir DIR with train/ and val/ class folders (ImageNet cannot be downloaded automatically)")
	}
	if o.trainSize > 0 || o.testSize > 0 {
		return training.Data{}, errors.New("-train-size and -test-size do not apply to imagenet: point -data-dir at a smaller folder tree")
	}
	size := o.imageSize
	if size == 0 {
		size = p.Network.InputShape()[0]
	}
	opts := imagefolder.Options{Size: size, Workers: o.workers, Name: "imagenet/train"}
	trainDir := filepath.Join(o.dataDir, "train")
	train, err := imagefolder.Open(trainDir, opts)
	if err != nil {
		return training.Data{}, err
	}
	if c := train.Classes(); len(c) < 2 {
		return training.Data{}, fmt.Errorf("%s has only 1 class folder, %q: classification needs at least 2 classes (one folder per class: train/<class>/<image>.JPEG)", trainDir, c[0])
	}
	// Every class must be validated (and tested): val/ must have a folder
	// for each class of train/.
	opts.Classes, opts.AllClasses, opts.Name = train.Classes(), true, "imagenet/val"
	val, err := imagefolder.Open(filepath.Join(o.dataDir, "val"), opts)
	if err != nil {
		return training.Data{}, err
	}
	ad, ok := p.Network.(models.Adaptable)
	if !ok {
		return training.Data{}, fmt.Errorf("model %s cannot be rebuilt for %dx%d images of %d classes", p.Name, size, size, len(train.Classes()))
	}
	if p.Network, err = ad.Adapt(train.ExampleShape(), len(train.Classes())); err != nil {
		return training.Data{}, err
	}
	var src training.Source = train
	if !augment {
		src = noAugment{train}
	}
	// Files are decoded only as batches need them, so the counts are of the
	// files listed; an unreadable one is skipped (replaced by a readable
	// file of its class) and listed when the run ends, and a class with no
	// readable file stops the run, naming it, at the latest during the first
	// epoch.
	fmt.Fprintf(stderr, "imagenet: %d image files listed in %s and %d in %s (%d classes); the example counts are of files listed, unreadable ones are skipped and listed at the end\n",
		train.Len(), trainDir, val.Len(), filepath.Join(o.dataDir, "val"), len(train.Classes()))
	return training.Data{Train: src, Val: val, Test: val}, nil
}

// noAugment serves a folder's evaluation transform for training batches too.
// It embeds the *imagefolder.Folder, not a training.Source, so that the
// folder's other methods, Skipped among them, stay visible.
type noAugment struct{ *imagefolder.Folder }

// Batch ignores rng.
func (n noAugment) Batch(indices []int, _ *rand.Rand, x []float32, y []int32) error {
	return n.Folder.Batch(indices, nil, x, y)
}

// loadCached loads the named MNIST-like data set from its folder in the
// cache (datasets.DefaultCacheDir: $BINNET_DATA or the user's cache). When
// the files fail to load, with fetch it downloads them (datasets.Fetch
// verifies the files there and downloads missing or damaged ones again);
// without fetch it says how to get the data when the files are absent, and
// otherwise returns the loader's error, which names the file.
func loadCached(ctx context.Context, name string, fetch bool, stderr io.Writer) (train, test *datasets.Set, err error) {
	cache, err := datasets.DefaultCacheDir()
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(cache, name)
	train, test, err = datasets.Load(name, dir)
	switch {
	case err == nil:
		return train, test, nil
	case fetch:
		dir, err := datasets.FetchWithOptions(ctx, name, cache, datasets.FetchOptions{Logf: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
		if err != nil {
			return nil, nil, err
		}
		return datasets.Load(name, dir)
	case errors.Is(err, datasets.ErrNotFound):
		if entries, derr := os.ReadDir(dir); derr != nil || len(entries) == 0 {
			return nil, nil, fmt.Errorf("data set %s is not in %s: pass -data-dir DIR with its IDX files, or -fetch to download it", name, dir)
		}
		return nil, nil, fmt.Errorf("data set %s is incomplete in %s: %w (pass -data-dir DIR with its IDX files, or -fetch to download the missing ones)", name, dir, err)
	default:
		return nil, nil, fmt.Errorf("%w (in the cache folder %s: -fetch verifies the cached files and downloads damaged ones again)", err, dir)
	}
}
