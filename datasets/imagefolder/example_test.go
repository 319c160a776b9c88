package imagefolder_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/binnet/binnet/datasets"
	"github.com/binnet/binnet/datasets/imagefolder"
)

// Write 30 MNIST digits of the embedded sample as 64×64 colour JPEGs in
// train/ and val/ class folders, and read them back as 32×32 examples:
// training batches with RandomResizedCrop and flips, validation batches
// with resize and centre crop, the validation folder using the training
// folder's labels.
func ExampleOpen() {
	set, _, err := datasets.Sample()
	if err != nil {
		log.Fatal(err)
	}
	root, err := os.MkdirTemp("", "imagefolder-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	// Classes are sorted by folder name: "digit0" gets label 0, and so on.
	classes := []string{"digit0", "digit1", "digit2", "digit3", "digit4", "digit5", "digit6", "digit7", "digit8", "digit9"}
	n := 784 // 28×28
	opts := imagefolder.WriteOptions{Width: 64, Height: 64, RGB: true}
	if err := imagefolder.WriteFromGray(filepath.Join(root, "train"), classes, 28, 28, set.Images[:20*n], set.Labels[:20], opts); err != nil {
		log.Fatal(err)
	}
	if err := imagefolder.WriteFromGray(filepath.Join(root, "val"), classes, 28, 28, set.Images[20*n:30*n], set.Labels[20:30], opts); err != nil {
		log.Fatal(err)
	}

	train, err := imagefolder.Open(filepath.Join(root, "train"), imagefolder.Options{Size: 32, ResizeSize: 36, Name: "digits/train"})
	if err != nil {
		log.Fatal(err)
	}
	val, err := imagefolder.Open(filepath.Join(root, "val"), imagefolder.Options{Size: 32, ResizeSize: 36, Classes: train.Classes(), Name: "digits/val"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train, train.Len(), train.ExampleShape(), train.Classes()[:3])
	fmt.Println(val, val.Len())

	rng := rand.New(rand.NewPCG(1, 2))
	indices := rng.Perm(train.Len())[:8]
	x := make([]float32, len(indices)*32*32*3)
	y := make([]int32, len(indices))
	if err := train.Batch(indices, rng, x, y); err != nil { // training transform
		log.Fatal(err)
	}
	fmt.Println("train labels", y)
	if err := val.Batch([]int{0, 1, 2, 3, 4, 5, 6, 7}, nil, x, y); err != nil { // evaluation transform
		log.Fatal(err)
	}
	fmt.Println("val labels", y)
	// Output:
	// digits/train 20 [32 32 3] [digit0 digit1 digit2]
	// digits/val 10
	// train labels [3 5 9 3 3 4 8 1]
	// val labels [0 1 1 2 2 3 4 4]
}
