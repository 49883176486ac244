package simulate

import (
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// writePNG draws the scene on white and writes it to w as PNG: strokes
// antialiased by golang.org/x/image/vector, text in Go Regular.
func (s *scene) writePNG(w io.Writer, tf *typeface) error {
	r := raster{
		img:   image.NewRGBA(image.Rect(0, 0, s.width, s.height)),
		tf:    tf,
		faces: map[float64]font.Face{},
		vec:   vector.NewRasterizer(0, 0),
	}
	for _, sh := range s.shapes {
		switch sh := sh.(type) {
		case fill:
			r.fill(sh)
		case polyline:
			clip := r.img.Bounds()
			if sh.clip > 0 {
				clip = clip.Intersect(pixelRect(s.clips[sh.clip-1]))
			}
			r.stroke(sh, clip)
		case text:
			if err := r.text(sh); err != nil {
				return err
			}
		}
	}
	return png.Encode(w, r.img)
}

// raster draws shapes on an RGBA image.
type raster struct {
	img   *image.RGBA
	tf    *typeface
	faces map[float64]font.Face // by size in pixels
	vec   *vector.Rasterizer
}

// pixelRect is the pixels r covers at least half of.
func pixelRect(r rect) image.Rectangle {
	return image.Rect(int(math.Round(r.x0)), int(math.Round(r.y0)), int(math.Round(r.x1)), int(math.Round(r.y1)))
}

func (r *raster) fill(f fill) {
	draw.Draw(r.img, pixelRect(f.r), image.NewUniform(f.colour), image.Point{}, draw.Over)
}

// stroke rasterises p's outline over only the pixels it can touch (inside
// clip), so a short tick costs as little as a short tick.
func (r *raster) stroke(p polyline, clip image.Rectangle) {
	if p.width <= 0 || len(p.pts) < 2 {
		return
	}
	var quads [][4]xy
	for _, piece := range dashed(p.pts, p.dashes) {
		quads = append(quads, outline(piece, p.width)...)
	}
	if len(quads) == 0 {
		return
	}
	bx0, by0, bx1, by1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range quads {
		for _, c := range q {
			bx0, by0, bx1, by1 = min(bx0, c.X), min(by0, c.Y), max(bx1, c.X), max(by1, c.Y)
		}
	}
	area := image.Rect(int(math.Floor(bx0)), int(math.Floor(by0)), int(math.Ceil(bx1)), int(math.Ceil(by1))).Intersect(clip)
	if area.Empty() {
		return
	}
	// The rasteriser's mask starts at area.Min: shift the outline there.
	ox, oy := float64(area.Min.X), float64(area.Min.Y)
	r.vec.Reset(area.Dx(), area.Dy())
	for _, q := range quads {
		r.vec.MoveTo(float32(q[0].X-ox), float32(q[0].Y-oy))
		for _, c := range q[1:] {
			r.vec.LineTo(float32(c.X-ox), float32(c.Y-oy))
		}
		r.vec.ClosePath()
	}
	r.vec.Draw(r.img, area, image.NewUniform(p.colour), image.Point{})
}

// face returns Go Regular at size pixels, made once a picture.
func (r *raster) face(size float64) (font.Face, error) {
	if f, ok := r.faces[size]; ok {
		return f, nil
	}
	f, err := newFace(r.tf.font, size)
	if err != nil {
		return nil, err
	}
	r.faces[size] = f
	return f, nil
}

func (r *raster) text(t text) error {
	if t.s == "" {
		return nil
	}
	face, err := r.face(t.size)
	if err != nil {
		return err
	}
	width := fromFixed(font.MeasureString(face, t.s))
	shift := 0.0 // from the anchor back to the text's start
	switch t.anchor {
	case anchorMiddle:
		shift = width / 2
	case anchorEnd:
		shift = width
	}
	src := image.NewUniform(t.colour)
	if !t.vertical {
		d := font.Drawer{Dst: r.img, Src: src, Face: face, Dot: toFixed(t.x-shift, t.y)}
		d.DrawString(t.s)
		return nil
	}
	// Set the text level in a mask of its own, then turn the mask a quarter
	// anticlockwise by moving each pixel: (x, y) goes to (y, w-1-x).
	m := face.Metrics()
	asc, desc := m.Ascent.Ceil(), m.Descent.Ceil()
	w, h := int(math.Ceil(width)), asc+desc
	if w <= 0 || h <= 0 {
		return nil
	}
	level := image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: level, Src: image.Opaque, Face: face, Dot: fixed.P(0, asc)}
	d.DrawString(t.s)
	turned := image.NewAlpha(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			turned.Pix[(w-1-x)*turned.Stride+y] = level.Pix[y*level.Stride+x]
		}
	}
	// The anchor, (shift, asc) in the level mask, is at (asc, w-shift) in
	// the turned one, and goes to (t.x, t.y).
	at := image.Pt(int(math.Round(t.x))-asc, int(math.Round(t.y-float64(w)+shift)))
	draw.DrawMask(r.img, turned.Bounds().Add(at), src, image.Point{}, turned, image.Point{}, draw.Over)
	return nil
}

func toFixed(x, y float64) fixed.Point26_6 {
	return fixed.Point26_6{X: fixed.Int26_6(math.Round(x * 64)), Y: fixed.Int26_6(math.Round(y * 64))}
}
