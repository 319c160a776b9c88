package cifar10_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/cifar10"
)

// Without CIFAR-10 at hand, MNIST digits can stand in for it: this example
// writes 600 digits of the embedded MNIST sample as CIFAR-10 batch files,
// loads them back like the real folder, holds out a validation set and reads
// an augmented training batch and a plain validation batch.
func Example() {
	train, _, err := datasets.Sample()
	if err != nil {
		log.Fatal(err)
	}
	digits, err := cifar10.FromGray("mnist", train.Rows, train.Cols, train.Images[:600*28*28], train.Labels[:600])
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cifar10-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for i, name := range append(cifar10.TrainFiles(), cifar10.TestFile) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			log.Fatal(err)
		}
		if err := cifar10.WriteBatch(f, digits.Slice(i*100, (i+1)*100)); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}

	// Real batch files hold 10,000 records each; these hold 100.
	trainSet, testSet, err := cifar10.LoadWithOptions(dir, cifar10.LoadOptions{AnyCount: true})
	if err != nil {
		log.Fatal(err)
	}
	trainSet, valSet, err := cifar10.SplitSeeded(trainSet, 50, 1)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []*cifar10.Set{trainSet, valSet, testSet} {
		fmt.Printf("%s: %d images\n", s.Name, s.Len())
	}

	src, err := cifar10.NewSource(trainSet, cifar10.SourceOptions{Augment: true})
	if err != nil {
		log.Fatal(err)
	}
	indices := []int{0, 1, 2, 3}
	x, y := make([]float32, len(indices)*cifar10.ImageSize), make([]int32, len(indices))
	if err := src.Batch(indices, rand.New(rand.NewPCG(1, 2)), x, y); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("training batch: %d values of shape %v per example, labels %v\n", len(x)/len(indices), src.ExampleShape(), y)

	val, err := cifar10.NewSource(valSet, cifar10.SourceOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := val.Batch(indices, nil, x, y); err != nil {
		log.Fatal(err)
	}
	// Red channel of the top-left pixel (a zero) of the first example.
	fmt.Printf("validation batch: labels %v, x[0] = %.4f\n", y, x[0])
	// Output:
	// cifar10/train[seed 1: train 450]: 450 images
	// cifar10/train[seed 1: val 50]: 50 images
	// cifar10/test: 100 images
	// training batch: 3072 values of shape [32 32 3] per example, labels [5 0 4 1]
	// validation batch: labels [8 5 1 4], x[0] = -2.4291
}

// Fetch CIFAR-10 into the default cache directory (once), load it and split
// it as the paper's code does, with its index file.
func ExampleFetch() {
	dir, err := cifar10.Fetch(context.Background(), "")
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := cifar10.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	// cifar10_split0613.json comes with github.com/rakutentech/iterative_training.
	train, val, err := cifar10.SplitFile(train, "cifar10_split0613.json")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Len(), val.Len(), test.Len()) // 45000 5000 10000
}
