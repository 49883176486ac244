package simulate

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"image/color"
	"io"
	"strconv"
	"strings"
)

// writeSVG writes the scene to w as an SVG document in pixels, text in the
// viewer's sans-serif font.
func (s *scene) writeSVG(w io.Writer) error {
	b := bufio.NewWriter(w) // keeps the first write error for Flush
	fmt.Fprintf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
		s.width, s.height, s.width, s.height)
	if len(s.clips) > 0 {
		b.WriteString("<defs>\n")
		for i, c := range s.clips {
			fmt.Fprintf(b, "<clipPath id=\"clip%d\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/></clipPath>\n",
				i+1, num(c.x0), num(c.y0), num(c.width()), num(c.height()))
		}
		b.WriteString("</defs>\n")
	}
	for _, sh := range s.shapes {
		switch sh := sh.(type) {
		case fill:
			fmt.Fprintf(b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"%s/>\n",
				num(sh.r.x0), num(sh.r.y0), num(sh.r.width()), num(sh.r.height()), paint("fill", sh.colour))
		case polyline:
			svgPath(b, sh)
		case text:
			svgText(b, sh)
		}
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

func svgPath(b *bufio.Writer, p polyline) {
	if len(p.pts) < 2 || p.width <= 0 {
		return
	}
	b.WriteString("<path d=\"")
	for i, q := range p.pts {
		if i == 0 {
			b.WriteString("M")
		} else {
			b.WriteString(" L")
		}
		b.WriteString(num(q.X))
		b.WriteString(" ")
		b.WriteString(num(q.Y))
	}
	// SVG's default caps and joins (butt, miter) are the scene's.
	fmt.Fprintf(b, "\" fill=\"none\"%s stroke-width=\"%s\"",
		paint("stroke", p.colour), num(p.width))
	if len(p.dashes) > 0 {
		ds := make([]string, len(p.dashes))
		for i, d := range p.dashes {
			ds[i] = num(d)
		}
		fmt.Fprintf(b, " stroke-dasharray=\"%s\"", strings.Join(ds, " "))
	}
	if p.clip > 0 {
		fmt.Fprintf(b, " clip-path=\"url(#clip%d)\"", p.clip)
	}
	b.WriteString("/>\n")
}

func svgText(b *bufio.Writer, t text) {
	fmt.Fprintf(b, "<text x=\"%s\" y=\"%s\" font-size=\"%s\"%s", num(t.x), num(t.y), num(t.size), paint("fill", t.colour))
	switch t.anchor {
	case anchorMiddle:
		b.WriteString(" text-anchor=\"middle\"")
	case anchorEnd:
		b.WriteString(" text-anchor=\"end\"")
	}
	if t.vertical {
		fmt.Fprintf(b, " transform=\"rotate(-90 %s %s)\"", num(t.x), num(t.y))
	}
	b.WriteString(">")
	xml.EscapeText(b, []byte(t.s)) // a write error stays in b for Flush
	b.WriteString("</text>\n")
}

// paint is an SVG fill or stroke attribute for c, with its opacity when c
// is not opaque.
func paint(attr string, c color.NRGBA) string {
	s := fmt.Sprintf(" %s=\"#%02x%02x%02x\"", attr, c.R, c.G, c.B)
	if c.A != 255 {
		s += fmt.Sprintf(" %s-opacity=\"%s\"", attr, strconv.FormatFloat(float64(c.A)/255, 'f', 3, 64))
	}
	return s
}

// num formats a length in pixels to a hundredth, with no needless zeros.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
