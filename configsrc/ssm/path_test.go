package ssm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
	"github.com/fast-autoscaler/fast-autoscaler/configsrc/ssm"
	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

// serviceDoc is a config document for services of cluster "shop".
func serviceDoc(names ...string) string {
	var svcs []string
	for _, n := range names {
		svcs = append(svcs, fmt.Sprintf(`{"StatusUrl":"https://%s.example.com/nginx-status","EcsClusterName":"shop","EcsServiceName":%q}`, n, n))
	}
	return `{"Services":[` + strings.Join(svcs, ",") + `]}`
}

func newPath(t *testing.T, params map[string]string) (*awstest.Server, ssm.Path) {
	s := awstest.New(t)
	for name, value := range params {
		s.PutParameter(awstest.Parameter{Name: name, Type: "SecureString", Value: value})
	}
	return s, ssm.NewPath(awsssm.NewFromConfig(s.Config()), "/fleet", awstest.Region)
}

func TestPathMergesThreeParameters(t *testing.T) {
	s, src := newPath(t, map[string]string{
		"/fleet/web":        serviceDoc("web", "web-admin"),
		"/fleet/api":        serviceDoc("api"),
		"/fleet/team-b/pay": serviceDoc("pay", "cart"),
		"/other/x":          serviceDoc("x"),
	})
	assert.Equal(t, "SSM parameters under /fleet in ap-northeast-1", src.String())
	cfg, err := configsrc.LoadAll(context.Background(), src)
	require.NoError(t, err)
	var got []string
	for _, svc := range cfg.Services {
		got = append(got, svc.EcsServiceName+" from "+svc.Document)
	}
	assert.Equal(t, []string{
		"api from SSM parameter /fleet/api",
		"pay from SSM parameter /fleet/team-b/pay",
		"cart from SSM parameter /fleet/team-b/pay",
		"web from SSM parameter /fleet/web",
		"web-admin from SSM parameter /fleet/web",
	}, got, "every level under the path, in name order")
	calls := s.Calls("GetParametersByPath")
	require.Len(t, calls, 1)
	assert.JSONEq(t, `{"Path":"/fleet","Recursive":true,"WithDecryption":true,"MaxResults":10}`, string(calls[0].Body))
}

func TestPathDuplicateAcrossParametersNamesBoth(t *testing.T) {
	_, src := newPath(t, map[string]string{
		"/fleet/a": serviceDoc("web", "api"),
		"/fleet/b": serviceDoc("cart", "web"),
	})
	_, err := configsrc.LoadAll(context.Background(), src)
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "config from SSM parameters under /fleet in ap-northeast-1: SSM parameter /fleet/b: Services[1] (web): "+
		"EcsServiceName: shop/web is also configured in SSM parameter /fleet/a at Services[0]", err.Error())
}

func TestPathInvalidParameterIsNamed(t *testing.T) {
	_, src := newPath(t, map[string]string{
		"/fleet/a": serviceDoc("web"),
		"/fleet/b": `{"Services":[{"StatusUrl":"https://x/s","EcsClusterName":"shop","EcsServiceName":"api","StatusAuthValue":"s3cret","CheckInterval":0}]}`,
	})
	_, err := configsrc.LoadAll(context.Background(), src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSM parameter /fleet/b: Services[0] (api): CheckInterval: must be at least 100ms")
	assert.Contains(t, err.Error(), "SSM parameter /fleet/b: Services[0] (api): StatusAuthName: required when StatusAuthValue is given")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestPathPaginatesOverMoreThanTenParameters(t *testing.T) {
	params := map[string]string{}
	for i := range 25 {
		params[fmt.Sprintf("/fleet/p%02d", i)] = serviceDoc(fmt.Sprintf("svc-%02d-a", i), fmt.Sprintf("svc-%02d-b", i))
	}
	s, src := newPath(t, params)
	cfg, err := configsrc.LoadAll(context.Background(), src)
	require.NoError(t, err)
	assert.Len(t, cfg.Services, 50)
	assert.Len(t, cfg.Documents, 25)
	calls := s.Calls("GetParametersByPath")
	require.Len(t, calls, 3, "10 a page")
	assert.Nil(t, calls[0].Params["NextToken"])
	for _, c := range calls[1:] {
		assert.NotEmpty(t, c.Params["NextToken"], "each page asks for the next")
		assert.EqualValues(t, 10, c.Params["MaxResults"])
	}
}

func TestPathErrors(t *testing.T) {
	ctx := context.Background()
	s, src := newPath(t, map[string]string{"/elsewhere/a": serviceDoc("web")})
	_, err := src.FetchAll(ctx)
	require.ErrorIs(t, err, configsrc.ErrNotFound)
	assert.Contains(t, err.Error(), "SSM parameters under /fleet in ap-northeast-1: no parameter found (check the path and region)")

	s.PutParameter(awstest.Parameter{Name: "/fleet/empty", Type: "String", Value: ""})
	_, err = src.FetchAll(ctx)
	assert.ErrorContains(t, err, "SSM parameter /fleet/empty has an empty value")

	s.Deny("GetParametersByPath")
	_, err = src.FetchAll(ctx)
	var denied *types.AccessDeniedException
	require.ErrorAs(t, err, &denied)
	assert.Contains(t, err.Error(), "grant ssm:GetParametersByPath on the path")

	_, err = ssm.NewPath(awsssm.NewFromConfig(s.Config()), "fleet", "").FetchAll(ctx)
	assert.ErrorContains(t, err, "a path starting with /")
}

func TestUnder(t *testing.T) {
	assert.True(t, ssm.Under("/fleet/a", "/fleet"))
	assert.True(t, ssm.Under("/fleet/a/b", "/fleet/"))
	assert.False(t, ssm.Under("/fleetwood/a", "/fleet"))
	assert.False(t, ssm.Under("/fleet", "/fleet"))
}

func TestSizeAdvice(t *testing.T) {
	assert.Empty(t, ssm.SizeAdvice(4096))
	assert.Equal(t, "the document is 5000 bytes, more than a standard SSM parameter holds (4096 bytes): use an advanced parameter (up to 8192 bytes), "+
		"or split its services across several parameters under one path (AUTOSCALER_PARAMPATH or -config-path), each a document of the same shape", ssm.SizeAdvice(5000))
	assert.Contains(t, ssm.SizeAdvice(9000), "the document is 9000 bytes, more than any SSM parameter holds (4096 bytes standard, 8192 advanced): split its services")
}
