package awstest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/internal/awstest"
)

const sigV4 = "AWS4-HMAC-SHA256 Credential=AKIDAWSTEST/20250101/ap-northeast-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"

// post sends a hand-made request and returns the status and error code.
func post(t *testing.T, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e struct {
		Type string `json:"__type"`
	}
	require.NoError(t, json.Unmarshal(b, &e), "body %s", b)
	return resp.StatusCode, e.Type
}

func TestProtocolErrors(t *testing.T) {
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 1})
	good := map[string]string{
		"X-Amz-Target":  "AmazonEC2ContainerServiceV20141113.DescribeServices",
		"Content-Type":  "application/x-amz-json-1.1",
		"Authorization": sigV4,
		"X-Amz-Date":    "20250101T000000Z",
	}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for hk, hv := range good {
			h[hk] = hv
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name   string
		header map[string]string
		body   string
		code   string
	}{
		{"well formed", good, `{"cluster":"c","services":["web"]}`, ""},
		{"unknown target", with("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster"), `{}`, "com.amazon.coral.service#UnknownOperationException"},
		{"no target", with("X-Amz-Target", ""), `{}`, "com.amazon.coral.service#UnknownOperationException"},
		{"no auth", with("Authorization", ""), `{}`, "MissingAuthenticationTokenException"},
		{"not sigv4", with("Authorization", "Basic dXNlcjpwdw=="), `{}`, "IncompleteSignatureException"},
		{"no date", with("X-Amz-Date", ""), `{}`, "IncompleteSignatureException"},
		{"wrong scope", with("X-Amz-Target", "AmazonSSM.GetParameter"), `{"Name":"/x"}`, "InvalidSignatureException"},
		{"content type", with("Content-Type", "application/json"), `{}`, "SerializationException"},
		{"not json", good, `{"cluster":`, "SerializationException"},
		{"wrong type", good, `{"cluster":1,"services":["web"]}`, "SerializationException"},
		{"services not a list", good, `{"cluster":"c","services":"web"}`, "SerializationException"},
		{"missing services", good, `{"cluster":"c"}`, "InvalidParameterException"},
		{"unknown cluster", good, `{"cluster":"nope","services":["web"]}`, "ClusterNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code := post(t, s.URL, tt.header, tt.body)
			assert.Equal(t, tt.code, code)
			if tt.code == "" {
				assert.Equal(t, http.StatusOK, status)
			} else {
				assert.Equal(t, http.StatusBadRequest, status)
			}
		})
	}
	assert.Equal(t, len(tests), len(s.Calls()), "every request is recorded")
	assert.Equal(t, len(tests)-3, len(s.Calls("DescribeServices")), "by operation")
}

func TestECSThroughSDK(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 2, Running: 2})
	for _, task := range []awstest.Task{
		{ID: "t1", Service: "web", PrivateIP: "10.0.0.1"},
		{ID: "t2", Service: "web", PrivateIP: "10.0.0.2", LastStatus: "PROVISIONING"},
		{ID: "t3", Service: "web", DesiredStatus: "STOPPED", LastStatus: "STOPPED"},
		{ID: "t4", Service: "other"},
	} {
		s.PutTask("c", task)
	}
	s.PutService("c", "other", awstest.Service{})
	client := ecs.NewFromConfig(s.Config())

	var arns []string
	pages := ecs.NewListTasksPaginator(client, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String("web"), MaxResults: aws.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		arns = append(arns, page.TaskArns...)
	}
	require.Len(t, arns, 2, "RUNNING desired status only, across pages")
	assert.Len(t, s.Calls("ListTasks"), 2)

	out, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: append(arns, "gone")})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 2)
	eni := out.Tasks[0].Attachments[0]
	assert.Equal(t, "ElasticNetworkInterface", *eni.Type)
	assert.Equal(t, "ATTACHED", *eni.Status)
	detail := map[string]string{}
	for _, d := range eni.Details {
		detail[*d.Name] = *d.Value
	}
	assert.Equal(t, "10.0.0.1", detail["privateIPv4Address"])
	assert.Equal(t, "eni-t1", detail["networkInterfaceId"])
	assert.Equal(t, "10.0.0.1", *out.Tasks[0].Containers[0].NetworkInterfaces[0].PrivateIpv4Address)
	assert.Equal(t, "PROVISIONING", *out.Tasks[1].LastStatus)
	assert.Equal(t, "PRECREATED", *out.Tasks[1].Attachments[0].Status, "no address while provisioning")
	assert.Len(t, out.Tasks[1].Attachments[0].Details, 1)

	s.PutTask("c", awstest.Task{ID: "t1", Service: "web", NetworkMode: "bridge"}) // replaces t1
	s.RemoveTask("c", "t2")
	out, err = client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: arns})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 1)
	assert.Empty(t, out.Tasks[0].Attachments, "bridge mode: no ENI")
	assert.Equal(t, ecstypes.LaunchTypeEc2, out.Tasks[0].LaunchType)
	assert.EqualValues(t, 32768, *out.Tasks[0].Containers[0].NetworkBindings[0].HostPort)
	require.Len(t, out.Failures, 1, "t2 removed: MISSING")
	require.Len(t, out.Failures, 1)
	assert.Equal(t, "MISSING", *out.Failures[0].Reason)

	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(7)})
	require.NoError(t, err)
	got, _ := s.Service("c", "web")
	assert.Equal(t, int32(7), got.Desired)
	call := s.Calls("UpdateService")[0]
	assert.JSONEq(t, `{"cluster":"c","service":"web","desiredCount":7}`, string(call.Body))
	assert.Equal(t, float64(7), call.Params["desiredCount"])
	assert.True(t, strings.HasPrefix(call.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "))
	assert.Equal(t, http.StatusOK, call.Status)

	s.PutService("c", "old", awstest.Service{Status: "INACTIVE"})
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("old"), DesiredCount: aws.Int32(1)})
	var notActive *ecstypes.ServiceNotActiveException
	assert.ErrorAs(t, err, &notActive)
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 1})
	client := ecs.NewFromConfig(s.Config())
	describe := func() error {
		_, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}})
		return err
	}

	s.Throttle("DescribeServices", 1)
	s.Throttle("UpdateService", 5) // another operation's fault is not consumed
	require.NoError(t, describe())
	var statuses []int
	for _, c := range s.Calls() {
		statuses = append(statuses, c.Status)
	}
	assert.Equal(t, []int{400, 200}, statuses)
	assert.Contains(t, s.Calls()[1].Header.Get("Amz-Sdk-Request"), "attempt=2")

	s.ResetCalls()
	s.FailNext("", awstest.MaxAttempts, "ServerException")
	var apiErr smithy.APIError
	require.ErrorAs(t, describe(), &apiErr)
	assert.Equal(t, "ServerException", apiErr.ErrorCode())
	assert.Len(t, s.Calls(), awstest.MaxAttempts)

	s.Deny("DescribeServices")
	var denied *ecstypes.AccessDeniedException
	require.ErrorAs(t, describe(), &denied)
	assert.Contains(t, denied.ErrorMessage(), "ecs:DescribeServices")
	s.Allow("DescribeServices")
	require.NoError(t, describe())

	s.RespondNext("DescribeServices", 1, http.StatusOK, []byte(`{"services":[{`))
	var deser *smithy.DeserializationError
	assert.ErrorAs(t, describe(), &deser)
}

func TestHold(t *testing.T) {
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 1})
	client := ecs.NewFromConfig(s.Config())
	h := s.Hold("UpdateService")
	done := make(chan error)
	go func() {
		_, err := client.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(4)})
		done <- err
	}()
	<-h.Arrived()
	calls := s.Calls("UpdateService")
	require.Len(t, calls, 1)
	assert.Zero(t, calls[0].Status, "in flight")
	got, _ := s.Service("c", "web")
	assert.Equal(t, int32(1), got.Desired, "not applied while held")
	h.Release()
	require.NoError(t, <-done)
	got, _ = s.Service("c", "web")
	assert.Equal(t, int32(4), got.Desired)

	// A held call ends when its client gives up.
	h2 := s.Hold("")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}})
		done <- err
	}()
	<-h2.Arrived()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestSSMThroughSDK(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	s.PutParameter(awstest.Parameter{Name: "/p/secret", Type: "SecureString", Value: "hunter2"})
	client := ssm.NewFromConfig(s.Config())

	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p/secret")})
	require.NoError(t, err)
	assert.Equal(t, awstest.Ciphertext("hunter2"), *out.Parameter.Value)
	assert.NotContains(t, *out.Parameter.Value, "hunter2")

	out, err = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p/secret"), WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, "hunter2", *out.Parameter.Value)
	assert.Equal(t, ssmtypes.ParameterTypeSecureString, out.Parameter.Type)

	_, err = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/p/none")})
	var nf *ssmtypes.ParameterNotFound
	assert.ErrorAs(t, err, &nf)
	assert.Len(t, s.Calls("GetParameter"), 3, "ParameterNotFound is not retried")
}

// TestEnv checks that a process configured only by Env reaches the server
// through the SDK's default configuration chain.
func TestEnv(t *testing.T) {
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 3})
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	require.NoError(t, err)
	out, err := ecs.NewFromConfig(cfg).DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}})
	require.NoError(t, err)
	require.Len(t, out.Services, 1)
	assert.Equal(t, int32(3), out.Services[0].DesiredCount)
}

func TestScalableTargetsThroughSDK(t *testing.T) {
	s := awstest.New(t)
	s.PutScalableTarget("c", "web", awstest.ScalableTarget{Min: 2, Max: 8, DynamicScalingOutSuspended: true})
	s.PutScalableTarget("c", "api", awstest.ScalableTarget{Min: 1, Max: 4})
	for _, kv := range s.Env() { // through the environment, as the binary finds it
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	require.NoError(t, err)
	aas := applicationautoscaling.NewFromConfig(cfg)
	out, err := aas.DescribeScalableTargets(context.Background(), &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{"service/c/web"},
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	require.NoError(t, err)
	require.Len(t, out.ScalableTargets, 1)
	got := out.ScalableTargets[0]
	assert.Equal(t, "service/c/web", aws.ToString(got.ResourceId))
	assert.Equal(t, int32(2), aws.ToInt32(got.MinCapacity))
	assert.Equal(t, int32(8), aws.ToInt32(got.MaxCapacity))
	require.NotNil(t, got.SuspendedState)
	assert.True(t, aws.ToBool(got.SuspendedState.DynamicScalingOutSuspended))
	assert.False(t, aws.ToBool(got.SuspendedState.DynamicScalingInSuspended))
	require.NotNil(t, got.CreationTime)

	out, err = aas.DescribeScalableTargets(context.Background(), &applicationautoscaling.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{"service/c/none"}})
	require.NoError(t, err)
	assert.Empty(t, out.ScalableTargets, "no target registered: an empty list, not an error")

	calls := s.Calls("DescribeScalableTargets")
	require.NotEmpty(t, calls)
	assert.Equal(t, "AnyScaleFrontendService.DescribeScalableTargets", calls[0].Target)
	assert.Contains(t, calls[0].Header.Get("Authorization"), "/application-autoscaling/aws4_request", "signed for application-autoscaling")

	s.Deny("DescribeScalableTargets")
	_, err = aas.DescribeScalableTargets(context.Background(), &applicationautoscaling.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "AccessDeniedException", api.ErrorCode())
	assert.Contains(t, api.ErrorMessage(), "application-autoscaling:DescribeScalableTargets")
}

// TestCommitThenFail: the update lands, the caller sees only the error.
func TestCommitThenFail(t *testing.T) {
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 3, Running: 3})
	s.CommitThenFail("UpdateService", 3, "ServerException")
	client := ecs.NewFromConfig(s.Config())
	_, err := client.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(10)})
	require.Error(t, err)
	calls := s.Calls("UpdateService")
	assert.Len(t, calls, awstest.MaxAttempts, "the SDK retried the 500s")
	for _, c := range calls {
		assert.Equal(t, [2]any{http.StatusInternalServerError, true}, [2]any{c.Status, c.Applied})
	}
	got, _ := s.Service("c", "web")
	assert.Equal(t, int32(10), got.Desired, "yet it landed")
}

// TestDropAnswer: the update lands, the caller sees a broken connection;
// the next call is answered as usual.
func TestDropAnswer(t *testing.T) {
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 3, Running: 3})
	s.DropAnswer("UpdateService", 1)
	cfg := s.Config()
	cfg.RetryMaxAttempts = 1 // the broken answer is final
	client := ecs.NewFromConfig(cfg)
	in := &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), DesiredCount: aws.Int32(10)}
	_, err := client.UpdateService(context.Background(), in)
	require.Error(t, err)
	got, _ := s.Service("c", "web")
	assert.Equal(t, int32(10), got.Desired, "yet it landed")
	in.DesiredCount = aws.Int32(12)
	_, err = client.UpdateService(context.Background(), in)
	require.NoError(t, err, "one answer dropped, not the next")
	calls := s.Calls("UpdateService")
	require.Len(t, calls, 2)
	assert.Equal(t, [2]any{awstest.StatusDropped, true}, [2]any{calls[0].Status, calls[0].Applied})
	assert.Equal(t, [2]any{http.StatusOK, true}, [2]any{calls[1].Status, calls[1].Applied})
}

func TestTagsThroughSDK(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	s.PutService("c", "web", awstest.Service{Desired: 2, Tags: map[string]string{"team": "shop"}})
	client := ecs.NewFromConfig(s.Config())

	out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}})
	require.NoError(t, err)
	assert.Nil(t, out.Services[0].Tags, "no tags unless asked for")
	serviceARN := "arn:aws:ecs:ap-northeast-1:123456789012:service/c/web"
	assert.Equal(t, serviceARN, *out.Services[0].ServiceArn)

	_, err = client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(serviceARN),
		Tags: []ecstypes.Tag{{Key: aws.String("team"), Value: aws.String("cart")}, {Key: aws.String("k"), Value: aws.String("v")}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"resourceArn":"`+serviceARN+`","tags":[{"key":"team","value":"cart"},{"key":"k","value":"v"}]}`,
		string(s.Calls("TagResource")[0].Body), "the wire shape: tags as [{key,value}]")

	out, err = client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"},
		Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	require.NoError(t, err)
	require.Len(t, out.Services[0].Tags, 2)
	assert.Equal(t, "k", *out.Services[0].Tags[0].Key, "sorted by key")
	assert.Equal(t, "cart", *out.Services[0].Tags[1].Value, "replaced")
	assert.True(t, s.SetTag("c", "web", "k", ""), "removed")
	got, _ := s.Service("c", "web")
	assert.Equal(t, map[string]string{"team": "cart"}, got.Tags)
	assert.False(t, s.SetTag("c", "nope", "k", "v"))

	for _, tt := range []struct {
		arn  string
		tags []ecstypes.Tag
		code string
	}{
		{"arn:aws:ecs:ap-northeast-1:123456789012:service/c/gone", []ecstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, "ResourceNotFoundException"},
		{"arn:aws:ecs:ap-northeast-1:123456789012:service/web", []ecstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, "InvalidParameterException"},
		{serviceARN, []ecstypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}, "InvalidParameterException"},
		{serviceARN, []ecstypes.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}, "InvalidParameterException"},
	} {
		_, err := client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(tt.arn), Tags: tt.tags})
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr, tt.arn)
		assert.Equal(t, tt.code, apiErr.ErrorCode(), tt.arn)
	}
	_, err = client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"},
		Include: []ecstypes.ServiceField{"BOGUS"}})
	var invalid *ecstypes.InvalidParameterException
	assert.ErrorAs(t, err, &invalid)
}

func TestGetParametersByPathThroughSDK(t *testing.T) {
	ctx := context.Background()
	s := awstest.New(t)
	for _, name := range []string{"/app/a", "/app/b", "/app/deep/c", "/application/x", "/other/y"} {
		s.PutParameter(awstest.Parameter{Name: name, Type: "SecureString", Value: "value of " + name})
	}
	s.PutParameter(awstest.Parameter{Name: "/app/a", Type: "String", Value: "value of /app/a, v2"})
	client := ssm.NewFromConfig(s.Config())

	list := func(in *ssm.GetParametersByPathInput) ([]string, []string) {
		var names, values []string
		pages := ssm.NewGetParametersByPathPaginator(client, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			require.NoError(t, err)
			for _, p := range out.Parameters {
				names = append(names, *p.Name)
				values = append(values, *p.Value)
			}
		}
		return names, values
	}
	names, values := list(&ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), WithDecryption: aws.Bool(true), MaxResults: aws.Int32(2)})
	assert.Equal(t, []string{"/app/a", "/app/b", "/app/deep/c"}, names, "every level, in name order, not /application")
	assert.Equal(t, []string{"value of /app/a, v2", "value of /app/b", "value of /app/deep/c"}, values)
	calls := s.Calls("GetParametersByPath")
	require.Len(t, calls, 2, "pages of 2")
	assert.Nil(t, calls[0].Params["NextToken"])
	assert.NotEmpty(t, calls[1].Params["NextToken"])

	names, values = list(&ssm.GetParametersByPathInput{Path: aws.String("/app/")})
	assert.Equal(t, []string{"/app/a", "/app/b"}, names, "one level unless Recursive")
	assert.Equal(t, awstest.Ciphertext("value of /app/b"), values[1], "a SecureString stays encrypted unless decrypted")

	out, err := client.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true)})
	require.NoError(t, err)
	assert.EqualValues(t, 2, out.Parameters[0].Version, "replaced once")
	assert.Equal(t, "arn:aws:ssm:ap-northeast-1:123456789012:parameter/app/a", *out.Parameters[0].ARN)
	assert.Nil(t, out.NextToken, "10 a page by default: one page")

	for _, in := range []*ssm.GetParametersByPathInput{
		{Path: aws.String("app")},
		{Path: aws.String("/app"), MaxResults: aws.Int32(11)},
		{Path: aws.String("/app"), NextToken: aws.String("!!")},
	} {
		_, err := client.GetParametersByPath(ctx, in)
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Contains(t, []string{"ValidationException", "InvalidNextToken"}, apiErr.ErrorCode())
	}
	names, _ = list(&ssm.GetParametersByPathInput{Path: aws.String("/none")})
	assert.Empty(t, names, "an empty path is no error")
}
