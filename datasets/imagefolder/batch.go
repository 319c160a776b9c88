package imagefolder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/binnet/binnet/datasets"
)

// Batch writes the examples at indices into x, which must hold
// len(indices)*Size*Size*3 values (example after example, each Size×Size×3,
// channels last), and their labels into y, which must hold len(indices)
// values.
//
// With a nil rng it applies the evaluation transform (resize the shorter
// side to ResizeSize, centre crop Size); with a non-nil rng the training
// transform of Options.Train and a random horizontal flip. All random
// choices are drawn from rng, in index order, before any file is read, so x
// and y depend only on the files and rng's state, not on Workers or
// scheduling.
//
// The files are read and decoded by Options.Workers goroutines; decoded
// images are dropped as soon as their example is written. An unreadable
// file is replaced as described in the package documentation and reported
// by [Folder.Skipped]; Batch fails only for invalid arguments or when an
// example's class has no readable file at all: then the error, matching
// [ErrUnreadableClass], names the class folder. Every file of a class is
// tried before that error (each at most once over the Folder's life), so a
// training epoch, which asks for every example, finds any unreadable class.
func (f *Folder) Batch(indices []int, rng *rand.Rand, x []float32, y []int32) error {
	n := len(indices)
	es := f.opts.Size * f.opts.Size * 3
	if len(x) != n*es || len(y) != n {
		return fmt.Errorf("imagefolder: %s: Batch of %d examples of %d values needs len(x) = %d and len(y) = %d, got %d and %d",
			f, n, es, n*es, n, len(x), len(y))
	}
	for _, i := range indices {
		if i < 0 || i >= len(f.labels) {
			return fmt.Errorf("imagefolder: %s: index %d out of range 0..%d", f, i, len(f.labels)-1)
		}
	}
	if n == 0 {
		return nil
	}
	var aug []augment
	if rng != nil {
		aug = make([]augment, n)
		for k := range aug {
			aug[k].draw(f.opts.Train, rng)
		}
	}
	errs := make([]error, n)
	run := func(w *worker, k int) {
		var a *augment
		if aug != nil {
			a = &aug[k]
		}
		y[k], errs[k] = f.example(w, indices[k], a, x[k*es:(k+1)*es])
	}
	if workers := min(f.opts.Workers, n); workers == 1 {
		w := new(worker)
		for k := range n {
			run(w, k)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				w := new(worker)
				for {
					k := int(next.Add(1)) - 1
					if k >= n {
						return
					}
					run(w, k)
				}
			})
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// example writes the example of file i, or of its replacement if i is
// unreadable, into out and returns its label. The replacement is the next
// readable file of i's class, cyclically in file order; when every file of
// the class has failed, the class is unreadable and example returns an error
// naming it rather than use another class's image (which would train on,
// or evaluate, examples of the class under another label).
func (f *Folder) example(w *worker, i int, a *augment, out []float32) (int32, error) {
	l := f.labels[i]
	from, to := f.classStart[l], f.classStart[l+1]
	n := to - from
	for t := range n {
		j := from + (i-from+t)%n
		if f.isBad(j) {
			continue
		}
		err := f.load(w, j, a, out)
		if err == nil {
			return l, nil
		}
		f.markBad(j, err)
	}
	return 0, f.unreadableClass(l)
}

// load reads, decodes and transforms file i into out.
func (f *Folder) load(w *worker, i int, a *augment, out []float32) error {
	path := f.Path(i)
	var err error
	w.buf, err = readFile(path, w.buf[:0])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &datasets.FileError{Path: path, Kind: datasets.ErrNotFound, Msg: "not found", Err: err}
		}
		return &datasets.FileError{Path: path, Msg: "cannot read", Err: err}
	}
	img, err := decode(w.buf, f.opts.MaxPixels)
	if err != nil {
		return &datasets.FileError{Path: path, Kind: datasets.ErrCorrupt, Msg: "cannot decode image", Err: err}
	}
	b := img.Bounds()
	sx, sy := geometry(b.Dx(), b.Dy(), &f.opts, a)
	w.transform(img, sx, sy, f.opts.Size, a != nil && a.flip, &f.mul, &f.add, out)
	return nil
}

// readFile appends the content of the file at path to buf.
func readFile(path string, buf []byte) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer file.Close()
	if fi, err := file.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<31 {
		buf = slices.Grow(buf, int(fi.Size())+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		m, err := file.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
