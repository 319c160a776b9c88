package runtime

import "math"

// The convolution kernels compute, for the output channels of one block (at
// most 64) at one output position, z_j = sum over the window's in-bounds taps
// t and input channels c of s_j*x, with x = x[t.x+c] and s_j = +1 where bit j
// of the word bits[t.w+c] is 1 and -1 where it is 0. Without multiplying:
// with P_j the sum of the inputs whose weight to channel j is +1 (x added
// where the bit is set, nothing added where it is not) and T the sum of all
// the window's inputs, z_j = P_j - (T - P_j), computed as (P_j + P_j) - T.
// Taps and channels are summed in order, one accumulator per channel, so the
// SIMD kernels give the same bits as the portable one.

// binaryConvGeneric is the portable convolution kernel; it writes z_j into
// acc[j] for j < lanes. Where the bit is 0, x's bits are ANDed away (+0 is
// added), never multiplied.
func binaryConvGeneric(bits []uint64, x []float32, taps []tap, inC, lanes int, acc []float32) {
	acc = acc[:lanes]
	clear(acc)
	var total float32
	for _, t := range taps {
		xs := x[t.x : t.x+inC]
		ws := bits[t.w : t.w+inC]
		for c, w := range ws {
			v := xs[c]
			total += v
			xb := math.Float32bits(v)
			for j := range acc {
				keep := -uint32(w >> uint(j) & 1) // all ones where the weight is +1
				acc[j] += math.Float32frombits(xb & keep)
			}
		}
	}
	for j := range acc {
		acc[j] = (acc[j] + acc[j]) - total
	}
}
