package runtime

import "math"

// The binary kernels live in the kernel_binary*.go files. They compute, for
// each output o, z[o] = sum_i s_oi*x_i where s_oi = +1 when bit i of row o is
// set and -1 otherwise, WITHOUT multiplying: x_i enters the sum either as is
// or with its sign flipped. TestBinaryKernelsAreAddOnly parses these files
// and fails if a function whose name starts with "binary" contains a
// multiplication or a division, or calls anything outside a short list of
// bit, load/store and add/select operations.

// binarySumsGeneric is the portable kernel: it flips the IEEE-754 sign bit of
// x_i where the weight is -1 (XOR with the inverted weight bit moved to bit
// 31) and adds. x holds 64*words values, zero past the live inputs, so that
// padding bits (0, weight -1) add -0.
func binarySumsGeneric(bits []uint64, words int, x []float32, out []float32) {
	row := 0
	for o := range out {
		var a0, a1, a2, a3 float32
		base := 0
		for _, w := range bits[row : row+words] {
			flip := ^w // bit i set where the weight of input base+i is -1
			xs := x[base : base+64]
			for j := 0; j < 64; j += 4 {
				f := flip >> uint(j)
				a0 += math.Float32frombits(math.Float32bits(xs[j]) ^ uint32(f&1)<<31)
				a1 += math.Float32frombits(math.Float32bits(xs[j+1]) ^ uint32(f>>1&1)<<31)
				a2 += math.Float32frombits(math.Float32bits(xs[j+2]) ^ uint32(f>>2&1)<<31)
				a3 += math.Float32frombits(math.Float32bits(xs[j+3]) ^ uint32(f>>3&1)<<31)
			}
			base += 64
		}
		row += words
		out[o] = (a0 + a1) + (a2 + a3)
	}
}
