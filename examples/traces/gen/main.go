// Command gen writes the example traffic traces that `fast-autoscaler
// simulate` replays: CSV files with a header and one row per step, "seconds
// from the start, total concurrent connections at the load balancer".
//
// Run it from the repository root to regenerate examples/traces/*.csv:
//
//	go run ./examples/traces/gen
//	go run ./examples/traces/gen -dir /tmp/traces   # write elsewhere
//
// Each trace is a small function of time below; change its numbers to vary
// it. The numbers suit examples/config.json (5 tasks at 100 connections per
// task, or 2 at 150) and the defaults (5 tasks at 150): normal traffic stays
// well under the threshold, and the flash sale's peak (900, 180 a task on 5
// tasks) is well over it. Noise comes from a fixed-seed generator, so every
// run writes the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// trace is one file to write: conns(t) sampled every step seconds for
// length seconds, with multiplicative noise of ±noise.
type trace struct {
	name   string
	about  string
	length float64 // seconds
	step   float64 // seconds between rows
	noise  float64 // fraction, uniform ±
	conns  func(t float64) float64
}

// traces returns the traces to write.
func traces() []trace {
	return []trace{
		{
			name: "flash-sale", about: "flat at 90, then 10x (900) within 30 s at 10m, held for 20 minutes, back down over 2 minutes",
			length: 50 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 {
				const base, peak, rise, hold, fall = 90.0, 900.0, 600.0, 30.0 + 20*60, 120.0
				switch {
				case t < rise:
					return base
				case t < rise+30:
					return ramp(t, rise, rise+30, base, peak)
				case t < rise+hold:
					return peak
				default:
					return ramp(t, rise+hold, rise+hold+fall, peak, base)
				}
			},
		},
		{
			name: "daily", about: "a day from midnight: quiet night, morning and lunch bumps, evening peak about 700 at 21:00",
			length: 24 * 3600, step: 30, noise: 0.05,
			conns: func(t float64) float64 {
				h := t / 3600
				return 60 + 200*bump(h, 8.5, 1) + 350*bump(h, 12.5, 1.5) + 640*bump(h, 21, 2)
			},
		},
		{
			name: "slow-ramp", about: "a steady climb from 200 to 2000 over two hours",
			length: 2 * 3600, step: 10, noise: 0.03,
			conns: func(t float64) float64 { return ramp(t, 0, 2*3600, 200, 2000) },
		},
		// The shapes below suit a service of 5 tasks with a threshold of
		// 100 connections per task (examples/hard-cases.json): normal
		// traffic sits under 500.
		{
			name: "spike-10x", about: "flat at 400, then 10x (4000) within 30 s at 10m, held for 20 minutes, back down over 2 minutes",
			length: 50 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 { return plateau(t, 400, 4000, 600, 30, 20*60, 120) },
		},
		{
			name: "surge-50x", about: "flat at 150, then 50x (7500) within 10 s at 10m, held for 20 minutes, back down over 2 minutes",
			length: 50 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 { return plateau(t, 150, 7500, 600, 10, 20*60, 120) },
		},
		{
			name: "staircase", about: "flat at 300, doubling every 2 minutes from 5m to 9600 at 13m, held until 30m, back down over 2 minutes",
			length: 40 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 {
				switch {
				case t < 300:
					return 300
				case t < 900:
					return 300 * math.Pow(2, min(math.Floor((t-300)/120)+1, 5))
				}
				return ramp(t, 1800, 1920, 9600, 300)
			},
		},
		{
			name: "ramp-20m", about: "300 rising steadily to 4000 over 20 minutes from 5m, held for 10 minutes, back down over 2 minutes",
			length: 40 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 { return plateau(t, 300, 4000, 300, 20*60, 10*60, 120) },
		},
		{
			name: "blip-3s", about: "flat at 400 with one 3-second blip to 800 at 8m",
			length: 20 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 {
				if t >= 480 && t < 483 {
					return 800
				}
				return 400
			},
		},
		{
			name: "flapping", about: "flapping around the threshold: 400 and 600 by turns, 30 s each, from 5m to 25m",
			length: 30 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 {
				if t >= 300 && t < 1500 && int((t-300)/30)%2 == 0 {
					return 600
				}
				return 400
			},
		},
		{
			name: "blip", about: "flat at 120 with one 15-second blip to 280 at 8m: no scale-out at sensible settings",
			length: 20 * 60, step: 1, noise: 0.03,
			conns: func(t float64) float64 {
				if t >= 480 && t < 495 {
					return 280
				}
				return 120
			},
		},
	}
}

// plateau is base until start, then rises linearly to peak over rise
// seconds, holds it for hold seconds, and falls back to base over fall
// seconds.
func plateau(t, base, peak, start, rise, hold, fall float64) float64 {
	switch {
	case t < start:
		return base
	case t < start+rise:
		return ramp(t, start, start+rise, base, peak)
	case t < start+rise+hold:
		return peak
	}
	return ramp(t, start+rise+hold, start+rise+hold+fall, peak, base)
}

// ramp rises (or falls) linearly from a at t0 to b at t1.
func ramp(t, t0, t1, a, b float64) float64 {
	f := min(max((t-t0)/(t1-t0), 0), 1)
	return a + (b-a)*f
}

// bump is a bell curve of height 1 centred on mid with width sd, wrapping
// around the 24-hour day.
func bump(h, mid, sd float64) float64 {
	d := math.Mod(math.Abs(h-mid), 24)
	d = min(d, 24-d)
	return math.Exp(-d * d / (2 * sd * sd))
}

func main() {
	dir := flag.String("dir", filepath.Join("examples", "traces"), "directory to write the CSV files to")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, tr := range traces() {
		if err := write(filepath.Join(*dir, tr.name+".csv"), tr); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

func write(path string, tr trace) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# %s: %s.\n# Generated by `go run ./examples/traces/gen`; edit that program to vary it.\nseconds,connections\n", tr.name, tr.about)
	rng := rand.New(rand.NewPCG(1, 2))
	for t := 0.0; t <= tr.length; t += tr.step {
		v := tr.conns(t) * (1 + tr.noise*(2*rng.Float64()-1))
		fmt.Fprintf(w, "%g,%.0f\n", t, v)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
