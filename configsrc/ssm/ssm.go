// Package ssm holds the config sources that read AWS Systems Manager Parameter
// Store on aws-sdk-go-v2: Parameter (one parameter, a configsrc.Source) and
// Path (every parameter under a path, a configsrc.MultiSource).
package ssm

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// Client is the part of *awsssm.Client that Parameter uses, with the SDK's own
// signature, so tests and wrappers can stand in for it.
type Client interface {
	GetParameter(ctx context.Context, in *awsssm.GetParameterInput, optFns ...func(*awsssm.Options)) (*awsssm.GetParameterOutput, error)
}

// Parameter is a configsrc.Source reading one SSM Parameter Store parameter, String or
// SecureString (always asked for with decryption). Its value never appears
// in an error: it may hold secrets.
type Parameter struct {
	Client Client // typically awsssm.NewFromConfig(cfg)
	Name   string // parameter name, e.g. "/ecs/fast-autoscaler/config.json"
	Region string // the client's region; used only in messages
}

var _ configsrc.Source = Parameter{}

// NewParameter returns an SSM source for the parameter name, read with client
// (typically awsssm.NewFromConfig(cfg)) in region (used only in messages).
func NewParameter(client Client, name, region string) Parameter {
	return Parameter{Client: client, Name: name, Region: region}
}

// String names the parameter: "SSM parameter <name> in <region>".
func (s Parameter) String() string {
	if s.Region == "" {
		return "SSM parameter " + s.Name
	}
	return "SSM parameter " + s.Name + " in " + s.Region
}

// Fetch returns the parameter's value with one GetParameter call (retries
// are the client's). A missing parameter is an error wrapping configsrc.ErrNotFound.
func (s Parameter) Fetch(ctx context.Context) ([]byte, error) {
	if s.Client == nil || s.Name == "" {
		return nil, fmt.Errorf("%s: SSM source needs a client and a parameter name", s)
	}
	out, err := s.Client.GetParameter(ctx, &awsssm.GetParameterInput{
		Name:           aws.String(s.Name),
		WithDecryption: aws.Bool(true),
	})
	var (
		notFound *types.ParameterNotFound
		denied   *types.AccessDeniedException
	)
	switch {
	case errors.As(err, &notFound):
		return nil, fmt.Errorf("%s does not exist (check the name and region): %w: %w", s, configsrc.ErrNotFound, err)
	case errors.As(err, &denied):
		return nil, fmt.Errorf("%s: access denied: grant ssm:GetParameter on it (and kms:Decrypt on its KMS key if it is a SecureString): %w", s, err)
	case err != nil:
		return nil, fmt.Errorf("%s: GetParameter: %w", s, err)
	case out == nil || out.Parameter == nil || aws.ToString(out.Parameter.Value) == "":
		return nil, fmt.Errorf("%s has an empty value", s)
	}
	return []byte(*out.Parameter.Value), nil
}
