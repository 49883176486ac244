package configsrc

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// File is a Source reading a local file.
type File struct {
	Path string // file path
}

// Fetch reads the whole file.
func (f File) Fetch(context.Context) ([]byte, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return b, nil
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
