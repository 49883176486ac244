package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fast-autoscaler/fast-autoscaler/internal/app"
)

// defaultStatusURL is what `status` queries: the default -listen address.
const defaultStatusURL = "http://127.0.0.1:9100" + app.StatusPath

// cmdStatus prints a running fast-autoscaler's view of each service, as a
// table or (-o json) as the JSON it answered.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		target, output string
		timeout        time.Duration
	)
	fs := newFlags("status", "Usage: fast-autoscaler status [-url URL] [-o table|json] [-timeout D]\n\n"+
		"Shows what a running fast-autoscaler is doing with each service: its state (watching, grace,\n"+
		"blind, paused, held-at-max, scale-failing), last reading, threshold, counts and cap.\n"+
		"Exit status 0 when it answered, 1 otherwise.", stderr)
	fs.StringVar(&target, "url", defaultStatusURL, "status endpoint `URL`")
	fs.StringVar(&output, "o", "table", "output `format`: table or json")
	fs.DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	if code := parseFlags(fs, args, stderr, func() error {
		if timeout <= 0 {
			return fmt.Errorf("-timeout must be > 0, got %v", timeout)
		}
		if output != "table" && output != "json" {
			return fmt.Errorf("-o must be table or json, got %q", output)
		}
		return checkEndpointURL(target)
	}); code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, body, err := app.FetchStatus(ctx, target)
	if err != nil {
		fmt.Fprintln(stderr, "fast-autoscaler status:", err)
		return exitFailure
	}
	if output == "json" {
		stdout.Write(body)
		return exitOK
	}
	printStatus(stdout, resp)
	return exitOK
}

// printStatus writes resp as a table, one service a row. Ages and times
// to come are relative to the server's clock (resp.Time).
func printStatus(w io.Writer, resp *app.StatusResponse) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tREADING\tTHRESHOLD\tDESIRED\tRUNNING\tCAP\tMODE\tSINCE\tNOTE")
	now := resp.Time
	for _, s := range resp.Services {
		reading := "<none>"
		if r := s.Reading; r != nil {
			reading = number(r.Value)
			if r.Overload {
				reading = "overload"
			}
		}
		desired, running := "-", "-"
		if s.Seen != nil {
			desired, running = strconv.Itoa(s.Seen.Desired), strconv.Itoa(s.Seen.Running)
		}
		capacity := "none"
		if s.Cap != nil {
			capacity = strconv.Itoa(*s.Cap)
		}
		since := "-"
		if s.Since != nil {
			since = age(now.Sub(*s.Since))
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Cluster, s.Service, s.State, reading,
			number(s.Threshold), desired, running, capacity, s.Mode, since, note(s, now))
	}
	tw.Flush()
}

// note says what the state word leaves out.
func note(s app.ServiceStatus, now time.Time) string {
	var parts []string
	switch s.State {
	case "grace", "held-at-max", "starting", "suspended":
		if s.Until != nil {
			parts = append(parts, "until "+s.Until.Format(time.TimeOnly)+" (in "+age(s.Until.Sub(now))+")")
		}
	case "blind":
		parts = append(parts, fmt.Sprintf("%d failed reads", s.ReadFailures))
		if s.Reading != nil {
			parts = append(parts, "last good "+age(now.Sub(s.Reading.Time))+" ago")
		} else {
			parts = append(parts, "never read")
		}
	case "scale-failing":
		parts = append(parts, fmt.Sprintf("%d failed scale-outs", s.ScaleFailures))
		if s.Until != nil {
			parts = append(parts, "retry in "+age(s.Until.Sub(now)))
		}
	}
	if s.State != "blind" && s.ReadFailures > 0 {
		parts = append(parts, fmt.Sprintf("%d failed reads", s.ReadFailures))
	}
	if s.LastOutcome == "dry_run" {
		parts = append(parts, "dry run")
	}
	if s.LastError != "" {
		parts = append(parts, oneLine(s.LastError, 100))
	}
	return strings.Join(parts, "; ")
}

// age formats d to the second ("0s" for anything below), never negative.
func age(d time.Duration) string { return max(d, 0).Round(time.Second).String() }

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// oneLine keeps a table row on one line: line breaks become spaces and a
// long text is cut at n runes with an ellipsis.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
