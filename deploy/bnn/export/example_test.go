package export_test

import (
	"fmt"

	"github.com/binnet/binnet/deploy/bnn/export"
)

// The input normalization a .bnn model stores for a run: binnet's training
// normalizes MNIST with one mean and std (also when the images are padded
// to 32x32x3 for the CIFAR-10 networks) and CIFAR-10 per channel with the
// official code's values; a data set that does not fit the network's input
// is an error.
func ExampleNormalization() {
	mean, std, _ := export.Normalization("mnist", []int{784})
	fmt.Printf("mnist: mean %.4f std %.4f\n", mean, std)
	mean, std, _ = export.Normalization("cifar10", []int{32, 32, 3})
	fmt.Printf("cifar10: mean %.4f std %.4f\n", mean, std)
	_, _, err := export.Normalization("cifar10", []int{784})
	fmt.Println(err)
	// Output:
	// mnist: mean [0.1307] std [0.3081]
	// cifar10: mean [0.4914 0.4822 0.4465] std [0.2023 0.1994 0.2010]
	// export: data set cifar10 normalizes 3 channels, the network's input is [784]
}
