// Package datasets loads and downloads the MNIST and Fashion-MNIST image
// classification data sets in their original IDX format, and embeds a small
// MNIST sample (the first 10,000 training and 2,000 test examples) so that
// examples and tests can run without any download.
//
// A typical program fetches the files once into a cache directory and loads
// them from there:
//
//	dir, err := datasets.Fetch(ctx, "mnist", "") // "" means DefaultCacheDir()
//	if err != nil { ... }
//	train, test, err := datasets.Load("mnist", dir)
//	if err != nil { ... }
//	train, val, err := train.HoldOutLast(5000)
//	mean, std := datasets.Normalization(train.Name)
//	x := train.Features(mean, std)
//
// Errors about a file name that file and what was wrong with it; they match
// [ErrNotFound], [ErrCorrupt] or [ErrChecksum] with [errors.Is], and
// [*FileError] with [errors.As].
package datasets
