package configsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Source yields the raw configuration document. Load parses and validates
// what it returns; a Source only fetches. A Source that also implements
// fmt.Stringer is named by that string in errors and logs ("file x.json",
// "SSM parameter /a/b in ap-northeast-1"); the string must hold no secret.
type Source interface {
	Fetch(ctx context.Context) ([]byte, error)
}

// SourceFunc adapts an ordinary function to a Source.
type SourceFunc func(ctx context.Context) ([]byte, error)

// Fetch calls f(ctx).
func (f SourceFunc) Fetch(ctx context.Context) ([]byte, error) { return f(ctx) }

// File is a Source reading a local file. It reads at most MaxDocumentSize
// bytes (a larger file is a *ValidationError saying so, not a large
// allocation), and a read honours its context: a FIFO or device that never
// delivers cannot block a reload or a shutdown.
type File struct {
	Path string // file path
}

// Fetch reads the whole file, up to MaxDocumentSize bytes, until ctx is
// done. Opening it never blocks (a FIFO with no writer reads as empty).
func (f File) Fetch(ctx context.Context) ([]byte, error) {
	file, err := openNonblocking(f.Path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	defer file.Close()
	// A pipe or FIFO is read through the runtime's poller, which honours
	// deadlines: cancellation sets one in the past. A regular file does not
	// block for long and takes no deadline (the call fails, harmlessly).
	stop := context.AfterFunc(ctx, func() { _ = file.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(io.LimitReader(file, MaxDocumentSize+1))
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("read config file %s: %w", f.Path, context.Cause(ctx))
	case err != nil:
		return nil, fmt.Errorf("read config file: %w", err)
	case buf.Len() > MaxDocumentSize:
		return nil, docError(fmt.Sprintf("the file holds more than the limit of %d bytes", MaxDocumentSize))
	}
	return buf.Bytes(), nil
}

// String names the file.
func (f File) String() string { return "file " + f.Path }

// Load fetches the document from src and parses it with Parse. Errors name the
// source.
func Load(ctx context.Context, src Source) (*Config, error) {
	name := Describe(src)
	b, err := src.Fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("config from %s: %w", name, err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config from %s: %w", name, err)
	}
	return cfg, nil
}

// Describe names a source for errors and logs: its String method when it has
// one, else its type.
func Describe(src Source) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", src)
}

// ErrNotFound means the configuration document does not exist where the
// source looked (an SSM parameter that is not there).
var ErrNotFound = errors.New("config not found")
