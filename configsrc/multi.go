package configsrc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Document is one configuration document in the seed's shape and the name it
// goes by in errors and logs.
type Document struct {
	// Name names the document, e.g. "SSM parameter /ecs/fast-autoscaler/web";
	// "" for the only document of a single Source (see One). It must hold no
	// secret.
	Name string
	// Data is the document itself.
	Data []byte
}

// MultiSource yields several configuration documents; LoadAll merges their
// services into one Config. SSM Parameter Store paths are the built-in one
// (configsrc/ssm.Path): one document per parameter under a path. A
// MultiSource that also implements fmt.Stringer is named by that string in
// errors and logs; the string must hold no secret.
type MultiSource interface {
	FetchAll(ctx context.Context) ([]Document, error)
}

// MultiSourceFunc adapts an ordinary function to a MultiSource.
type MultiSourceFunc func(ctx context.Context) ([]Document, error)

// FetchAll calls f(ctx).
func (f MultiSourceFunc) FetchAll(ctx context.Context) ([]Document, error) { return f(ctx) }

// One adapts a Source to a MultiSource yielding its document, unnamed: the
// source's own name (Describe) names it. LoadAll(ctx, One(src)) loads what
// Load(ctx, src) does, with the same errors.
func One(src Source) MultiSource { return one{src} }

type one struct{ src Source }

func (o one) FetchAll(ctx context.Context) ([]Document, error) {
	b, err := o.src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return []Document{{Data: b}}, nil
}

func (o one) String() string { return Describe(o.src) }

// All combines sources into one: the documents of each, in the order given.
// A document named "" takes the name of the source it came from, so every
// document of the result is named. A source that fails fails the whole
// fetch, naming that source.
func All(srcs ...MultiSource) MultiSource { return all(srcs) }

type all []MultiSource

func (a all) FetchAll(ctx context.Context) ([]Document, error) {
	var docs []Document
	for _, src := range a {
		got, err := src.FetchAll(ctx)
		if err != nil {
			if len(a) == 1 {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", DescribeAll(src), err)
		}
		for _, d := range got {
			if d.Name == "" && len(a) > 1 {
				d.Name = DescribeAll(src)
			}
			docs = append(docs, d)
		}
	}
	return docs, nil
}

func (a all) String() string {
	names := make([]string, len(a))
	for i, src := range a {
		names[i] = DescribeAll(src)
	}
	return strings.Join(names, " and ")
}

// DescribeAll names a MultiSource for errors and logs: its String method when
// it has one, else its type.
func DescribeAll(src MultiSource) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", src)
}

// LoadAll fetches every document from src and merges them with Merge. Errors
// name the source; a problem in one of several documents also names that
// document.
func LoadAll(ctx context.Context, src MultiSource) (*Config, error) {
	name := DescribeAll(src)
	docs, err := src.FetchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("config from %s: %w", name, err)
	}
	cfg, err := Merge(docs)
	if err != nil {
		return nil, fmt.Errorf("config from %s: %w", name, err)
	}
	return cfg, nil
}

// ErrNoDocuments means a MultiSource yielded no document at all.
var ErrNoDocuments = errors.New("no configuration documents")

// Merge parses each document with Parse and merges their services, document
// by document in the order given. On failure the error is a
// *ValidationError listing the problems of every document at once (the
// first MaxProblems of them, the rest counted in Omitted), each
// naming its document (Problem.Document) as well as its service and field.
// A service (cluster and name) configured in two documents is a problem that
// names both. No document at all is an error wrapping ErrNoDocuments.
func Merge(docs []Document) (*Config, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: nothing to watch", ErrNoDocuments)
	}
	type place struct {
		doc   string
		index int
	}
	cfg := &Config{}
	var problems []Problem
	omitted := 0
	add := func(p Problem) { // the first MaxProblems of all documents; the rest counted
		if len(problems) >= MaxProblems {
			omitted++
			return
		}
		problems = append(problems, p)
	}
	seen := map[[2]string]place{}
	for _, d := range docs {
		one, err := Parse(d.Data)
		var ve *ValidationError
		switch {
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				p.Document = d.Name
				add(p)
			}
			omitted += ve.Omitted
			continue
		case err != nil: // Parse returns nothing else; keep it if it ever does
			add(Problem{Document: d.Name, Index: -1, Message: err.Error()})
			continue
		}
		var dups []Problem
		for i, s := range one.Services {
			key := [2]string{s.EcsClusterName, s.EcsServiceName}
			if first, ok := seen[key]; ok {
				where := fmt.Sprintf("Services[%d]", first.index)
				if first.doc != "" {
					where = first.doc + " at " + where
				}
				dups = append(dups, Problem{Document: d.Name, Index: i, Service: s.EcsServiceName, Field: "EcsServiceName",
					Message: fmt.Sprintf("%s is also configured in %s", Printable(s.Name()), where)})
				continue
			}
			seen[key] = place{d.Name, i}
			s.Document = d.Name
			cfg.Services = append(cfg.Services, s)
		}
		for _, p := range dups {
			add(p)
		}
		cfg.Documents = append(cfg.Documents, DocumentInfo{Name: d.Name, Size: len(d.Data), Services: len(one.Services)})
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(docIndex(docs, a.Document), docIndex(docs, b.Document)), cmp.Compare(a.Index, b.Index))
		})
		return nil, &ValidationError{Problems: problems, Omitted: omitted}
	}
	return cfg, nil
}

// docIndex is the position of the document named name in docs.
func docIndex(docs []Document, name string) int {
	return slices.IndexFunc(docs, func(d Document) bool { return d.Name == name })
}
