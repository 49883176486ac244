// Command fast-autoscaler scales ECS services out in seconds: it polls each
// service's nginx stub_status and, when Active connections cross a
// threshold, raises the service's desired count at once.
//
// Usage:
//
//	fast-autoscaler run [-config FILE | -config-path PATH] [-dry-run] [-listen ADDR] [-pprof] [-reload-interval D] [-log-level LEVEL] [-max-attempts N] [-aws-timeout D] [-metrics-format prometheus|emf] [-emf-interval D]
//	fast-autoscaler validate [-config FILE | -config-path PATH] [-max-attempts N] [-aws-timeout D]
//	fast-autoscaler health [-url URL]
//	fast-autoscaler status [-url URL] [-o table|json]
//	fast-autoscaler simulate -config FILE -trace FILE [flags]
//	fast-autoscaler version
//
// Exit status: 0 on success (and after SIGTERM/SIGINT), 2 for bad usage or an
// invalid config, 1 for a runtime failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/debug"

	// Trust roots compiled in, used only when the system has none: the image
	// is FROM scratch, with no CA bundle, and still calls ECS, SSM and Slack
	// over HTTPS.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// version is stamped at build time with -ldflags "-X main.version=v1.2.3";
// unstamped builds report the module version from the build info.
var version = ""

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure
	exitUsage   = 2 // bad usage or an invalid config
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `fast-autoscaler scales ECS services out in seconds, on nginx stub_status.

Usage:
  fast-autoscaler <command> [flags]

Commands:
  run        watch the configured services and scale them out
  validate   check a config document and print the effective settings
  health     exit 0 when a running fast-autoscaler answers healthy (a container health check)
  status     show what a running fast-autoscaler is doing with each service
  simulate   replay a traffic trace through the policy in virtual time
  version    print the version

Run "fast-autoscaler <command> -h" for a command's flags.
`

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	env := environment{getenv: getenv}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr, env)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr, env)
	case "health":
		return cmdHealth(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "simulate":
		return cmdSimulate(ctx, rest, stdout, stderr)
	case "version":
		fs := newFlags("version", "Usage: fast-autoscaler version\n\nPrints the version.", stderr)
		if code := parseFlags(fs, rest, stderr); code >= 0 {
			return code
		}
		fmt.Fprintln(stdout, "fast-autoscaler", buildVersion())
		return exitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// buildVersion returns the stamped version, else the module's, else "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// newFlags returns a subcommand's flag set; -h prints help, then the flags.
func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a subcommand's flags and runs checks on their values,
// printing what is wrong (or the help) to stderr. It returns the exit status
// to end the command with (exitOK after -h), or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, checks ...func() error) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return exitUsage
	}
	for _, check := range checks {
		if err := check(); err != nil {
			fmt.Fprintf(stderr, "fast-autoscaler %s: %v\n", fs.Name(), err)
			return exitUsage
		}
	}
	return -1
}

// checkEndpointURL checks a -url flag: an http or https URL with a host. The
// value quoted back has any password in it replaced by "xxxxx".
func checkEndpointURL(target string) error {
	u, err := url.Parse(target)
	switch {
	case err != nil:
		return errors.New("-url must be an http or https URL; the value given does not parse as a URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("-url must be an http or https URL, got %q", u.Redacted())
	}
	return nil
}
