package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// moduleRoot returns the directory of this module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the fast-autoscaler module: run from the repository, or give -binary")
	}
	return filepath.Dir(mod), nil
}

// buildBinary builds ./cmd/fast-autoscaler into dir.
func buildBinary(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fast-autoscaler")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fast-autoscaler")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/fast-autoscaler: %w\n%s", err, out.Bytes())
	}
	return bin, nil
}

// logSeen is what the harness keeps from the binary's log.
type logSeen struct {
	addr       string    // from "listening"
	readyAt    time.Time // when "ready" was logged
	readFailed int       // "metric read failed" lines
	failLines  []string  // the first few of them
	preflight  int       // "service state" and "service not readable" lines
	unreadable int       // "service not readable" lines
	statesRead bool      // "service states read": the start-up read of every service ended
	preflightT time.Time // when it ended (the last service's line, for a binary that logs no summary)
	scaleOuts  int       // "scaled out" lines (a dry run logs them too)
	errors     []string  // the first few lines at level ERROR
	// Per-task reading's lines: "tasks did not answer" (with the first few),
	// "tasks not listed..." (a listing failed, e.g. for want of the ECS call
	// budget), "metric read still failing" and "metric source recovered".
	unanswered      int
	unansweredLines []string
	notListed       int
	notListedLines  []string
	stillFailing    int
	recovered       int
}

// binaryLog follows the binary's JSON log (stdout).
type binaryLog struct {
	mu    sync.Mutex
	seen  logSeen
	ready chan struct{} // closed at "ready"
	tee   io.Writer     // a copy of every line (the kept log file), or nil
}

func newBinaryLog(tee io.Writer) *binaryLog {
	return &binaryLog{ready: make(chan struct{}), tee: tee}
}

// follow reads r line by line until it ends.
func (l *binaryLog) follow(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		l.line(sc.Bytes(), time.Now())
	}
}

func (l *binaryLog) line(b []byte, now time.Time) {
	if l.tee != nil {
		_, _ = l.tee.Write(append(b, '\n'))
	}
	has := func(s string) bool { return bytes.Contains(b, []byte(s)) }
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.seen
	switch {
	case has(`"msg":"metric read failed"`):
		s.readFailed++
		if len(s.failLines) < 3 {
			s.failLines = append(s.failLines, string(b))
		}
	case has(`"msg":"service state"`):
		s.preflight++
		if !s.statesRead {
			s.preflightT = now // older binaries log no summary line
		}
	case has(`"msg":"service not readable`):
		s.preflight++
		s.unreadable++
		if !s.statesRead {
			s.preflightT = now
		}
	case has(`"msg":"service states read"`):
		if !s.statesRead {
			s.statesRead, s.preflightT = true, now
		}
	case has(`"msg":"tasks did not answer"`):
		s.unanswered++
		if len(s.unansweredLines) < 3 {
			s.unansweredLines = append(s.unansweredLines, string(b))
		}
	case has(`"msg":"tasks not listed`):
		s.notListed++
		if len(s.notListedLines) < 3 {
			s.notListedLines = append(s.notListedLines, string(b))
		}
	case has(`"msg":"metric read still failing"`):
		s.stillFailing++
	case has(`"msg":"metric source recovered"`):
		s.recovered++
	case has(`"msg":"scaled out"`):
		s.scaleOuts++
	case has(`"msg":"listening"`):
		var v struct{ Addr string }
		if json.Unmarshal(b, &v) == nil {
			s.addr = v.Addr
		}
	case has(`"msg":"ready"`):
		if s.readyAt.IsZero() {
			s.readyAt = now
			close(l.ready)
		}
	}
	if has(`"level":"ERROR"`) && len(s.errors) < 3 {
		s.errors = append(s.errors, string(b))
	}
}

// snapshot returns a copy of what was seen so far.
func (l *binaryLog) snapshot() logSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen
	s.failLines, s.errors = slices.Clone(s.failLines), slices.Clone(s.errors)
	s.unansweredLines, s.notListedLines = slices.Clone(s.unansweredLines), slices.Clone(s.notListedLines)
	return s
}

// child is a process the harness started.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	stderr  bytes.Buffer
	stdout  io.ReadCloser
	exited  chan struct{}
	err     error // Wait's result, set before exited closes
}

// startChild starts name with args and env appended to this process's
// environment; its stdout is child.stdout, to be read by the caller.
func startChild(name, bin string, args, env []string) (*child, error) {
	c := &child{name: name, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	// Gone with the harness, however it ends.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.stdout = out
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.started = time.Now()
	return c, nil
}

// wait must be called once the caller has read stdout to its end (or in a
// goroutine alongside); it records the exit.
func (c *child) wait() {
	c.err = c.cmd.Wait()
	close(c.exited)
}

// alive reports an error when the process has exited.
func (c *child) alive() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited early: %v\n%s", c.name, c.err, strings.TrimSpace(c.stderr.String()))
	default:
		return nil
	}
}

// stop sends SIGTERM and waits up to d for the process to exit, then kills
// it. It returns an error when the process did not exit cleanly by itself.
func (c *child) stop(d time.Duration) error {
	select {
	case <-c.exited:
		return c.exitErr()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	select {
	case <-c.exited:
		return c.exitErr()
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not exit within %v of SIGTERM", c.name, d)
	}
}

func (c *child) exitErr() error {
	if c.err != nil {
		return fmt.Errorf("%s: %v\n%s", c.name, c.err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}
