// Package imagefolder streams labelled images from a class-folder tree (the
// layout of ImageNet's train/ and val/ folders, and of torchvision's
// ImageFolder): root/<class>/<image>.JPEG. It decodes, crops, resizes,
// flips and normalizes each batch on the fly with a pool of goroutines, so
// that only the list of file names stays in memory, whatever the size of the
// data set.
//
// A [*Folder] satisfies binnet/training's Source interface (String, Len,
// ExampleShape, Batch) without importing it. Examples are float32 images of
// shape [Size, Size, 3], channels last, with the per-channel normalization
// (pixel/255 - mean)/std.
//
// # Transforms
//
// The transforms follow the official code of "Iterative Training"
// (rakutentech/iterative_training, main_imagenet_binary.py and
// main_imagenet_float.py), which uses torchvision:
//
//	train: RandomResizedCrop(224), RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)
//	val:   Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)
//	mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225)
//
// [Folder.Batch] with a nil rng applies the evaluation transform: the shorter
// side is resized to [Options.ResizeSize] (256) and the centre
// [Options.Size]×[Options.Size] (224) is cut out. With a non-nil rng it
// applies the training transform selected by [Options.Train]: by default
// [RandomResizedCrop] (the official code's), or [ResizeRandomCrop], the
// simpler resize to 256 and random 224 crop; both are followed by a
// horizontal flip with probability 1/2.
//
// Resizing is bilinear with antialiasing when shrinking (the triangle filter
// is widened by the shrink factor), as PIL's bilinear resize that torchvision
// uses on PIL images; unlike PIL, intermediate values are not rounded to
// 8 bits. Crop and resize are done in one separable pass over only the part
// of the image the crop needs.
//
// # Files
//
// Class folders are the subfolders of root, sorted by name; a class's label
// is its index in that order (or in [Options.Classes], so that a validation
// folder uses the training folder's labels). Files directly inside a class
// folder whose names end in .jpeg, .jpg or .png (in any case) are its
// examples, sorted by name. Names starting with "." are ignored, as are
// other files and subfolders of class folders. The format is detected from
// the content, not the name: a PNG named .JPEG is read as PNG. Grayscale,
// CMYK, paletted, 16-bit and alpha images are converted to RGB (alpha is
// dropped, as PIL's convert("RGB") does).
//
// A file that cannot be read or decoded is skipped: the example is replaced
// by the next readable file of the same class (cyclically, in file order).
// The file is reported once in [Folder.Skipped] and not read again by later
// batches. A class none of whose files can be read is an error: Batch fails,
// naming the class folder ([ErrUnreadableClass]), as soon as it has tried all
// of them, which at the latest is during the first pass over the data (a
// training epoch reads every example). Files are only listed by [Open], so
// [Folder.Len] counts the files listed, readable or not; the unreadable ones
// are known as batches read them.
//
// [WriteFromGray] writes grayscale images such as MNIST's as a class-folder
// tree of JPEG or PNG files, so that the whole pipeline can be tried without
// ImageNet.
package imagefolder
