package simulate

import (
	"fmt"
	"image/color"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// This file lays the panels out as a scene: a list of shapes in pixels,
// which chart_png.go and chart_svg.go each draw, so the two files cannot
// show different pictures.

// A typographic point (1/72 inch) and a millimetre, in pixels.
const (
	pointPx = plotDPI / 72.0
	mmPx    = plotDPI / 25.4
)

// The picture's type sizes, in pixels.
const (
	sizeTitle  = 13 * pointPx
	sizeLabel  = 12 * pointPx
	sizeTick   = 10 * pointPx
	sizeLegend = 10 * pointPx
)

var (
	colourInk   = color.NRGBA{A: 255}                         // text, axes and ticks
	colourGrid  = color.NRGBA{R: 214, G: 214, B: 214, A: 255} // grid lines
	colourPaper = color.NRGBA{R: 255, G: 255, B: 255, A: 255} // background
	colourVeil  = color.NRGBA{R: 255, G: 255, B: 255, A: 215} // behind a legend
)

// stroke is how a line is drawn: its colour, its width in pixels, and its
// dash pattern in pixels (drawn, skipped, drawn, …, from the line's start
// and carried round its corners; nil for a solid line).
type stroke struct {
	colour color.NRGBA
	width  float64
	dashes []float64
}

// rect is an axis-aligned rectangle in pixels, x0 <= x1, y0 <= y1 (y grows
// downwards).
type rect struct{ x0, y0, x1, y1 float64 }

func (r rect) width() float64  { return r.x1 - r.x0 }
func (r rect) height() float64 { return r.y1 - r.y0 }

// shape is one thing a scene draws: a polyline, a text or a fill.
type shape interface{ isShape() }

// polyline is a stroked open path in pixels: butt ends, square (mitred)
// corners, clipped to scene.clips[clip-1] when clip > 0.
type polyline struct {
	pts []xy
	stroke
	clip int
}

// anchor says which point of a text its position names.
type anchor int

const (
	anchorStart  anchor = iota // the text's start
	anchorMiddle               // its middle
	anchorEnd                  // its end
)

// text is one line of text in Go Regular (sans-serif in the SVG), its
// baseline through (x, y) in pixels at the anchor; vertical text reads
// from bottom to top, turned a quarter anticlockwise about (x, y).
type text struct {
	x, y     float64
	s        string
	size     float64 // pixels: the em
	colour   color.NRGBA
	anchor   anchor
	vertical bool
}

// fill paints a rectangle with a colour.
type fill struct {
	r      rect
	colour color.NRGBA
}

func (polyline) isShape() {}
func (text) isShape()     {}
func (fill) isShape()     {}

// scene is a picture as a list of shapes, in drawing order, on a
// width × height pixel canvas.
type scene struct {
	width, height int
	clips         []rect
	shapes        []shape
}

func (s *scene) add(sh shape) { s.shapes = append(s.shapes, sh) }

// typeface holds Go Regular, parsed once for each WritePlot call (never at
// start-up, so a process that draws nothing pays nothing for it), and
// measures text with it.
type typeface struct {
	font *opentype.Font
	ref  font.Face // at refSize pixels, for measuring; widths scale with the size
}

const refSize = 100

func newTypeface() (*typeface, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go Regular: %w", err)
	}
	ref, err := newFace(f, refSize)
	if err != nil {
		return nil, err
	}
	return &typeface{font: f, ref: ref}, nil
}

// newFace returns f at size pixels an em, unhinted so text is placed at the
// fractional positions the layout measured.
func newFace(f *opentype.Font, size float64) (font.Face, error) {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return nil, fmt.Errorf("font face at %.1f px: %w", size, err)
	}
	return face, nil
}

func fromFixed(v fixed.Int26_6) float64 { return float64(v) / 64 }

// width is how wide s is set at size pixels.
func (t *typeface) width(size float64, s string) float64 {
	return fromFixed(font.MeasureString(t.ref, s)) * size / refSize
}

// ascent and descent are how far the font reaches above and below the
// baseline at size pixels.
func (t *typeface) ascent(size float64) float64 {
	return fromFixed(t.ref.Metrics().Ascent) * size / refSize
}

func (t *typeface) descent(size float64) float64 {
	return fromFixed(t.ref.Metrics().Descent) * size / refSize
}

// lineHeight is the room a line of text takes at size pixels.
func (t *typeface) lineHeight(size float64) float64 { return t.ascent(size) + t.descent(size) }

// The layout's lengths, in pixels.
const (
	marginTop    = 2 * mmPx
	marginBottom = 2 * mmPx
	marginLeft   = 2 * mmPx
	marginRight  = 6 * mmPx
	panelGap     = 4 * mmPx // between one panel's tick labels and the next one's title
	tickLength   = 4 * pointPx
	textGap      = 3 * pointPx // between a text and what it labels
	legendInset  = 2 * mmPx
	legendSample = 22 * pointPx // the line sample's length
	legendPad    = 3 * pointPx
)

// layoutPanels stacks the panels on the canvas, their plot areas sharing
// one left and one right edge and one height, and returns the scene.
func layoutPanels(panels []*panel, tf *typeface) *scene {
	s := &scene{width: plotWidth, height: plotHeight}
	s.add(fill{r: rect{0, 0, plotWidth, plotHeight}, colour: colourPaper})
	if len(panels) == 0 {
		return s
	}
	yTicks := make([][]tick, len(panels))
	tickWidth := 0.0
	for i, p := range panels {
		yTicks[i] = countTicks(p.yMin, p.yMax)
		for _, t := range yTicks[i] {
			tickWidth = max(tickWidth, tf.width(sizeTick, t.label))
		}
	}
	left := marginLeft + tf.lineHeight(sizeLabel) + textGap + tickWidth + textGap + tickLength
	right := float64(plotWidth) - marginRight

	// Above each plot area its title, below it the ticks, their labels and
	// (for a panel that has one) the x label; the plot areas share the rest.
	above := tf.lineHeight(sizeTitle) + textGap
	below := func(p *panel) float64 {
		h := tickLength + textGap + tf.lineHeight(sizeTick)
		if p.xLabel != "" {
			h += textGap + tf.lineHeight(sizeLabel)
		}
		return h
	}
	room := float64(plotHeight) - marginTop - marginBottom - panelGap*float64(len(panels)-1)
	for _, p := range panels {
		room -= above + below(p)
	}
	areaHeight := room / float64(len(panels))
	y := marginTop
	for i, p := range panels {
		area := rect{left, y + above, right, y + above + areaHeight}
		drawPanel(s, tf, p, area, yTicks[i])
		y = area.y1 + below(p) + panelGap
	}
	return s
}

// crisp moves a coordinate to a pixel's centre, so a one-pixel line along
// it covers one row or column of pixels rather than half of two.
func crisp(v float64) float64 { return math.Floor(v) + 0.5 }

// drawPanel adds p's shapes to s, its data inside area.
func drawPanel(s *scene, tf *typeface, p *panel, area rect, yTicks []tick) {
	xMin, xMax := p.xMin, p.xMax
	if !(xMax > xMin) {
		xMax = xMin + 1
	}
	yMin, yMax := p.yMin, p.yMax
	if !(yMax > yMin) {
		yMax = yMin + 1
	}
	px := func(x float64) float64 { return area.x0 + (x-xMin)/(xMax-xMin)*area.width() }
	py := func(y float64) float64 {
		switch { // keep the path finite; the clip cuts what lies outside
		case math.IsNaN(y):
			y = yMin
		case y > yMax:
			y = min(y, yMax+(yMax-yMin))
		case y < yMin:
			y = max(y, yMin-(yMax-yMin))
		}
		return area.y1 - (y-yMin)/(yMax-yMin)*area.height()
	}
	xTicks := timeTicks(xMin, xMax)
	hair := stroke{colour: colourGrid, width: 1}
	for _, t := range xTicks {
		x := crisp(px(t.value))
		s.add(polyline{pts: []xy{{x, area.y0}, {x, area.y1}}, stroke: hair})
	}
	for _, t := range yTicks {
		y := crisp(py(t.value))
		s.add(polyline{pts: []xy{{area.x0, y}, {area.x1, y}}, stroke: hair})
	}

	s.clips = append(s.clips, area)
	clip := len(s.clips)
	for _, l := range p.lines {
		pts := make([]xy, 0, 2*len(l.xys))
		for i, q := range l.xys {
			if i > 0 { // hold the previous value up to this point's time
				pts = append(pts, xy{px(q.X), py(l.xys[i-1].Y)})
			}
			if c := (xy{px(q.X), py(q.Y)}); len(pts) == 0 || pts[len(pts)-1] != c {
				pts = append(pts, c)
			}
		}
		s.add(polyline{pts: pts, stroke: l.stroke, clip: clip})
	}

	// Axes on the left and bottom edges, ticks outside them.
	ink := stroke{colour: colourInk, width: 1}
	ax, ay := crisp(area.x0)-1, crisp(area.y1)
	s.add(polyline{pts: []xy{{ax, area.y0}, {ax, ay}, {area.x1, ay}}, stroke: ink})
	tickBaseline := ay + tickLength + textGap + tf.ascent(sizeTick)
	for _, t := range xTicks {
		x := crisp(px(t.value))
		s.add(polyline{pts: []xy{{x, ay}, {x, ay + tickLength}}, stroke: ink})
		s.add(text{x: x, y: tickBaseline, s: t.label, size: sizeTick, colour: colourInk, anchor: anchorMiddle})
	}
	for _, t := range yTicks {
		y := crisp(py(t.value))
		s.add(polyline{pts: []xy{{ax - tickLength, y}, {ax, y}}, stroke: ink})
		// Figures stand about 0.7 em tall: half of that below the tick.
		s.add(text{x: ax - tickLength - textGap, y: y + 0.35*sizeTick, s: t.label, size: sizeTick, colour: colourInk, anchor: anchorEnd})
	}

	// Labels and title.
	s.add(text{x: marginLeft + tf.ascent(sizeLabel), y: (area.y0 + area.y1) / 2, s: p.yLabel, size: sizeLabel,
		colour: colourInk, anchor: anchorMiddle, vertical: true})
	if p.xLabel != "" {
		y := tickBaseline + tf.descent(sizeTick) + textGap + tf.ascent(sizeLabel)
		s.add(text{x: (area.x0 + area.x1) / 2, y: y, s: p.xLabel, size: sizeLabel, colour: colourInk, anchor: anchorMiddle})
	}
	titleSize := sizeTitle
	if w := tf.width(titleSize, p.title); w > area.width() { // a long cluster or service name
		titleSize *= area.width() / w
	}
	s.add(text{x: (area.x0 + area.x1) / 2, y: area.y0 - textGap - tf.descent(sizeTitle), s: p.title, size: titleSize,
		colour: colourInk, anchor: anchorMiddle})

	drawLegend(s, tf, p.legend, area)
}

// drawLegend adds the legend in the top left corner of area: a line sample
// and a label for each entry, on a veil that keeps the labels readable over
// the grid and the data.
func drawLegend(s *scene, tf *typeface, entries []legendEntry, area rect) {
	if len(entries) == 0 {
		return
	}
	row := 1.25 * sizeLegend
	labelWidth := 0.0
	for _, e := range entries {
		labelWidth = max(labelWidth, tf.width(sizeLegend, e.label))
	}
	x0, y0 := area.x0+legendInset, area.y0+legendInset/2
	// A sans-serif in an SVG viewer may set wider than Go Regular: a tenth
	// more room on the right.
	box := rect{x0, y0, x0 + 2*legendPad + legendSample + textGap + 1.1*labelWidth, y0 + 2*legendPad + row*float64(len(entries))}
	s.add(fill{r: box, colour: colourVeil})
	for i, e := range entries {
		mid := y0 + legendPad + row*(float64(i)+0.5)
		sx := x0 + legendPad
		s.add(polyline{pts: []xy{{sx, mid}, {sx + legendSample, mid}}, stroke: e.stroke})
		s.add(text{x: sx + legendSample + textGap, y: mid + 0.35*sizeLegend, s: e.label, size: sizeLegend,
			colour: colourInk, anchor: anchorStart})
	}
}

// dashed splits a polyline into the pieces a dash pattern draws: the
// pattern's entries (lengths in pixels, from the first point) are drawn and
// skipped in turn, starting with a drawn one, and the pattern repeats (so an
// odd-length one draws what it skipped the time before, as SVG's
// stroke-dasharray does); a dash that reaches a corner carries on round it.
// A pattern of no length, or with a negative entry, returns the polyline
// whole.
func dashed(pts []xy, pattern []float64) [][]xy {
	total := 0.0
	for _, d := range pattern {
		if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			return [][]xy{pts}
		}
		total += d
	}
	if total <= 0 || len(pts) < 2 {
		return [][]xy{pts}
	}
	var pieces [][]xy
	i, left, on := 0, pattern[0], true // the pattern entry, what is left of it, whether it draws
	cur := []xy{pts[0]}
	for k := 1; k < len(pts); k++ {
		a, b := pts[k-1], pts[k]
		length := math.Hypot(b.X-a.X, b.Y-a.Y)
		pos := 0.0 // along a–b
		for length-pos > left {
			pos += left
			q := xy{a.X + (b.X-a.X)*pos/length, a.Y + (b.Y-a.Y)*pos/length}
			if on {
				if cur[len(cur)-1] != q {
					cur = append(cur, q)
				}
				pieces = append(pieces, cur)
				cur = nil
			} else {
				cur = []xy{q}
			}
			on = !on
			i = (i + 1) % len(pattern)
			left = pattern[i]
		}
		left -= length - pos
		if on {
			cur = append(cur, b)
		}
	}
	if on && len(cur) > 1 {
		pieces = append(pieces, cur)
	}
	return pieces
}

// outline returns the quadrilaterals that stroke one solid piece of a line
// of the given width: one for each segment of non-zero length, reaching
// half the width past each corner (so a corner is filled to its mitre, for
// the right angles of a step line) but not past the piece's ends. All turn
// the same way, so where they overlap their coverage adds up and saturates
// rather than cancelling.
func outline(pts []xy, width float64) [][4]xy {
	var segs [][2]xy
	for k := 1; k < len(pts); k++ {
		if pts[k] != pts[k-1] {
			segs = append(segs, [2]xy{pts[k-1], pts[k]})
		}
	}
	hw := width / 2
	quads := make([][4]xy, 0, len(segs))
	for j, sg := range segs {
		a, b := sg[0], sg[1]
		length := math.Hypot(b.X-a.X, b.Y-a.Y)
		dx, dy := (b.X-a.X)/length, (b.Y-a.Y)/length
		if j > 0 {
			a = xy{a.X - dx*hw, a.Y - dy*hw}
		}
		if j < len(segs)-1 {
			b = xy{b.X + dx*hw, b.Y + dy*hw}
		}
		nx, ny := -dy*hw, dx*hw
		quads = append(quads, [4]xy{{a.X + nx, a.Y + ny}, {b.X + nx, b.Y + ny}, {b.X - nx, b.Y - ny}, {a.X - nx, a.Y - ny}})
	}
	return quads
}
