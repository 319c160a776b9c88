package runtime

import "github.com/binnet/binnet/deploy/bnn"

// Layers of residual networks: the residual add and global average pooling.
// Neither touches a weight: they add and average activations.

// prepareAdd records the geometry of an add layer: its input in and its
// residual res (activation number r).
func prepareAdd(ly *layer, l *bnn.Layer, in, res []int, r int) {
	ly.res, ly.stride, ly.chOff = r, l.Stride, l.ChannelOffset
	ly.same = l.Stride == 1 && l.ChannelOffset == 0 && len(in) == len(res)
	for i := range in {
		ly.same = ly.same && in[i] == res[i]
	}
	if len(in) == 3 {
		ly.outH, ly.outW, ly.inC = in[0], in[1], in[2]
		ly.resH, ly.resW, ly.resC = res[0], res[1], res[2]
	}
}

// addLayer writes act(x + r') into out: r' is r itself when the shapes are
// the same, else r subsampled by the stride (row y*stride, column x*stride)
// with its channels at chOff.. of the output's, and no term (zero padding)
// for the output's other channels.
func addLayer(l *layer, x, r, out []float32) {
	if l.same {
		x, r = x[:len(out)], r[:len(out)]
		for i := range out {
			out[i] = addAct(l.relu, x[i]+r[i])
		}
		return
	}
	c, rc := l.inC, l.resC
	for oy := 0; oy < l.outH; oy++ {
		for ox := 0; ox < l.outW; ox++ {
			o := (oy*l.outW + ox) * c
			xs, row := x[o:o+c], out[o:o+c]
			ri := (oy*l.stride*l.resW + ox*l.stride) * rc
			rs := r[ri : ri+rc]
			for j, v := range xs[:l.chOff] {
				row[j] = addAct(l.relu, v)
			}
			for j, v := range rs {
				row[l.chOff+j] = addAct(l.relu, xs[l.chOff+j]+v)
			}
			for j := l.chOff + rc; j < c; j++ {
				row[j] = addAct(l.relu, xs[j])
			}
		}
	}
}

// addAct applies an add layer's activation.
func addAct(relu bool, y float32) float32 {
	if relu && !(y > 0) {
		return 0
	}
	return y
}

// avgPoolLayer writes the mean of each channel over the positions of its
// input [inH, inW, inC] into out (summed in position order, then divided by
// the number of positions).
func avgPoolLayer(l *layer, x, out []float32) {
	c := l.inC
	clear(out[:c])
	n := l.inH * l.inW
	for p := 0; p < n; p++ {
		for j, v := range x[p*c : (p+1)*c] {
			out[j] += v
		}
	}
	for j := range out[:c] {
		out[j] /= float32(n)
	}
}
