//go:build !(goexperiment.simd && amd64)

package runtime

// useSIMD is false: this build has no SIMD kernel.
const useSIMD = false

// binarySums is never called without SIMD; it falls back to the portable kernel.
func binarySums(bits []uint64, words int, x, neg, out []float32) {
	binarySumsGeneric(bits, words, x, out)
}

// Kernel names the binary kernel in use.
func Kernel() string { return "generic (sign-bit XOR + add)" }
