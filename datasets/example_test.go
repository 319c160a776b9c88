package datasets_test

import (
	"context"
	"fmt"
	"log"

	"github.com/binnet/binnet/datasets"
)

// The embedded sample needs no download.
func ExampleSample() {
	train, test, err := datasets.Sample()
	if err != nil {
		log.Fatal(err)
	}
	train, val, err := train.HoldOutLast(1000)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []*datasets.Set{train, val, test} {
		fmt.Printf("%s: %d images of %dx%d, first label %d\n", s.Name, s.Len(), s.Rows, s.Cols, s.Labels[0])
	}
	x := train.Features(datasets.Normalization(train.Name))
	fmt.Printf("%d features, first %.4f\n", len(x), x[0])
	// Output:
	// sample/train[0:9000]: 9000 images of 28x28, first label 5
	// sample/train[9000:10000]: 1000 images of 28x28, first label 6
	// sample/test: 2000 images of 28x28, first label 7
	// 7056000 features, first -0.4242
}

// Fetch the full MNIST into the default cache directory (once) and load it,
// holding out the last 5,000 training examples for validation as the paper's
// code does.
func ExampleLoad() {
	dir, err := datasets.Fetch(context.Background(), "mnist", "")
	if err != nil {
		log.Fatal(err)
	}
	train, test, err := datasets.Load("mnist", dir)
	if err != nil {
		log.Fatal(err)
	}
	train, val, err := train.HoldOutLast(5000)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Len(), val.Len(), test.Len())
}
