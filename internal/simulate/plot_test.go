package simulate

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flashSalePlot simulates the flash sale with a task capacity, so every
// legend entry the plot can have is drawn.
func flashSalePlot(t *testing.T) *Result {
	t.Helper()
	res, err := Simulate(t.Context(), flashSale(t), Options{Policy: exampleApp(t), TaskCapacity: 150})
	require.NoError(t, err)
	return res
}

func TestWritePlotSVGIsWellFormedAndComplete(t *testing.T) {
	res := flashSalePlot(t)
	res.Options.Cluster = `shop<eu>&"co"`
	var pngBuf, svgBuf bytes.Buffer
	require.NoError(t, WritePlot(res, &pngBuf, &svgBuf))

	dec := xml.NewDecoder(bytes.NewReader(svgBuf.Bytes()))
	var texts []string
	var root string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	assert.Equal(t, "svg", root)
	for _, want := range []string{
		`shop<eu>&"co"/` + res.Options.Name + `: flash-sale.csv — fast-autoscaler vs managed target tracking (model)`,
		"Load per ready task",
		"Tasks (solid: ready, dashed: desired; thin blue lines: fast-autoscaler scale-outs)",
		"total connections at the load balancer (trace)",
		"fast-autoscaler + target tracking",
		"target tracking alone (model)",
		"ScaleoutThreshold (100)",
		"task capacity (150): 503 above",
		"fast-autoscaler + target tracking: ready",
		"target tracking alone (model): ready",
		"desired",
		"connections", "connections per task", "tasks", "time from the start of the trace",
		"10m", "50m",
	} {
		assert.Contains(t, texts, want)
	}
	assert.True(t, strings.Contains(svgBuf.String(), ">shop&lt;eu&gt;&amp;&#34;co&#34;/"+res.Options.Name+": "), "the title, escaped")
}

func TestWritePlotPNGDrawsEachPanel(t *testing.T) {
	res := flashSalePlot(t)
	var pngBuf bytes.Buffer
	require.NoError(t, WritePlot(res, &pngBuf, io.Discard))
	img, err := png.Decode(&pngBuf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, 1210, 990), img.Bounds())

	tf, err := newTypeface()
	require.NoError(t, err)
	areas := layoutPanels(panelsOf(res), tf).clips
	require.Len(t, areas, 3)
	count := func(area rect, c color.NRGBA) int {
		n := 0
		r := pixelRect(area)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if color.NRGBAModel.Convert(img.At(x, y)) == c {
					n++
				}
			}
		}
		return n
	}
	// The load panel's blue line crosses the whole panel, about three
	// pixels thick; the traffic panel has no blue, the counts panel has.
	assert.Greater(t, count(areas[1], colourFast), 2000, "fast-autoscaler's load line in the middle panel")
	assert.Zero(t, count(areas[0], colourFast), "blue in the traffic panel")
	assert.Greater(t, count(areas[2], colourFast), 2000, "fast-autoscaler's task counts in the bottom panel")
	assert.Greater(t, count(areas[0], colourTrace), 2000, "the trace in the top panel")
	white := color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	assert.Equal(t, white, color.NRGBAModel.Convert(img.At(2, 2)), "the background")
}

func TestPNGStepCornerHasNoNotch(t *testing.T) {
	blue := colourFast
	sc := &scene{width: 40, height: 40}
	sc.add(fill{r: rect{0, 0, 40, 40}, colour: colourPaper})
	// Right along y = 20, then up along x = 20, 4 pixels wide: the outer
	// corner is the square [20, 22] × [20, 22].
	sc.add(polyline{pts: []xy{{5, 20}, {20, 20}, {20, 5}}, stroke: stroke{colour: blue, width: 4}})
	at := pngOf(t, sc)
	assert.Equal(t, blue, at(21, 21), "outer corner")
	assert.Equal(t, blue, at(19, 19), "inner corner")
	assert.Equal(t, blue, at(6, 21), "horizontal stroke")
	assert.Equal(t, blue, at(21, 6), "vertical stroke")
	assert.Equal(t, colourPaper, at(4, 20), "butt start: nothing before the first point")
	assert.Equal(t, colourPaper, at(20, 4), "butt end: nothing past the last point")
	assert.Equal(t, colourPaper, at(23, 23), "past the corner")
}

func TestPNGClipsToThePanel(t *testing.T) {
	sc := &scene{width: 40, height: 40, clips: []rect{{10, 10, 30, 30}}}
	sc.add(fill{r: rect{0, 0, 40, 40}, colour: colourPaper})
	sc.add(polyline{pts: []xy{{0, 20}, {40, 20}}, stroke: stroke{colour: colourFast, width: 4}, clip: 1})
	at := pngOf(t, sc)
	assert.Equal(t, colourFast, at(15, 20))
	assert.Equal(t, colourPaper, at(5, 20))
	assert.Equal(t, colourPaper, at(35, 20))
}

// pngOf draws sc (which must hold no text) as a PNG, decodes it, and
// returns the colour of the pixel at x, y.
func pngOf(t *testing.T, sc *scene) func(x, y int) color.Color {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, sc.writePNG(&buf, nil))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	return func(x, y int) color.Color { return color.NRGBAModel.Convert(img.At(x, y)) }
}

func TestDashed(t *testing.T) {
	corner := []xy{{0, 0}, {10, 0}, {10, 10}}
	for name, tc := range map[string]struct {
		pts     []xy
		pattern []float64
		want    [][]xy
	}{
		"solid":           {corner, nil, [][]xy{corner}},
		"no length":       {corner, []float64{0, 0}, [][]xy{corner}},
		"negative":        {corner, []float64{-1, 2}, [][]xy{corner}},
		"round a corner":  {corner, []float64{5, 3}, [][]xy{{{0, 0}, {5, 0}}, {{8, 0}, {10, 0}, {10, 3}}, {{10, 6}, {10, 10}}}},
		"ends in a gap":   {[]xy{{0, 0}, {0, 9}}, []float64{4, 4}, [][]xy{{{0, 0}, {0, 4}}, {{0, 8}, {0, 9}}}},
		"odd pattern":     {[]xy{{0, 0}, {12, 0}}, []float64{2, 1, 3}, [][]xy{{{0, 0}, {2, 0}}, {{3, 0}, {6, 0}}, {{8, 0}, {9, 0}}}},
		"gap on a corner": {corner, []float64{10, 2}, [][]xy{{{0, 0}, {10, 0}}, {{10, 2}, {10, 10}}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := dashed(tc.pts, tc.pattern)
			require.Len(t, got, len(tc.want), "%v", got)
			for i := range got {
				require.Len(t, got[i], len(tc.want[i]), "piece %d: %v", i, got[i])
				for j := range got[i] {
					assert.InDelta(t, tc.want[i][j].X, got[i][j].X, 1e-9, "piece %d point %d", i, j)
					assert.InDelta(t, tc.want[i][j].Y, got[i][j].Y, 1e-9, "piece %d point %d", i, j)
				}
			}
		})
	}
}

func TestOutlineTurnsOneWay(t *testing.T) {
	// A step line going right, up, right, down, left: every quad must wind
	// the same way, or overlapping ones would cancel in the rasteriser.
	quads := outline([]xy{{0, 0}, {10, 0}, {10, -10}, {20, -10}, {20, 5}, {5, 5}}, 2)
	require.Len(t, quads, 5)
	area := func(q [4]xy) float64 {
		sum := 0.0
		for j := range q {
			a, b := q[j], q[(j+1)%4]
			sum += a.X*b.Y - b.X*a.Y
		}
		return sum / 2
	}
	first := area(quads[0])
	require.NotZero(t, first)
	for i, q := range quads {
		assert.Positive(t, area(q)*first, "quad %d: %v", i, q)
	}
	// Butt ends, square corners: the first quad starts at x = 0 and runs
	// one half-width past the corner at x = 10.
	xs := []float64{quads[0][0].X, quads[0][1].X, quads[0][2].X, quads[0][3].X}
	assert.Equal(t, 0.0, slices.Min(xs))
	assert.Equal(t, 11.0, slices.Max(xs))
}

func TestCountTicks(t *testing.T) {
	labels := func(ticks []tick) string {
		var s []string
		for _, tk := range ticks {
			s = append(s, tk.label)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		min, max float64
		want     string
	}{
		{0, 1460, "0 200 400 600 800 1000 1200 1400"},
		{0, 16, "0 5 10 15"},
		{0, 9.6, "0 2 4 6 8"},
		{0, 1, "0 0.2 0.4 0.6 0.8 1"},
		{0, 0.3, "0 0.05 0.1 0.15 0.2 0.25 0.3"},
		{0, 6560, "0 1000 2000 3000 4000 5000 6000"},
		{-3, 3, "-3 -2 -1 0 1 2 3"},
		{1e6, 1e6 + 4, "1000000 1000001 1000002 1000003 1000004"},
	} {
		assert.Equal(t, tc.want, labels(countTicks(tc.min, tc.max)), "%v–%v", tc.min, tc.max)
	}
	assert.Empty(t, countTicks(1, 1))
	assert.Empty(t, countTicks(2, 1))
	assert.Empty(t, countTicks(0, math.Inf(1)))
	assert.Empty(t, countTicks(0, math.NaN()))
}

// TestCountTicksAcrossRanges: whatever the range, 4 to 10 ticks, evenly
// stepped by 1, 2 or 5 times a power of ten, inside the range, each labelled
// with its value.
func TestCountTicksAcrossRanges(t *testing.T) {
	for top := 0.013; top < 1e7; top *= 1.0137 {
		ticks := countTicks(0, top)
		require.GreaterOrEqual(t, len(ticks), 4, "0–%v: %v", top, ticks)
		require.LessOrEqual(t, len(ticks), 10, "0–%v: %v", top, ticks)
		step := ticks[1].value - ticks[0].value
		exp := math.Floor(math.Log10(step))
		mant := step / math.Pow10(int(exp))
		assert.True(t, math.Abs(mant-1) < 1e-6 || math.Abs(mant-2) < 1e-6 || math.Abs(mant-5) < 1e-6, "0–%v: step %v", top, step)
		for i, tk := range ticks {
			assert.InDelta(t, float64(i)*step, tk.value, step*1e-6, "0–%v", top)
			assert.LessOrEqual(t, tk.value, top)
			v, err := strconv.ParseFloat(tk.label, 64)
			require.NoError(t, err)
			assert.Equal(t, tk.value, v)
			assert.LessOrEqual(t, len(tk.label), 8, "0–%v: label %q", top, tk.label)
		}
	}
}

func TestWritePlotRefusesAResultWithNoTrace(t *testing.T) {
	for name, res := range map[string]*Result{"nil": nil, "no trace": {}, "no points": {Trace: &Trace{Name: "empty.csv"}}} {
		var pngBuf, svgBuf bytes.Buffer
		err := WritePlot(res, &pngBuf, &svgBuf)
		require.ErrorContains(t, err, "no trace to draw", name)
		assert.Zero(t, pngBuf.Len()+svgBuf.Len(), "%s: bytes written", name)
	}
}
