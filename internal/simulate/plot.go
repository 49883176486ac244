package simulate

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"time"
)

// WritePlot's picture: 11 × 9 inches at 110 dots an inch (1210 × 990
// pixels), and how many points a line may have before it is thinned to its
// per-bucket maximum (so a day of 1-second rows stays a light picture).
const (
	plotDPI       = 110
	plotWidth     = 11 * plotDPI // pixels
	plotHeight    = 9 * plotDPI  // pixels
	maxLinePoints = 2000
)

// Colours: Okabe–Ito, readable by colour-blind people.
var (
	colourFast    = color.NRGBA{R: 0, G: 114, B: 178, A: 255}   // blue
	colourManaged = color.NRGBA{R: 230, G: 159, B: 0, A: 255}   // orange
	colourLimit   = color.NRGBA{R: 0, G: 0, B: 0, A: 255}       // black
	colourTrace   = color.NRGBA{R: 60, G: 60, B: 60, A: 255}    // dark grey
	colourMarker  = color.NRGBA{R: 0, G: 114, B: 178, A: 110}   // pale blue
	colourCap     = color.NRGBA{R: 204, G: 121, B: 167, A: 255} // purple
)

// WritePlot draws res as three panels on one time axis (the trace; the load
// per ready task against the threshold; desired and ready task counts, for
// both runs) and writes it as PNG to pngW and SVG to svgW. Both are drawn
// from one scene, so they show the same picture; the PNG's text is set in
// Go Regular, the SVG's in the viewer's sans-serif font.
func WritePlot(res *Result, pngW, svgW io.Writer) error {
	if res == nil || res.Trace == nil || len(res.Trace.Points) == 0 {
		return fmt.Errorf("plot: no trace to draw")
	}
	tf, err := newTypeface()
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	sc := layoutPanels(panelsOf(res), tf)
	if err := sc.writePNG(pngW, tf); err != nil {
		return fmt.Errorf("write PNG: %w", err)
	}
	if err := sc.writeSVG(svgW); err != nil {
		return fmt.Errorf("write SVG: %w", err)
	}
	return nil
}

// xy is a point: in a panel's data units (seconds, connections, tasks)
// while a panel is built, in pixels once laid out.
type xy struct{ X, Y float64 }

// series is one line of a panel, in data units, drawn as a step line (each
// value held until the next point's time).
type series struct {
	xys []xy
	stroke
}

// legendEntry is one row of a panel's legend: a sample of the line, then
// its label.
type legendEntry struct {
	label string
	stroke
}

// panel is one chart of the picture, in data units.
type panel struct {
	title, yLabel, xLabel string // xLabel: "" for none
	xMin, xMax            float64
	yMin, yMax            float64
	lines                 []series // in drawing order
	legend                []legendEntry
}

// line adds a step line to p, widening p's y range to take it, and a legend
// row when name is not "".
func (p *panel) line(name string, xys []xy, c color.NRGBA, width float64, dashes ...float64) stroke {
	st := stroke{colour: c, width: width, dashes: dashes}
	p.lines = append(p.lines, series{xys: xys, stroke: st})
	for _, q := range xys {
		if !math.IsInf(q.Y, 0) && !math.IsNaN(q.Y) {
			p.yMin, p.yMax = min(p.yMin, q.Y), max(p.yMax, q.Y)
		}
	}
	if name != "" {
		p.legend = append(p.legend, legendEntry{label: name, stroke: st})
	}
	return st
}

// headroom raises a panel's top so its legend (top left) clears the data.
func (p *panel) headroom() {
	p.yMax *= 1.6
	if p.yMax <= p.yMin {
		p.yMax = p.yMin + 1
	}
}

// panelsOf builds the three panels.
func panelsOf(res *Result) []*panel {
	o := res.Options
	start, end := res.Trace.Points[0].At, res.Trace.Points[len(res.Trace.Points)-1].At
	x := func(d time.Duration) float64 { return d.Seconds() }
	steps := func(r *Run, f func(Sample) float64) []xy { return stepXYs(r.Samples, end, x, f) }
	flat := func(v float64) []xy { return []xy{{X: x(start), Y: v}, {X: x(end), Y: v}} }
	newPanel := func(title, yLabel string) *panel {
		return &panel{title: title, yLabel: yLabel, xMin: x(start), xMax: x(end)}
	}
	// fast-autoscaler's scale-outs, as thin vertical lines in the lower panels.
	markers := func(p *panel) {
		top := p.yMax
		for _, ev := range res.Fast.Events {
			if ev.By == FastAutoscaler && ev.Action == "scale_out" {
				p.line("", []xy{{X: x(ev.At), Y: 0}, {X: x(ev.At), Y: top}}, colourMarker, 1*pointPx)
			}
		}
	}

	traffic := newPanel(fmt.Sprintf("%s/%s: %s — fast-autoscaler vs managed target tracking (model)",
		o.Cluster, o.Name, filepath.Base(res.Trace.Name)), "connections")
	traffic.line("total connections at the load balancer (trace)", steps(&res.Fast, func(s Sample) float64 { return s.Conns }), colourTrace, 1.5*pointPx)
	traffic.headroom()

	// Target tracking alone is drawn first so fast-autoscaler's lines stay
	// visible where the two runs agree; the legend lists them the other way.
	load := newPanel("Load per ready task", "connections per task")
	managedLoad := load.line("", steps(&res.Managed, func(s Sample) float64 { return s.PerTask }), colourManaged, 1.8*pointPx)
	fastLoad := load.line("", steps(&res.Fast, func(s Sample) float64 { return s.PerTask }), colourFast, 1.8*pointPx)
	load.legend = append(load.legend,
		legendEntry{"fast-autoscaler + target tracking", fastLoad},
		legendEntry{"target tracking alone (model)", managedLoad})
	load.line(fmt.Sprintf("ScaleoutThreshold (%s)", conns(o.Policy.ScaleoutThreshold)), flat(o.Policy.ScaleoutThreshold), colourLimit, 1.2*pointPx, 6*pointPx, 3*pointPx)
	if o.TaskCapacity > 0 {
		load.line(fmt.Sprintf("task capacity (%s): 503 above", conns(o.TaskCapacity)), flat(o.TaskCapacity), colourCap, 1.2*pointPx, 2*pointPx, 2*pointPx)
	}
	load.headroom()
	markers(load)

	counts := newPanel("Tasks (solid: ready, dashed: desired; thin blue lines: fast-autoscaler scale-outs)", "tasks")
	ready := func(s Sample) float64 { return float64(s.Ready) }
	desired := func(s Sample) float64 { return float64(s.Desired) }
	mReady := counts.line("", steps(&res.Managed, ready), colourManaged, 1.8*pointPx)
	mDesired := counts.line("", steps(&res.Managed, desired), colourManaged, 1.2*pointPx, 5*pointPx, 3*pointPx)
	fReady := counts.line("", steps(&res.Fast, ready), colourFast, 1.8*pointPx)
	fDesired := counts.line("", steps(&res.Fast, desired), colourFast, 1.2*pointPx, 5*pointPx, 3*pointPx)
	counts.legend = append(counts.legend,
		legendEntry{"fast-autoscaler + target tracking: ready", fReady},
		legendEntry{"desired", fDesired},
		legendEntry{"target tracking alone (model): ready", mReady},
		legendEntry{"desired", mDesired})
	counts.headroom()
	markers(counts)
	counts.xLabel = "time from the start of the trace"
	return []*panel{traffic, load, counts}
}

// tick is a mark on an axis, in data units, and its label.
type tick struct {
	value float64
	label string
}

// timeTicks marks about ten round times between min and max seconds,
// labelled like "30s", "10m", "1h30m".
func timeTicks(min, max float64) []tick {
	steps := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	span := time.Duration((max - min) * float64(time.Second))
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 12 {
			step = s
			break
		}
	}
	var ticks []tick
	for t := time.Duration(math.Ceil(min/step.Seconds())) * step; t.Seconds() <= max; t += step {
		ticks = append(ticks, tick{value: t.Seconds(), label: tickLabel(t)})
	}
	return ticks
}

func tickLabel(d time.Duration) string {
	h, m := d/time.Hour, d%time.Hour/time.Minute
	switch {
	case d == 0:
		return "0"
	case d%time.Minute != 0:
		return Duration(d)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dm", m)
}

// countTicks marks round values between min and max: multiples of a step of
// 1, 2 or 5 times a power of ten, the one giving closest to 5–8 ticks (the
// fewer when two are as close), labelled with no needless decimals. It
// returns nil for an empty or infinite range.
func countTicks(min, max float64) []tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return nil
	}
	const fewest, most = 5, 8
	// count is how many multiples of step lie in [min, max], give or take
	// the rounding of the division.
	count := func(step float64) float64 {
		return math.Floor(max/step+1e-9) - math.Ceil(min/step-1e-9) + 1
	}
	distance := func(n float64) float64 { return math.Max(0, math.Max(fewest-n, n-most)) }
	top := int(math.Floor(math.Log10(max - min)))
	bestStep, bestExp, bestDist := 0.0, 0, math.Inf(1)
	for exp := top - 2; exp <= top+1; exp++ {
		for _, m := range []float64{1, 2, 5} {
			step := m * math.Pow10(exp)
			// Steps grow through the loop, so a tie goes to the fewer ticks.
			if d := distance(count(step)); d <= bestDist {
				bestStep, bestExp, bestDist = step, exp, d
			}
		}
	}
	decimals := 0
	if bestExp < 0 {
		decimals = -bestExp
	}
	var ticks []tick
	for k := math.Ceil(min/bestStep - 1e-9); k <= math.Floor(max/bestStep+1e-9); k++ {
		if k == 0 {
			k = 0 // not -0
		}
		// Rounded to the step's decimals, the value is free of k*step's
		// rounding (0.30000000000000004), and its shortest form has no
		// needless zeros.
		v, _ := strconv.ParseFloat(strconv.FormatFloat(k*bestStep, 'f', decimals, 64), 64)
		ticks = append(ticks, tick{value: v, label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// stepXYs returns f over the samples as the corners of a step line ending at
// end, with repeated values dropped; a line with more than maxLinePoints
// points is thinned to the maximum of each of maxLinePoints buckets, so
// peaks survive.
func stepXYs(samples []Sample, end time.Duration, x func(time.Duration) float64, f func(Sample) float64) []xy {
	var xys []xy
	for _, s := range samples {
		y := f(s)
		if n := len(xys); n > 0 && xys[n-1].Y == y {
			continue
		}
		xys = append(xys, xy{X: x(s.At), Y: y})
	}
	if len(xys) == 0 {
		return xys
	}
	xys = append(xys, xy{X: x(end), Y: xys[len(xys)-1].Y})
	if len(xys) <= maxLinePoints {
		return xys
	}
	first, width := xys[0].X, (xys[len(xys)-1].X-xys[0].X)/maxLinePoints
	thin := []xy{xys[0]}
	for _, pt := range xys[1:] {
		bucket := first + width*float64(int((pt.X-first)/width))
		last := &thin[len(thin)-1]
		switch {
		case bucket <= last.X:
			last.Y = max(last.Y, pt.Y)
		default:
			thin = append(thin, xy{X: bucket, Y: pt.Y})
		}
	}
	return append(thin, xys[len(xys)-1])
}
