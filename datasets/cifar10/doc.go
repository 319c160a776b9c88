// Package cifar10 loads and downloads the CIFAR-10 image classification data
// set in its binary version (the folder cifar-10-batches-bin of
// cifar-10-binary.tar.gz), splits off a validation set, and serves
// normalized, optionally augmented batches for training, as the official
// code of "Iterative Training" (github.com/rakutentech/iterative_training)
// does with torchvision.
//
// A typical program fetches the archive once into a cache directory and
// loads the batch files from there:
//
//	dir, err := cifar10.Fetch(ctx, "") // "" means datasets.DefaultCacheDir()
//	if err != nil { ... }
//	train, test, err := cifar10.Load(dir)
//	if err != nil { ... }
//	// The paper's split: the index file cifar10_split0613.json of the
//	// official code, or a seeded random split of the same size.
//	train, val, err := cifar10.SplitFile(train, "cifar10_split0613.json")
//	if err != nil { ... }
//	src, err := cifar10.NewSource(train, cifar10.SourceOptions{Augment: true})
//	if err != nil { ... }
//	err = src.Batch(indices, rng, x, y) // x: len(indices)*32*32*3 float32
//
// Images are held as bytes in channels-last order (row, column, channel:
// 32 x 32 x 3 bytes per image), not in the channel-planar order of the
// files.
//
// Errors about a file name that file and what was wrong with it; they match
// [datasets.ErrNotFound], [datasets.ErrCorrupt] or [datasets.ErrChecksum]
// with [errors.Is], and [*datasets.FileError] with [errors.As].
//
// Machines without CIFAR-10 can stand in MNIST or Fashion-MNIST for it:
// [FromGray] pads their 28x28 gray images to 32x32 and copies the gray value
// into the three channels, and [WriteBatch] writes the result in the binary
// format.
package cifar10
