package runtime

// finishScalar writes act(scale*acc + offset) element by element.
func finishScalar(row, acc, scale, offset []float32, relu bool) {
	acc, scale, offset = acc[:len(row)], scale[:len(row)], offset[:len(row)]
	for o := range row {
		y := scale[o]*acc[o] + offset[o]
		if relu && !(y > 0) {
			y = 0
		}
		row[o] = y
	}
}

// maxScalar sets row[j] to max(row[j], v[j]) (v's value where it is larger).
func maxScalar(row, v []float32) {
	v = v[:len(row)]
	for j, x := range v {
		if x > row[j] {
			row[j] = x
		}
	}
}

// axpyScalar adds w[o]*v to acc[o] element by element.
func axpyScalar(acc, w []float32, v float32) {
	w = w[:len(acc)]
	for o, x := range w {
		acc[o] += x * v
	}
}
