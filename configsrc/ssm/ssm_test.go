package ssm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc/ssm"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

const paramName = "/ecs/fast-autoscaler/config.json"

// validDoc is a minimal valid document holding a status auth secret.
const validDoc = `{"Services":[{"StatusUrl":"https://example-a.com/nginx-status",
  "StatusAuthName":"Status-Auth-Key","StatusAuthValue":"tok-s3cret-value",
  "EcsClusterName":"example-app","EcsServiceName":"example-app"}]}`

// newSSM starts a fake AWS holding the parameter and returns it with an SSM
// source using the real SDK client.
func newSSM(t *testing.T, typ, value string) (*awstest.Server, ssm.Parameter) {
	s := awstest.New(t)
	s.PutParameter(awstest.Parameter{Name: paramName, Type: typ, Value: value})
	return s, ssm.NewParameter(awsssm.NewFromConfig(s.Config()), paramName, awstest.Region)
}

func TestSSMFetch(t *testing.T) {
	for _, typ := range []string{"String", "SecureString"} {
		t.Run(typ, func(t *testing.T) {
			s, src := newSSM(t, typ, validDoc)
			b, err := src.Fetch(context.Background())
			require.NoError(t, err)
			assert.Equal(t, validDoc, string(b), "the plain value, decrypted for a SecureString")

			calls := s.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, "AmazonSSM.GetParameter", calls[0].Target)
			assert.JSONEq(t, `{"Name":"`+paramName+`","WithDecryption":true}`, string(calls[0].Body))
		})
	}
}

func TestSSMLoadSecureString(t *testing.T) {
	_, src := newSSM(t, "SecureString", validDoc)
	cfg, err := configsrc.Load(context.Background(), src)
	require.NoError(t, err)
	require.Len(t, cfg.Services, 1)
	assert.Equal(t, "tok-s3cret-value", cfg.Services[0].StatusAuthValue.Reveal())
}

func TestSSMString(t *testing.T) {
	assert.Equal(t, "SSM parameter /a/b in ap-northeast-1", ssm.Parameter{Name: "/a/b", Region: "ap-northeast-1"}.String())
	assert.Equal(t, "SSM parameter /a/b", fmt.Sprint(ssm.Parameter{Name: "/a/b"}))
}

func TestSSMParameterNotFound(t *testing.T) {
	s, src := newSSM(t, "String", validDoc)
	s.RemoveParameter(paramName)
	_, err := configsrc.Load(context.Background(), src)
	require.ErrorIs(t, err, configsrc.ErrNotFound)
	var typed *types.ParameterNotFound
	assert.ErrorAs(t, err, &typed, "SDK error kept in the chain")
	assert.Contains(t, err.Error(), paramName)
	assert.Contains(t, err.Error(), awstest.Region)
	assert.Len(t, s.Calls(), 1, "not retried")
}

func TestSSMEmptyValue(t *testing.T) {
	_, src := newSSM(t, "String", "")
	_, err := src.Fetch(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSM parameter "+paramName+" in ap-northeast-1 has an empty value")
}

func TestSSMAccessDenied(t *testing.T) {
	s, src := newSSM(t, "SecureString", validDoc)
	s.Deny("GetParameter")
	_, err := src.Fetch(context.Background())
	var denied *types.AccessDeniedException
	require.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), "grant ssm:GetParameter")
	assert.Contains(t, err.Error(), "kms:Decrypt")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestSSMOtherErrorsWrapped(t *testing.T) {
	s, src := newSSM(t, "String", validDoc)
	s.FailNext("GetParameter", awstest.MaxAttempts, "InternalServerError")
	_, err := src.Fetch(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSM parameter "+paramName+" in ap-northeast-1: GetParameter: ")
	assert.Len(t, s.Calls(), awstest.MaxAttempts, "retried by the SDK")
	assert.False(t, errors.Is(err, configsrc.ErrNotFound))
}

func TestSSMMisconfigured(t *testing.T) {
	_, err := ssm.Parameter{Name: paramName}.Fetch(context.Background())
	assert.ErrorContains(t, err, "needs a client")
	_, err = ssm.Parameter{Client: nilSSM{}}.Fetch(context.Background())
	assert.ErrorContains(t, err, "parameter name")
	_, err = ssm.Parameter{Client: nilSSM{}, Name: paramName}.Fetch(context.Background())
	assert.ErrorContains(t, err, "empty value", "no output and no error is not a panic")
}

// nilSSM answers with neither output nor error.
type nilSSM struct{}

func (nilSSM) GetParameter(context.Context, *awsssm.GetParameterInput, ...func(*awsssm.Options)) (*awsssm.GetParameterOutput, error) {
	return nil, nil
}

func TestSSMInvalidJSONNotEchoed(t *testing.T) {
	tests := []struct{ name, value string }{
		{"truncated", `{"Services":[{"StatusAuthValue":"tok-s3cret-value`},
		{"missing comma", "{\"Services\":[{\n\"StatusAuthValue\":\"tok-s3cret-value\" \"StatusUrl\":\"x\"}]}"},
		{"not JSON at all", `tok-s3cret-value`},
		{"bare secret value", `{"Services":[{"StatusAuthValue":tok-s3cret-value}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, src := newSSM(t, "SecureString", tt.value)
			_, err := configsrc.Load(context.Background(), src)
			var ve *configsrc.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), "SSM parameter "+paramName)
			assert.Contains(t, err.Error(), "invalid JSON")
			assert.NotContains(t, err.Error(), "s3cret")
			assert.NotContains(t, err.Error(), "tok-")
		})
	}
}

func TestSSMLoadReportsEveryProblem(t *testing.T) {
	doc := `{"Services":[
	  {"StatusUrl":"https://a.example/s","EcsClusterName":"c","EcsServiceName":"a","ScaleoutThreshold":0},
	  {"StatusUrl":"https://b.example/s","EcsClusterName":"c","EcsServiceName":"b","StatusAuthValue":"tok-s3cret-value","ScaleOutThreshold":10}]}`
	_, src := newSSM(t, "SecureString", doc)
	_, err := configsrc.Load(context.Background(), src)
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	require.GreaterOrEqual(t, len(ve.Problems), 2)
	fields := map[string]bool{}
	for _, p := range ve.Problems {
		fields[fmt.Sprintf("%d:%s", p.Index, p.Field)] = true
	}
	assert.True(t, fields["0:ScaleoutThreshold"], "problems %v", ve.Problems)
	assert.True(t, fields["1:ScaleOutThreshold"], "problems %v", ve.Problems)
	assert.Contains(t, err.Error(), "SSM parameter "+paramName)
	assert.NotContains(t, err.Error(), "s3cret")
}
