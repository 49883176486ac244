package configsrc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fast-autoscaler/fast-autoscaler/configsrc"
)

// named is a MultiSource yielding fixed documents under a fixed name.
type named struct {
	name string
	docs []configsrc.Document
	err  error
}

func (n named) FetchAll(context.Context) ([]configsrc.Document, error) { return n.docs, n.err }
func (n named) String() string                                         { return n.name }

func TestMergeServicesOfSeveralDocuments(t *testing.T) {
	a := doc(svc("EcsServiceName", "web"), svc("EcsServiceName", "api", "Paused", true))
	b := doc(svc("EcsClusterName", "other", "EcsServiceName", "web"))
	cfg, err := configsrc.Merge([]configsrc.Document{{Name: "doc a", Data: []byte(a)}, {Name: "doc b", Data: []byte(b)}})
	require.NoError(t, err)
	var got []string
	for _, s := range cfg.Services {
		got = append(got, fmt.Sprintf("%s from %s paused=%v", s.Name(), s.Document, s.Paused))
	}
	assert.Equal(t, []string{"app/web from doc a paused=false", "app/api from doc a paused=true", "other/web from doc b paused=false"}, got)
	assert.Equal(t, []configsrc.DocumentInfo{{Name: "doc a", Size: len(a), Services: 2}, {Name: "doc b", Size: len(b), Services: 1}}, cfg.Documents)
}

func TestMergeNamesTheDocumentOfEachProblem(t *testing.T) {
	good := doc(svc("EcsServiceName", "web"), svc("EcsServiceName", "api"))
	dup := doc(svc("EcsServiceName", "cart"), svc("EcsServiceName", "api"))
	bad := doc(svc("EcsServiceName", "pay", "ScaleoutThreshold", -1, "Paused", "yes"))
	_, err := configsrc.Merge([]configsrc.Document{
		{Name: "SSM parameter /x/a", Data: []byte(good)},
		{Name: "SSM parameter /x/b", Data: []byte(bad)},
		{Name: "SSM parameter /x/c", Data: []byte(dup)},
		{Name: "SSM parameter /x/d", Data: []byte("{")},
	})
	var ve *configsrc.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, `SSM parameter /x/b: Services[0] (pay): Paused: must be true or false, got string
SSM parameter /x/b: Services[0] (pay): ScaleoutThreshold: must be a finite number > 0, got -1
SSM parameter /x/c: Services[1] (api): EcsServiceName: app/api is also configured in SSM parameter /x/a at Services[1]
SSM parameter /x/d: invalid JSON at line 1, column 1: unexpected end of JSON input`, ve.Error())
	assert.Equal(t, "SSM parameter /x/c", ve.Problems[2].Document)
}

func TestMergeNothing(t *testing.T) {
	_, err := configsrc.Merge(nil)
	assert.ErrorIs(t, err, configsrc.ErrNoDocuments)
}

func TestLoadAllOneSourceReadsAsLoad(t *testing.T) {
	src := configsrc.SourceFunc(func(context.Context) ([]byte, error) {
		return []byte(doc(svc("ScaleoutThreshold", 0))), nil
	})
	_, want := configsrc.Load(context.Background(), src)
	_, got := configsrc.LoadAll(context.Background(), configsrc.One(src))
	require.Error(t, got)
	assert.Equal(t, want.Error(), got.Error(), "the same words: the source named once, no document name")
	assert.Equal(t, configsrc.Describe(src), configsrc.DescribeAll(configsrc.One(src)))

	cfg, err := configsrc.LoadAll(context.Background(), configsrc.One(configsrc.SourceFunc(func(context.Context) ([]byte, error) {
		return []byte(doc(svc())), nil
	})))
	require.NoError(t, err)
	assert.Empty(t, cfg.Services[0].Document)
}

func TestAllNamesEachDocumentAndSource(t *testing.T) {
	key := configsrc.One(configsrc.SourceFunc(func(context.Context) ([]byte, error) {
		return []byte(doc(svc("EcsServiceName", "web"))), nil
	}))
	path := named{name: "SSM parameters under /x", docs: []configsrc.Document{
		{Name: "SSM parameter /x/a", Data: []byte(doc(svc("EcsServiceName", "api")))},
		{Name: "SSM parameter /x/b", Data: []byte(doc(svc("EcsServiceName", "web")))},
	}}
	both := configsrc.All(key, path)
	assert.Equal(t, "configsrc.SourceFunc and SSM parameters under /x", configsrc.DescribeAll(both))
	_, err := configsrc.LoadAll(context.Background(), both)
	require.Error(t, err)
	assert.Equal(t, "config from configsrc.SourceFunc and SSM parameters under /x: "+
		"SSM parameter /x/b: Services[0] (web): EcsServiceName: app/web is also configured in configsrc.SourceFunc at Services[0]", err.Error())

	failing := named{name: "SSM parameters under /y", err: errors.New("throttled")}
	_, err = configsrc.LoadAll(context.Background(), configsrc.All(key, failing))
	assert.EqualError(t, err, "config from configsrc.SourceFunc and SSM parameters under /y: SSM parameters under /y: throttled")
	_, err = configsrc.LoadAll(context.Background(), configsrc.All(failing))
	assert.EqualError(t, err, "config from SSM parameters under /y: throttled", "one source: named once")
}
