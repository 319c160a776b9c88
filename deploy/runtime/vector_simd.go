//go:build goexperiment.simd && amd64

package runtime

import "simd/archsimd"

// finishVec writes act(scale*acc + offset) for the channels of one output
// position (the folded batch norm: one multiplication per output, by its
// scale, none by a weight), 16 at a time with AVX-512. Multiply then add,
// rounded separately as in finish, so both give the same bits.
func finishVec(row, acc, scale, offset []float32, relu bool) {
	n := len(row)
	o := 0
	if useSIMD {
		var zero archsimd.Float32x16
		for ; o+16 <= n; o += 16 {
			y := archsimd.LoadFloat32x16(scale[o:]).Mul(archsimd.LoadFloat32x16(acc[o:])).Add(archsimd.LoadFloat32x16(offset[o:]))
			if relu {
				y = y.Max(zero)
			}
			y.Store(row[o:])
		}
	}
	finishScalar(row[o:], acc[o:n], scale[o:n], offset[o:n], relu)
}

// maxInto sets row[j] to max(row[j], v[j]), 16 at a time with AVX-512.
func maxInto(row, v []float32) {
	n := len(row)
	j := 0
	if useSIMD {
		for ; j+16 <= n; j += 16 {
			archsimd.LoadFloat32x16(row[j:]).Max(archsimd.LoadFloat32x16(v[j:])).Store(row[j:])
		}
	}
	maxScalar(row[j:], v[j:n])
}

// axpy adds w[o]*v to acc[o] (a float layer: weights times an input), 16 at
// a time with AVX-512.
func axpy(acc, w []float32, v float32) {
	n := len(acc)
	o := 0
	if useSIMD {
		vb := archsimd.BroadcastFloat32x16(v)
		for ; o+16 <= n; o += 16 {
			archsimd.LoadFloat32x16(acc[o:]).Add(archsimd.LoadFloat32x16(w[o:]).Mul(vb)).Store(acc[o:])
		}
	}
	axpyScalar(acc[o:], w[o:n], v)
}
