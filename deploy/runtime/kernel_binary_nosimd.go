//go:build !(goexperiment.simd && amd64)

package runtime

// useSIMD is false: this build has no SIMD kernel.
const useSIMD = false

// binarySums is never called without SIMD; it falls back to the portable kernel.
func binarySums(bits []uint64, words int, x, neg, out []float32) {
	binarySumsGeneric(bits, words, x, out)
}

// binaryConvBlock runs the portable convolution kernel.
func binaryConvBlock(bits []uint64, x []float32, taps []tap, inC, lanes int, acc []float32) {
	binaryConvGeneric(bits, x, taps, inC, lanes, acc)
}

// binaryConvBlock2 runs the portable kernel at two positions, the second
// reading x dx values further.
func binaryConvBlock2(bits []uint64, x []float32, taps []tap, inC, lanes, dx int, acc0, acc1 []float32) {
	binaryConvGeneric(bits, x, taps, inC, lanes, acc0)
	binaryConvGeneric(bits, x[dx:], taps, inC, lanes, acc1)
}

// Kernel names the binary kernel in use.
func Kernel() string {
	return "generic (dense of 64+ outputs: input bits ANDed with the weight bit's mask + add, z = 2P - T; smaller dense: sign-bit XOR + add; conv: sign-bit AND + add)"
}
