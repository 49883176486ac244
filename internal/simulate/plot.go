package simulate

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot size, and how many points a line may have before it is thinned to its
// per-bucket maximum (so a day of 1-second rows stays a light picture).
const (
	plotWidth     = 11 * vg.Inch
	plotHeight    = 9 * vg.Inch
	plotDPI       = 110
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
// both runs) and writes it as PNG to pngW and SVG to svgW.
func WritePlot(res *Result, pngW, svgW io.Writer) error {
	plots := plotsOf(res)
	img := vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI))
	drawPlots(plots, draw.New(img))
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(pngW); err != nil {
		return fmt.Errorf("write PNG: %w", err)
	}
	svg := vgsvg.New(plotWidth, plotHeight)
	drawPlots(plots, draw.New(svg))
	if _, err := svg.WriteTo(svgW); err != nil {
		return fmt.Errorf("write SVG: %w", err)
	}
	return nil
}

func drawPlots(plots []*plot.Plot, dc draw.Canvas) {
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 6 * vg.Millimeter}
	for i, c := range plot.Align(rows, tiles, dc) {
		plots[i].Draw(c[0])
	}
}

// plotsOf builds the three panels.
func plotsOf(res *Result) []*plot.Plot {
	o := res.Options
	start, end := res.Trace.Points[0].At, res.Trace.Points[len(res.Trace.Points)-1].At
	x := func(d time.Duration) float64 { return d.Seconds() }
	line := func(p *plot.Plot, name string, xys plotter.XYs, c color.Color, width vg.Length, dashes ...vg.Length) *plotter.Line {
		l := &plotter.Line{XYs: xys, StepStyle: plotter.PostStep, LineStyle: plotter.DefaultLineStyle}
		l.Color, l.Width, l.Dashes = c, width, dashes
		p.Add(l)
		if name != "" {
			p.Legend.Add(name, l)
		}
		return l
	}
	steps := func(r *Run, f func(Sample) float64) plotter.XYs { return stepXYs(r.Samples, end, x, f) }
	flat := func(v float64) plotter.XYs { return plotter.XYs{{X: x(start), Y: v}, {X: x(end), Y: v}} }
	newPlot := func(title, yLabel string) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.Title.TextStyle.Font.Size = vg.Points(13)
		p.Y.Label.Text = yLabel
		p.X.Min, p.X.Max = x(start), x(end)
		p.Y.Min = 0
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle.Font.Size = vg.Points(10)
		p.Legend.XOffs, p.Legend.YOffs = 2*vg.Millimeter, -vg.Millimeter
		p.X.Tick.Marker = plot.TickerFunc(timeTicks)
		p.Y.Tick.Marker = plot.TickerFunc(countTicks)
		p.Add(plotter.NewGrid())
		return p
	}
	// fast-autoscaler's scale-outs, as thin vertical lines in the lower panels.
	markers := func(p *plot.Plot, top float64) {
		for _, ev := range res.Fast.Events {
			if ev.By == FastAutoscaler && ev.Action == "scale_out" {
				line(p, "", plotter.XYs{{X: x(ev.At), Y: 0}, {X: x(ev.At), Y: top}}, colourMarker, vg.Points(1))
			}
		}
	}

	traffic := newPlot(fmt.Sprintf("%s/%s: %s — fast-autoscaler vs managed target tracking (model)",
		o.Cluster, o.Name, filepath.Base(res.Trace.Name)), "connections")
	line(traffic, "total connections at the load balancer (trace)", steps(&res.Fast, func(s Sample) float64 { return s.Conns }), colourTrace, vg.Points(1.5))
	headroom(traffic)

	// Target tracking alone is drawn first so fast-autoscaler's lines stay
	// visible where the two runs agree; the legend lists them the other way.
	load := newPlot("Load per ready task", "connections per task")
	managedLoad := line(load, "", steps(&res.Managed, func(s Sample) float64 { return s.PerTask }), colourManaged, vg.Points(1.8))
	fastLoad := line(load, "", steps(&res.Fast, func(s Sample) float64 { return s.PerTask }), colourFast, vg.Points(1.8))
	load.Legend.Add("fast-autoscaler + target tracking", fastLoad)
	load.Legend.Add("target tracking alone (model)", managedLoad)
	line(load, fmt.Sprintf("ScaleoutThreshold (%s)", conns(o.Policy.ScaleoutThreshold)), flat(o.Policy.ScaleoutThreshold), colourLimit, vg.Points(1.2), vg.Points(6), vg.Points(3))
	if o.TaskCapacity > 0 {
		line(load, fmt.Sprintf("task capacity (%s): 503 above", conns(o.TaskCapacity)), flat(o.TaskCapacity), colourCap, vg.Points(1.2), vg.Points(2), vg.Points(2))
	}
	headroom(load)
	markers(load, load.Y.Max)

	counts := newPlot("Tasks (solid: ready, dashed: desired; thin blue lines: fast-autoscaler scale-outs)", "tasks")
	ready := func(s Sample) float64 { return float64(s.Ready) }
	desired := func(s Sample) float64 { return float64(s.Desired) }
	mReady := line(counts, "", steps(&res.Managed, ready), colourManaged, vg.Points(1.8))
	mDesired := line(counts, "", steps(&res.Managed, desired), colourManaged, vg.Points(1.2), vg.Points(5), vg.Points(3))
	fReady := line(counts, "", steps(&res.Fast, ready), colourFast, vg.Points(1.8))
	fDesired := line(counts, "", steps(&res.Fast, desired), colourFast, vg.Points(1.2), vg.Points(5), vg.Points(3))
	counts.Legend.Add("fast-autoscaler + target tracking: ready", fReady)
	counts.Legend.Add("desired", fDesired)
	counts.Legend.Add("target tracking alone (model): ready", mReady)
	counts.Legend.Add("desired", mDesired)
	headroom(counts)
	markers(counts, counts.Y.Max)
	counts.X.Label.Text = "time from the start of the trace"
	return []*plot.Plot{traffic, load, counts}
}

// headroom raises a panel's top so its legend (top left) clears the data.
func headroom(p *plot.Plot) {
	p.Y.Max *= 1.6
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
}

// timeTicks marks about ten round times between min and max seconds,
// labelled like "30s", "10m", "1h30m".
func timeTicks(min, max float64) []plot.Tick {
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
	var ticks []plot.Tick
	for t := time.Duration(math.Ceil(min/step.Seconds())) * step; t.Seconds() <= max; t += step {
		ticks = append(ticks, plot.Tick{Value: t.Seconds(), Label: tickLabel(t)})
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

// countTicks is plot.DefaultTicks with labels free of needless decimals.
func countTicks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}

// stepXYs returns f over the samples as the corners of a step line ending at
// end, with repeated values dropped; a line with more than maxLinePoints
// points is thinned to the maximum of each of maxLinePoints buckets, so
// peaks survive.
func stepXYs(samples []Sample, end time.Duration, x func(time.Duration) float64, f func(Sample) float64) plotter.XYs {
	var xys plotter.XYs
	for _, s := range samples {
		y := f(s)
		if n := len(xys); n > 0 && xys[n-1].Y == y {
			continue
		}
		xys = append(xys, plotter.XY{X: x(s.At), Y: y})
	}
	if len(xys) == 0 {
		return xys
	}
	xys = append(xys, plotter.XY{X: x(end), Y: xys[len(xys)-1].Y})
	if len(xys) <= maxLinePoints {
		return xys
	}
	first, width := xys[0].X, (xys[len(xys)-1].X-xys[0].X)/maxLinePoints
	thin := plotter.XYs{xys[0]}
	for _, pt := range xys[1:] {
		bucket := first + width*float64(int((pt.X-first)/width))
		last := &thin[len(thin)-1]
		switch {
		case bucket <= last.X:
			last.Y = max(last.Y, pt.Y)
		default:
			thin = append(thin, plotter.XY{X: bucket, Y: pt.Y})
		}
	}
	return append(thin, xys[len(xys)-1])
}
