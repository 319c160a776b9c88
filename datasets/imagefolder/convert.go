package imagefolder

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
)

var (
	jpegMagic = []byte{0xff, 0xd8}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

// decode decodes a JPEG or PNG image (told apart by their first bytes, not
// by the file name), refusing images of more than maxPixels pixels before
// allocating them.
func decode(data []byte, maxPixels int) (image.Image, error) {
	var (
		config func(io.Reader) (image.Config, error)
		dec    func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, jpegMagic):
		config, dec = jpeg.DecodeConfig, jpeg.Decode
	case bytes.HasPrefix(data, pngMagic):
		config, dec = png.DecodeConfig, png.Decode
	default:
		return nil, errors.New("not a JPEG or PNG file")
	}
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("image of %d×%d pixels: want at least 1 and at most %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	img, err := dec(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("empty image %v", b)
	}
	return img, nil
}

// JPEG's (JFIF's) YCbCr to RGB conversion in 16.16 fixed point:
// R = Y + 1.402 Cr', G = Y - 0.344136 Cb' - 0.714136 Cr', B = Y + 1.772 Cb',
// with Cb' = Cb-128 and Cr' = Cr-128.
const (
	crToR = 91881  // 1.402 << 16
	cbToG = 22554  // 0.344136 << 16
	crToG = 46802  // 0.714136 << 16
	cbToB = 116130 // 1.772 << 16
)

// clamp8 clamps a 16.16 fixed-point value to 0..255.
func clamp8(v int32) uint8 {
	v >>= 16
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// toRGB converts the window [x0, x1) × [y0, y1) of img (coordinates
// relative to img.Bounds().Min) to packed 8-bit RGB in w.rgb.
func (w *worker) toRGB(img image.Image, x0, y0, x1, y1 int) {
	ww := x1 - x0
	w.rgb = slices.Grow(w.rgb[:0], ww*(y1-y0)*3)[:ww*(y1-y0)*3]
	conv := w.rowConverter(img, x0, x1)
	for y := y0; y < y1; y++ {
		conv(y, w.rgb[(y-y0)*ww*3:(y-y0+1)*ww*3])
	}
}

// rowConverter returns a function that converts the pixels [x0, x1) of row
// y of img (coordinates relative to img.Bounds().Min) to packed 8-bit RGB in
// dst, which holds (x1-x0)*3 bytes. The common pixel types are converted
// directly from their pixel slices; others go through img.At.
func (w *worker) rowConverter(img image.Image, x0, x1 int) func(y int, dst []uint8) {
	ww := x1 - x0
	b := img.Bounds()
	// Absolute coordinates.
	ax0 := b.Min.X + x0
	switch m := img.(type) {
	case *image.YCbCr:
		// Chroma sample of absolute (x, y): (x/hx - Min.X/hx, y/vy - Min.Y/vy),
		// as image.YCbCr.COffset computes it.
		hx, vy := 1, 1
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			hx = 2
		case image.YCbCrSubsampleRatio420:
			hx, vy = 2, 2
		case image.YCbCrSubsampleRatio440:
			vy = 2
		case image.YCbCrSubsampleRatio411:
			hx = 4
		case image.YCbCrSubsampleRatio410:
			hx, vy = 4, 2
		}
		w.cx = slices.Grow(w.cx[:0], ww)[:ww]
		for i := range w.cx {
			w.cx[i] = int32((ax0+i)/hx - m.Rect.Min.X/hx)
		}
		cx := w.cx
		return func(y int, d []uint8) {
			y += b.Min.Y
			yrow := m.Y[(y-m.Rect.Min.Y)*m.YStride+(ax0-m.Rect.Min.X):]
			yrow = yrow[:len(cx)]
			coff := (y/vy - m.Rect.Min.Y/vy) * m.CStride
			cbrow, crrow := m.Cb[coff:], m.Cr[coff:]
			d = d[:len(yrow)*3]
			for i, yy := range yrow {
				c := cx[i]
				cb := int32(cbrow[c]) - 128
				cr := int32(crrow[c]) - 128
				y1 := int32(yy)<<16 + 1<<15
				p := d[i*3 : i*3+3]
				p[0] = clamp8(y1 + crToR*cr)
				p[1] = clamp8(y1 - cbToG*cb - crToG*cr)
				p[2] = clamp8(y1 + cbToB*cb)
			}
		}
	case *image.Gray:
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X):]
			src = src[:ww]
			d = d[:ww*3]
			for i, v := range src {
				p := d[i*3 : i*3+3]
				p[0], p[1], p[2] = v, v, v
			}
		}
	case *image.CMYK:
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X)*4:]
			src = src[:ww*4]
			d = d[:ww*3]
			for i := range ww {
				s := src[i*4 : i*4+4]
				k := 255 - uint32(s[3])
				p := d[i*3 : i*3+3]
				p[0] = uint8(((255-uint32(s[0]))*k + 127) / 255)
				p[1] = uint8(((255-uint32(s[1]))*k + 127) / 255)
				p[2] = uint8(((255-uint32(s[2]))*k + 127) / 255)
			}
		}
	case *image.NRGBA:
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X)*4:]
			src = src[:ww*4]
			d = d[:ww*3]
			for i := range ww {
				s := src[i*4 : i*4+4]
				p := d[i*3 : i*3+3]
				p[0], p[1], p[2] = s[0], s[1], s[2]
			}
		}
	case *image.RGBA:
		// Premultiplied: undo the alpha so that the colour is kept, as
		// with NRGBA (opaque images, the usual case, are copied).
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X)*4:]
			src = src[:ww*4]
			d = d[:ww*3]
			for i := range ww {
				s := src[i*4 : i*4+4]
				p := d[i*3 : i*3+3]
				switch a := uint32(s[3]); a {
				case 255:
					p[0], p[1], p[2] = s[0], s[1], s[2]
				case 0:
					p[0], p[1], p[2] = 0, 0, 0
				default:
					p[0] = uint8(min(255, (uint32(s[0])*255+a/2)/a))
					p[1] = uint8(min(255, (uint32(s[1])*255+a/2)/a))
					p[2] = uint8(min(255, (uint32(s[2])*255+a/2)/a))
				}
			}
		}
	case *image.Paletted:
		lut := new([256][3]uint8)
		for i, c := range m.Palette {
			if i == len(lut) {
				break
			}
			if c == nil {
				continue
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X):]
			src = src[:ww]
			d = d[:ww*3]
			for i, v := range src {
				c := &lut[v]
				p := d[i*3 : i*3+3]
				p[0], p[1], p[2] = c[0], c[1], c[2]
			}
		}
	case *image.Gray16:
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X)*2:]
			src = src[:ww*2]
			d = d[:ww*3]
			for i := range ww {
				v := src[i*2] // high byte
				p := d[i*3 : i*3+3]
				p[0], p[1], p[2] = v, v, v
			}
		}
	case *image.NRGBA64:
		return func(y int, d []uint8) {
			src := m.Pix[(b.Min.Y+y-m.Rect.Min.Y)*m.Stride+(ax0-m.Rect.Min.X)*8:]
			src = src[:ww*8]
			d = d[:ww*3]
			for i := range ww {
				s := src[i*8 : i*8+8]
				p := d[i*3 : i*3+3]
				p[0], p[1], p[2] = s[0], s[2], s[4] // high bytes
			}
		}
	}
	// RGBA64, NYCbCrA and anything else: one interface call a pixel.
	return func(y int, d []uint8) {
		y += b.Min.Y
		for i := range ww {
			c := color.NRGBAModel.Convert(img.At(ax0+i, y)).(color.NRGBA)
			d[3*i], d[3*i+1], d[3*i+2] = c.R, c.G, c.B
		}
	}
}
