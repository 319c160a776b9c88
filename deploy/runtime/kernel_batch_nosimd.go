//go:build !(goexperiment.simd && amd64)

package runtime

// binaryDenseBlock runs the portable kernel of one column block for every
// example (this build has no SIMD kernel).
func binaryDenseBlock(col []uint64, x []float32, xStride, in int, tot []float64, out []float32, outStride, lanes int, run []float64, zs []float32) {
	binaryDenseBlockGeneric(col, x, xStride, in, tot, out, outStride, lanes, run, zs)
}

// binaryTotal returns the sum of x (see kernel_batch.go for the order).
func binaryTotal(x []float32) float64 { return binaryTotalGeneric(x) }
