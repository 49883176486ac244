package configsrc

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ErrNotFound means the configuration document does not exist where the
// source looked (an SSM parameter that is not there).
var ErrNotFound = errors.New("config not found")

// SSMClient is the part of *ssm.Client that SSM uses, with the SDK's own
// signature, so tests and wrappers can stand in for it.
type SSMClient interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SSM is a Source reading one SSM Parameter Store parameter, String or
// SecureString (always asked for with decryption). Its value never appears
// in an error: it may hold secrets.
type SSM struct {
	Client SSMClient // typically ssm.NewFromConfig(cfg)
	Name   string    // parameter name, e.g. "/ecs/fast-autoscaler/config.json"
	Region string    // the client's region; used only in messages
}

// NewSSM returns an SSM source for the parameter name, read with client
// (typically ssm.NewFromConfig(cfg)) in region (used only in messages).
func NewSSM(client SSMClient, name, region string) SSM {
	return SSM{Client: client, Name: name, Region: region}
}

// String names the parameter: "SSM parameter <name> in <region>".
func (s SSM) String() string {
	if s.Region == "" {
		return "SSM parameter " + s.Name
	}
	return "SSM parameter " + s.Name + " in " + s.Region
}

// Fetch returns the parameter's value with one GetParameter call (retries
// are the client's). A missing parameter is an error wrapping ErrNotFound.
func (s SSM) Fetch(ctx context.Context) ([]byte, error) {
	if s.Client == nil || s.Name == "" {
		return nil, fmt.Errorf("%s: SSM source needs a client and a parameter name", s)
	}
	out, err := s.Client.GetParameter(ctx, &ssm.GetParameterInput{
		Name:           aws.String(s.Name),
		WithDecryption: aws.Bool(true),
	})
	var (
		notFound *types.ParameterNotFound
		denied   *types.AccessDeniedException
	)
	switch {
	case errors.As(err, &notFound):
		return nil, fmt.Errorf("%s does not exist (check the name and region): %w: %w", s, ErrNotFound, err)
	case errors.As(err, &denied):
		return nil, fmt.Errorf("%s: access denied: grant ssm:GetParameter on it (and kms:Decrypt on its KMS key if it is a SecureString): %w", s, err)
	case err != nil:
		return nil, fmt.Errorf("%s: GetParameter: %w", s, err)
	case out == nil || out.Parameter == nil || aws.ToString(out.Parameter.Value) == "":
		return nil, fmt.Errorf("%s has an empty value", s)
	}
	return []byte(*out.Parameter.Value), nil
}
