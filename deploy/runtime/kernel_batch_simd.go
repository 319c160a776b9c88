//go:build goexperiment.simd && amd64

package runtime

import "simd/archsimd"

// binaryDenseBlock computes one column block (its first lanes outputs) for
// every example: with AVX-512, groups of three examples share each word's
// four lane masks (binaryDense3, 12 accumulators), the one or two examples
// left run with binaryDense1 or binaryDense2; without AVX-512, the portable
// kernel. (Four examples, 16 accumulators, were slower: the compiler spilled
// accumulators in the inner loop.)
func binaryDenseBlock(col []uint64, x []float32, xStride, in int, tot []float64, out []float32, outStride, lanes int, run []float64, zs []float32) {
	if !useSIMD {
		binaryDenseBlockGeneric(col, x, xStride, in, tot, out, outStride, lanes, run, zs)
		return
	}
	n := len(tot)
	e, xo, oo := 0, 0, 0
	for ; e+3 <= n; e += 3 {
		x1 := xo + xStride
		x2 := x1 + xStride
		binaryDense3(col, x[xo:xo+in], x[x1:x1+in], x[x2:x2+in], tot[e:e+3], run[:192], zs[:192])
		for r := 0; r < 192; r += 64 {
			copy(out[oo:oo+lanes], zs[r:r+lanes])
			oo += outStride
		}
		xo = x2 + xStride
	}
	switch n - e {
	case 2:
		x1 := xo + xStride
		binaryDense2(col, x[xo:xo+in], x[x1:x1+in], tot[e:e+2], run[:128], zs[:128])
		copy(out[oo:oo+lanes], zs[:lanes])
		oo += outStride
		copy(out[oo:oo+lanes], zs[64:64+lanes])
	case 1:
		binaryDense1(col, x[xo:xo+in], tot[e], run[:64], zs[:64])
		copy(out[oo:oo+lanes], zs[:lanes])
	}
}

// binaryDense3 writes into z[0:64], z[64:128] and z[128:192] the 64 sums
// of one column block for three examples x0, x1, x2 (totals t[0:3]), with
// run as the float64 running sums: for each input, the word's four 16-bit
// lane masks are made once, and each example's input is broadcast and added
// under them (VADDPS with merge masking) to its 4 accumulators, 12 in all.
func binaryDense3(col []uint64, x0, x1, x2 []float32, t []float64, run []float64, z []float32) {
	run = run[:192]
	clear(run)
	n := len(col)
	for c := 0; c < n; c += denseChunk {
		ws := col[c:min(c+denseChunk, n)]
		k := len(ws)
		y0, y1, y2 := x0[c:c+k], x1[c:c+k], x2[c:c+k]
		var a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3 archsimd.Float32x16
		for i, w := range ws {
			m0 := archsimd.Mask32x16FromBits(uint16(w))
			m1 := archsimd.Mask32x16FromBits(uint16(w >> 16))
			m2 := archsimd.Mask32x16FromBits(uint16(w >> 32))
			m3 := archsimd.Mask32x16FromBits(uint16(w >> 48))
			v := archsimd.BroadcastFloat32x16(y0[i])
			a0 = a0.Add(v).IfElse(m0, a0)
			a1 = a1.Add(v).IfElse(m1, a1)
			a2 = a2.Add(v).IfElse(m2, a2)
			a3 = a3.Add(v).IfElse(m3, a3)
			v = archsimd.BroadcastFloat32x16(y1[i])
			b0 = b0.Add(v).IfElse(m0, b0)
			b1 = b1.Add(v).IfElse(m1, b1)
			b2 = b2.Add(v).IfElse(m2, b2)
			b3 = b3.Add(v).IfElse(m3, b3)
			v = archsimd.BroadcastFloat32x16(y2[i])
			c0 = c0.Add(v).IfElse(m0, c0)
			c1 = c1.Add(v).IfElse(m1, c1)
			c2 = c2.Add(v).IfElse(m2, c2)
			c3 = c3.Add(v).IfElse(m3, c3)
		}
		binaryAddChunk(run[0:64], a0, a1, a2, a3)
		binaryAddChunk(run[64:128], b0, b1, b2, b3)
		binaryAddChunk(run[128:192], c0, c1, c2, c3)
	}
	binaryFinish64(run[0:64], t[0], z[0:64])
	binaryFinish64(run[64:128], t[1], z[64:128])
	binaryFinish64(run[128:192], t[2], z[128:192])
}

// binaryDense2 is binaryDense3 for two examples (8 accumulators).
func binaryDense2(col []uint64, x0, x1 []float32, t []float64, run []float64, z []float32) {
	run = run[:128]
	clear(run)
	n := len(col)
	for c := 0; c < n; c += denseChunk {
		ws := col[c:min(c+denseChunk, n)]
		k := len(ws)
		y0, y1 := x0[c:c+k], x1[c:c+k]
		var a0, a1, a2, a3, b0, b1, b2, b3 archsimd.Float32x16
		for i, w := range ws {
			m0 := archsimd.Mask32x16FromBits(uint16(w))
			m1 := archsimd.Mask32x16FromBits(uint16(w >> 16))
			m2 := archsimd.Mask32x16FromBits(uint16(w >> 32))
			m3 := archsimd.Mask32x16FromBits(uint16(w >> 48))
			v := archsimd.BroadcastFloat32x16(y0[i])
			a0 = a0.Add(v).IfElse(m0, a0)
			a1 = a1.Add(v).IfElse(m1, a1)
			a2 = a2.Add(v).IfElse(m2, a2)
			a3 = a3.Add(v).IfElse(m3, a3)
			v = archsimd.BroadcastFloat32x16(y1[i])
			b0 = b0.Add(v).IfElse(m0, b0)
			b1 = b1.Add(v).IfElse(m1, b1)
			b2 = b2.Add(v).IfElse(m2, b2)
			b3 = b3.Add(v).IfElse(m3, b3)
		}
		binaryAddChunk(run[0:64], a0, a1, a2, a3)
		binaryAddChunk(run[64:128], b0, b1, b2, b3)
	}
	binaryFinish64(run[0:64], t[0], z[0:64])
	binaryFinish64(run[64:128], t[1], z[64:128])
}

// binaryDense1 writes into z[0:64] the 64 sums of one column block for one
// example.
func binaryDense1(col []uint64, x []float32, t float64, run []float64, z []float32) {
	run = run[:64]
	clear(run)
	n := len(col)
	for c := 0; c < n; c += denseChunk {
		ws := col[c:min(c+denseChunk, n)]
		y := x[c : c+len(ws)]
		var a0, a1, a2, a3 archsimd.Float32x16
		for i, w := range ws {
			v := archsimd.BroadcastFloat32x16(y[i])
			a0 = a0.Add(v).IfElse(archsimd.Mask32x16FromBits(uint16(w)), a0)
			a1 = a1.Add(v).IfElse(archsimd.Mask32x16FromBits(uint16(w>>16)), a1)
			a2 = a2.Add(v).IfElse(archsimd.Mask32x16FromBits(uint16(w>>32)), a2)
			a3 = a3.Add(v).IfElse(archsimd.Mask32x16FromBits(uint16(w>>48)), a3)
		}
		binaryAddChunk(run, a0, a1, a2, a3)
	}
	binaryFinish64(run, t, z[:64])
}

// binaryAddChunk adds a chunk's sums a0..a3 (float32) to the float64
// running sums run[0:64].
func binaryAddChunk(run []float64, a0, a1, a2, a3 archsimd.Float32x16) {
	run = run[:64]
	binaryAdd16(run[0:16], a0)
	binaryAdd16(run[16:32], a1)
	binaryAdd16(run[32:48], a2)
	binaryAdd16(run[48:64], a3)
}

// binaryAdd16 adds the 16 lanes of a, converted to float64, to run[0:16].
func binaryAdd16(run []float64, a archsimd.Float32x16) {
	run = run[:16]
	archsimd.LoadFloat64x8(run[0:8]).Add(a.GetLo().ConvertToFloat64()).Store(run[0:8])
	archsimd.LoadFloat64x8(run[8:16]).Add(a.GetHi().ConvertToFloat64()).Store(run[8:16])
}

// binaryFinish64 writes float32((P+P)-t) into z[0:64] for the running sums P
// in run[0:64].
func binaryFinish64(run []float64, t float64, z []float32) {
	run, z = run[:64], z[:64]
	tb := archsimd.BroadcastFloat64x8(t)
	for j := 0; j < 64; j += 8 {
		p := archsimd.LoadFloat64x8(run[j : j+8])
		p.Add(p).Sub(tb).ConvertToFloat32().Store(z[j : j+8])
	}
}

// binaryTotal returns the sum of x in the order of kernel_batch.go: per
// chunk of 64 inputs, 16 float32 lane sums (a short tail loaded with zeros
// past its end), added to 16 float64 running sums, then binaryTree16.
func binaryTotal(x []float32) float64 {
	if !useSIMD {
		return binaryTotalGeneric(x)
	}
	var r0, r1 archsimd.Float64x8
	n := len(x)
	for c := 0; c < n; c += denseChunk {
		end := min(c+denseChunk, n)
		var acc archsimd.Float32x16
		i := c
		for ; i+16 <= end; i += 16 {
			acc = acc.Add(archsimd.LoadFloat32x16(x[i : i+16]))
		}
		if i < end {
			tail, _ := archsimd.LoadFloat32x16Part(x[i:end])
			acc = acc.Add(tail)
		}
		r0 = r0.Add(acc.GetLo().ConvertToFloat64())
		r1 = r1.Add(acc.GetHi().ConvertToFloat64())
	}
	var t [16]float64
	r0.Store(t[0:8])
	r1.Store(t[8:16])
	return binaryTree16(&t)
}
