//go:build goexperiment.simd && amd64

package runtime

import "simd/archsimd"

// useSIMD is true on CPUs with AVX-512 (checked at start-up).
var useSIMD = archsimd.X86.AVX512()

// Kernel names the binary kernel in use.
func Kernel() string {
	if useSIMD {
		return "avx512 (dense of 64+ outputs: masked add of each input to 64 outputs' sums, z = 2P - T; smaller dense: masked select of x or -x + add, 16 lanes; conv: masked add over 64 channels)"
	}
	return "generic (sign-bit XOR + add; conv: sign-bit AND + add)"
}

// binarySums is the AVX-512 kernel: neg receives -x once per layer; then for
// each group of 16 inputs the 16 weight bits become a lane mask that selects
// x (bit 1, weight +1) or -x (bit 0, weight -1), and the selection is added
// to an accumulator. Four output rows share each load of x and -x.
func binarySums(bits []uint64, words int, x, neg, out []float32) {
	for i, v := range x {
		neg[i] = -v
	}
	n := len(out)
	o, row := 0, 0
	for ; o+4 <= n; o += 4 {
		binaryRows4(bits[row:], words, x, neg, out[o:o+4])
		row += words + words + words + words
	}
	for ; o < n; o++ {
		out[o] = binaryRow(bits[row:row+words], x, neg)
		row += words
	}
}

// binaryRow returns the signed sum of one output row.
func binaryRow(bits []uint64, x, neg []float32) float32 {
	var a0, a1, a2, a3 archsimd.Float32x16
	base := 0
	for _, w := range bits {
		a0 = a0.Add(archsimd.LoadFloat32x16(x[base:]).IfElse(archsimd.Mask32x16FromBits(uint16(w)), archsimd.LoadFloat32x16(neg[base:])))
		a1 = a1.Add(archsimd.LoadFloat32x16(x[base+16:]).IfElse(archsimd.Mask32x16FromBits(uint16(w>>16)), archsimd.LoadFloat32x16(neg[base+16:])))
		a2 = a2.Add(archsimd.LoadFloat32x16(x[base+32:]).IfElse(archsimd.Mask32x16FromBits(uint16(w>>32)), archsimd.LoadFloat32x16(neg[base+32:])))
		a3 = a3.Add(archsimd.LoadFloat32x16(x[base+48:]).IfElse(archsimd.Mask32x16FromBits(uint16(w>>48)), archsimd.LoadFloat32x16(neg[base+48:])))
		base += 64
	}
	return binaryHsum(a0.Add(a1).Add(a2.Add(a3)))
}

// binaryRows4 writes the signed sums of four consecutive rows into out[0:4].
func binaryRows4(bits []uint64, words int, x, neg []float32, out []float32) {
	r1 := bits[words:]
	r2 := r1[words:]
	r3 := r2[words:]
	var a0, a1, a2, a3, b0, b1, b2, b3 archsimd.Float32x16
	base := 0
	for k, w0 := range bits[:words] {
		w1, w2, w3 := r1[k], r2[k], r3[k]
		for q := 0; q < 64; q += 32 {
			xa := archsimd.LoadFloat32x16(x[base+q:])
			na := archsimd.LoadFloat32x16(neg[base+q:])
			xb := archsimd.LoadFloat32x16(x[base+q+16:])
			nb := archsimd.LoadFloat32x16(neg[base+q+16:])
			a0 = a0.Add(xa.IfElse(archsimd.Mask32x16FromBits(uint16(w0>>uint(q))), na))
			a1 = a1.Add(xa.IfElse(archsimd.Mask32x16FromBits(uint16(w1>>uint(q))), na))
			a2 = a2.Add(xa.IfElse(archsimd.Mask32x16FromBits(uint16(w2>>uint(q))), na))
			a3 = a3.Add(xa.IfElse(archsimd.Mask32x16FromBits(uint16(w3>>uint(q))), na))
			b0 = b0.Add(xb.IfElse(archsimd.Mask32x16FromBits(uint16(w0>>uint(q+16))), nb))
			b1 = b1.Add(xb.IfElse(archsimd.Mask32x16FromBits(uint16(w1>>uint(q+16))), nb))
			b2 = b2.Add(xb.IfElse(archsimd.Mask32x16FromBits(uint16(w2>>uint(q+16))), nb))
			b3 = b3.Add(xb.IfElse(archsimd.Mask32x16FromBits(uint16(w3>>uint(q+16))), nb))
		}
		base += 64
	}
	out[0] = binaryHsum(a0.Add(b0))
	out[1] = binaryHsum(a1.Add(b1))
	out[2] = binaryHsum(a2.Add(b2))
	out[3] = binaryHsum(a3.Add(b3))
}

// binaryHsum adds the 16 lanes of v.
func binaryHsum(v archsimd.Float32x16) float32 {
	var t [16]float32
	v.Store(t[:])
	return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7])) +
		((t[8] + t[9]) + (t[10] + t[11])) + ((t[12] + t[13]) + (t[14] + t[15]))
}

// binaryConvBlock runs the convolution kernel of one block of output
// channels at one position (see kernel_binary_conv.go): with AVX-512, 64,
// 32 or 16 channels are accumulated in 16-lane vectors; for each tap and
// input channel, x is broadcast once and each 16 weight bits become the lane
// mask of a masked addition (VADDPS with merge masking: lanes whose bit is 0
// keep their value).
func binaryConvBlock(bits []uint64, x []float32, taps []tap, inC, lanes int, acc []float32) {
	switch {
	case !useSIMD:
		binaryConvGeneric(bits, x, taps, inC, lanes, acc)
	case lanes > 32:
		binaryConv64(bits, x, taps, inC, acc)
	case lanes > 16:
		binaryConv32(bits, x, taps, inC, acc)
	default:
		binaryConv16(bits, x, taps, inC, acc)
	}
}

// binaryConvBlock2 runs the kernel of one block at two positions whose
// windows are the same taps, the second dx values further in x: 64-channel
// blocks share each tap's lane masks between the two positions.
func binaryConvBlock2(bits []uint64, x []float32, taps []tap, inC, lanes, dx int, acc0, acc1 []float32) {
	if useSIMD && lanes > 32 {
		binaryConv64x2(bits, x, taps, inC, dx, acc0, acc1)
		return
	}
	binaryConvBlock(bits, x, taps, inC, lanes, acc0)
	binaryConvBlock(bits, x[dx:], taps, inC, lanes, acc1)
}

// binaryConv64 accumulates 64 channels into acc[0:64].
func binaryConv64(bits []uint64, x []float32, taps []tap, inC int, acc []float32) {
	var a0, a1, a2, a3, tot archsimd.Float32x16
	for _, t := range taps {
		xs := x[t.x : t.x+inC]
		ws := bits[t.w : t.w+inC]
		for c, w := range ws {
			xb := archsimd.BroadcastFloat32x16(xs[c])
			tot = tot.Add(xb)
			a0 = a0.Add(xb).Merge(a0, archsimd.Mask32x16FromBits(uint16(w)))
			a1 = a1.Add(xb).Merge(a1, archsimd.Mask32x16FromBits(uint16(w>>16)))
			a2 = a2.Add(xb).Merge(a2, archsimd.Mask32x16FromBits(uint16(w>>32)))
			a3 = a3.Add(xb).Merge(a3, archsimd.Mask32x16FromBits(uint16(w>>48)))
		}
	}
	a0.Add(a0).Sub(tot).Store(acc[0:16])
	a1.Add(a1).Sub(tot).Store(acc[16:32])
	a2.Add(a2).Sub(tot).Store(acc[32:48])
	a3.Add(a3).Sub(tot).Store(acc[48:64])
}

// binaryConv64x2 accumulates 64 channels at two positions, the second
// reading x dx values further, into acc0[0:64] and acc1[0:64].
func binaryConv64x2(bits []uint64, x []float32, taps []tap, inC, dx int, acc0, acc1 []float32) {
	var a0, a1, a2, a3, b0, b1, b2, b3, ta, tb archsimd.Float32x16
	for _, t := range taps {
		xs := x[t.x : t.x+inC]
		ys := x[t.x+dx : t.x+dx+inC]
		ws := bits[t.w : t.w+inC]
		for c, w := range ws {
			xa := archsimd.BroadcastFloat32x16(xs[c])
			xb := archsimd.BroadcastFloat32x16(ys[c])
			m0 := archsimd.Mask32x16FromBits(uint16(w))
			m1 := archsimd.Mask32x16FromBits(uint16(w >> 16))
			m2 := archsimd.Mask32x16FromBits(uint16(w >> 32))
			m3 := archsimd.Mask32x16FromBits(uint16(w >> 48))
			ta = ta.Add(xa)
			tb = tb.Add(xb)
			a0 = a0.Add(xa).Merge(a0, m0)
			b0 = b0.Add(xb).Merge(b0, m0)
			a1 = a1.Add(xa).Merge(a1, m1)
			b1 = b1.Add(xb).Merge(b1, m1)
			a2 = a2.Add(xa).Merge(a2, m2)
			b2 = b2.Add(xb).Merge(b2, m2)
			a3 = a3.Add(xa).Merge(a3, m3)
			b3 = b3.Add(xb).Merge(b3, m3)
		}
	}
	a0.Add(a0).Sub(ta).Store(acc0[0:16])
	a1.Add(a1).Sub(ta).Store(acc0[16:32])
	a2.Add(a2).Sub(ta).Store(acc0[32:48])
	a3.Add(a3).Sub(ta).Store(acc0[48:64])
	b0.Add(b0).Sub(tb).Store(acc1[0:16])
	b1.Add(b1).Sub(tb).Store(acc1[16:32])
	b2.Add(b2).Sub(tb).Store(acc1[32:48])
	b3.Add(b3).Sub(tb).Store(acc1[48:64])
}

// binaryConv32 accumulates 32 channels into acc[0:32].
func binaryConv32(bits []uint64, x []float32, taps []tap, inC int, acc []float32) {
	var a0, a1, tot archsimd.Float32x16
	for _, t := range taps {
		xs := x[t.x : t.x+inC]
		ws := bits[t.w : t.w+inC]
		for c, w := range ws {
			xb := archsimd.BroadcastFloat32x16(xs[c])
			tot = tot.Add(xb)
			a0 = a0.Add(xb).Merge(a0, archsimd.Mask32x16FromBits(uint16(w)))
			a1 = a1.Add(xb).Merge(a1, archsimd.Mask32x16FromBits(uint16(w>>16)))
		}
	}
	a0.Add(a0).Sub(tot).Store(acc[0:16])
	a1.Add(a1).Sub(tot).Store(acc[16:32])
}

// binaryConv16 accumulates 16 channels into acc[0:16].
func binaryConv16(bits []uint64, x []float32, taps []tap, inC int, acc []float32) {
	var a0, tot archsimd.Float32x16
	for _, t := range taps {
		xs := x[t.x : t.x+inC]
		ws := bits[t.w : t.w+inC]
		for c, w := range ws {
			xb := archsimd.BroadcastFloat32x16(xs[c])
			tot = tot.Add(xb)
			a0 = a0.Add(xb).Merge(a0, archsimd.Mask32x16FromBits(uint16(w)))
		}
	}
	a0.Add(a0).Sub(tot).Store(acc[0:16])
}
