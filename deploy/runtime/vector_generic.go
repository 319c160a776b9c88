//go:build !(goexperiment.simd && amd64)

package runtime

// finishVec writes act(scale*acc + offset) for the channels of one output
// position.
func finishVec(row, acc, scale, offset []float32, relu bool) {
	finishScalar(row, acc[:len(row)], scale[:len(row)], offset[:len(row)], relu)
}

// maxInto sets row[j] to max(row[j], v[j]).
func maxInto(row, v []float32) { maxScalar(row, v[:len(row)]) }

// axpy adds w[o]*v to acc[o].
func axpy(acc, w []float32, v float32) { axpyScalar(acc, w[:len(acc)], v) }
