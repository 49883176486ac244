package ssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// PathClient is the part of *awsssm.Client that Path uses, with the SDK's
// own signature.
type PathClient interface {
	GetParametersByPath(ctx context.Context, in *awsssm.GetParametersByPathInput, optFns ...func(*awsssm.Options)) (*awsssm.GetParametersByPathOutput, error)
}

// pageSize is GetParametersByPath's largest MaxResults.
const pageSize = 10

// Path is a configsrc.MultiSource reading every parameter under an SSM
// Parameter Store path, at every level below it: each parameter is one
// configuration document in the seed's shape, and configsrc.LoadAll merges
// their services. String and SecureString parameters are read alike (always
// with decryption); no value ever appears in an error.
type Path struct {
	Client PathClient // typically awsssm.NewFromConfig(cfg)
	Path   string     // e.g. "/ecs/fast-autoscaler"; starts with "/"
	Region string     // the client's region; used only in messages
}

var _ configsrc.MultiSource = Path{}

// NewPath returns an SSM source for the parameters under path, read with
// client in region (used only in messages).
func NewPath(client PathClient, path, region string) Path {
	return Path{Client: client, Path: path, Region: region}
}

// String names the path: "SSM parameters under <path> in <region>".
func (p Path) String() string {
	if p.Region == "" {
		return "SSM parameters under " + p.Path
	}
	return "SSM parameters under " + p.Path + " in " + p.Region
}

// Under reports whether the parameter name lies under path, at any level,
// so that Path reads it.
func Under(name, path string) bool {
	return strings.HasPrefix(name, strings.TrimSuffix(path, "/")+"/")
}

// FetchAll reads every parameter under the path with GetParametersByPath
// (Recursive, WithDecryption, 10 a page, following NextToken to the end),
// and returns one document per parameter, named "SSM parameter <name>", in
// name order. No parameter under the path is an error wrapping
// configsrc.ErrNotFound; a parameter with an empty value is an error naming
// it.
func (p Path) FetchAll(ctx context.Context) ([]configsrc.Document, error) {
	if p.Client == nil || !strings.HasPrefix(p.Path, "/") {
		return nil, fmt.Errorf("%s: SSM path source needs a client and a path starting with /", p)
	}
	pages := awsssm.NewGetParametersByPathPaginator(p.Client, &awsssm.GetParametersByPathInput{
		Path:           aws.String(p.Path),
		Recursive:      aws.Bool(true),
		WithDecryption: aws.Bool(true),
		MaxResults:     aws.Int32(pageSize),
	})
	var docs []configsrc.Document
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		var denied *types.AccessDeniedException
		switch {
		case errors.As(err, &denied):
			return nil, fmt.Errorf("%s: access denied: grant ssm:GetParametersByPath on the path (and kms:Decrypt on the KMS key of its SecureString parameters): %w", p, err)
		case err != nil:
			return nil, fmt.Errorf("%s: GetParametersByPath: %w", p, err)
		}
		for _, prm := range out.Parameters {
			name := aws.ToString(prm.Name)
			if name == "" {
				return nil, fmt.Errorf("%s: GetParametersByPath returned a parameter without a name", p)
			}
			if aws.ToString(prm.Value) == "" {
				return nil, fmt.Errorf("%s: SSM parameter %s has an empty value", p, name)
			}
			docs = append(docs, configsrc.Document{Name: "SSM parameter " + name, Data: []byte(*prm.Value)})
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no parameter found (check the path and region): %w", p, configsrc.ErrNotFound)
	}
	slices.SortFunc(docs, func(a, b configsrc.Document) int { return strings.Compare(a.Name, b.Name) })
	return docs, nil
}

// Parameter value limits of SSM Parameter Store, in bytes.
const (
	StandardLimit = 4096 // a standard-tier parameter
	AdvancedLimit = 8192 // an advanced-tier parameter
)

// SizeAdvice says what it takes to store a document of size bytes in SSM
// Parameter Store, or "" when a standard parameter holds it.
func SizeAdvice(size int) string {
	const split = "split its services across several parameters under one path (AUTOSCALER_PARAMPATH or -config-path), each a document of the same shape"
	switch {
	case size <= StandardLimit:
		return ""
	case size <= AdvancedLimit:
		return fmt.Sprintf("the document is %d bytes, more than a standard SSM parameter holds (%d bytes): use an advanced parameter (up to %d bytes), or %s",
			size, StandardLimit, AdvancedLimit, split)
	}
	return fmt.Sprintf("the document is %d bytes, more than any SSM parameter holds (%d bytes standard, %d advanced): %s",
		size, StandardLimit, AdvancedLimit, split)
}
