package awstest

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Service is an ECS service's state on the server. Counts are tasks.
type Service struct {
	Desired, Running, Pending int32
	// Status is ACTIVE (the default when empty), DRAINING or INACTIVE.
	Status string
	// Deployments as DescribeServices reports them; nil means one PRIMARY
	// deployment, rollout COMPLETED, with the service's counts.
	Deployments []Deployment
	// Events are the service's event messages, newest first, as
	// DescribeServices reports them ("(service web) was unable to place a
	// task because no container instance met all of its requirements.").
	Events []string
	// Tags are the service's resource tags, key to value. DescribeServices
	// reports them when asked with include ["TAGS"]; TagResource adds and
	// replaces them.
	Tags map[string]string
}

// Deployment is one of a service's deployments. Counts are tasks.
type Deployment struct {
	Status       string // PRIMARY or ACTIVE
	RolloutState string // COMPLETED, IN_PROGRESS or FAILED; empty is left out

	Desired, Running, Pending int32
}

// Task is a task on the server.
type Task struct {
	ID            string // task ID, the last part of its ARN
	Service       string // the service that started it
	LastStatus    string // default RUNNING
	DesiredStatus string // default RUNNING
	// PrivateIP is the private IPv4 address of its ENI attachment; empty
	// means no attachment. While the task is PROVISIONING the attachment is
	// PRECREATED and holds no address yet, as on AWS.
	PrivateIP string
	// NetworkMode is "awsvpc" (the default when empty: launch type FARGATE,
	// an ENI attachment when PrivateIP is set), or "bridge" or "host"
	// (launch type EC2, no attachment, the container's port bound on its
	// instance).
	NetworkMode string
}

type cluster struct {
	services map[string]Service
	tasks    []Task // in the order added
}

// createdAt is the fixed creation time reported, in epoch seconds.
const createdAt = 1700000000

// AddCluster creates an empty cluster if it does not exist.
func (s *Server) AddCluster(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cluster(name)
}

// cluster returns the named cluster, creating it. Callers hold s.mu.
func (s *Server) cluster(name string) *cluster {
	c, ok := s.clusters[name]
	if !ok {
		c = &cluster{services: make(map[string]Service)}
		s.clusters[name] = c
	}
	return c
}

// PutService adds or replaces a service, creating its cluster if needed.
func (s *Server) PutService(clusterName, name string, svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc.Tags = maps.Clone(svc.Tags)
	s.cluster(clusterName).services[name] = svc
}

// Service returns a service's current state (UpdateService changes Desired,
// TagResource its Tags).
func (s *Server) Service(clusterName, name string) (Service, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterName]
	if !ok {
		return Service{}, false
	}
	svc, ok := c.services[name]
	svc.Tags = maps.Clone(svc.Tags)
	return svc, ok
}

// SetTag sets one tag on a service, as "aws ecs tag-resource" would; an
// empty value removes the tag, as "aws ecs untag-resource" would. It
// reports false when the service does not exist.
func (s *Server) SetTag(clusterName, name, key, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterName]
	if !ok {
		return false
	}
	svc, ok := c.services[name]
	if !ok {
		return false
	}
	svc.Tags = maps.Clone(svc.Tags)
	if value == "" {
		delete(svc.Tags, key)
	} else {
		if svc.Tags == nil {
			svc.Tags = map[string]string{}
		}
		svc.Tags[key] = value
	}
	c.services[name] = svc
	return true
}

// RemoveService deletes a service: DescribeServices then reports it MISSING
// and UpdateService answers ServiceNotFoundException.
func (s *Server) RemoveService(clusterName, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clusters[clusterName]; ok {
		delete(c.services, name)
	}
}

// PutTask adds a task to a cluster, creating the cluster if needed, or
// replaces the cluster's task with the same ID (to change its status).
func (s *Server) PutTask(clusterName string, t Task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cluster(clusterName)
	for i := range c.tasks {
		if c.tasks[i].ID == t.ID {
			c.tasks[i] = t
			return
		}
	}
	c.tasks = append(c.tasks, t)
}

// RemoveTask deletes a task: ListTasks no longer lists it and
// DescribeTasks reports it MISSING, as for a task stopped long ago.
func (s *Server) RemoveTask(clusterName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clusters[clusterName]; ok {
		c.tasks = slices.DeleteFunc(c.tasks, func(t Task) bool { return t.ID == id })
	}
}

func arn(resource string) string { return "arn:aws:ecs:" + Region + ":" + AccountID + ":" + resource }

// shortName turns a cluster, service or task ARN into its name; "" is the
// default cluster.
func shortName(s string) string {
	if s == "" {
		return "default"
	}
	if strings.HasPrefix(s, "arn:") {
		return s[strings.LastIndex(s, "/")+1:]
	}
	return s
}

// findCluster returns the request's cluster or ClusterNotFoundException.
// Callers hold s.mu.
func (s *Server) findCluster(name string) (string, *cluster, *apiError) {
	name = shortName(name)
	c, ok := s.clusters[name]
	if !ok {
		return name, nil, badRequest("ClusterNotFoundException", "Cluster not found.")
	}
	return name, c, nil
}

// wireService is a service as DescribeServices and UpdateService report
// it; tags only when withTags.
func wireService(clusterName, name string, svc Service, withTags bool) map[string]any {
	status := svc.Status
	if status == "" {
		status = "ACTIVE"
	}
	deps := svc.Deployments
	if deps == nil {
		deps = []Deployment{{Status: "PRIMARY", RolloutState: "COMPLETED", Desired: svc.Desired, Running: svc.Running, Pending: svc.Pending}}
	}
	wd := make([]map[string]any, len(deps))
	for i, d := range deps {
		wd[i] = map[string]any{
			"id": "ecs-svc/" + strconv.Itoa(i+1), "status": d.Status,
			"desiredCount": d.Desired, "runningCount": d.Running, "pendingCount": d.Pending,
			"launchType": "FARGATE", "createdAt": createdAt, "updatedAt": createdAt,
		}
		if d.RolloutState != "" {
			wd[i]["rolloutState"] = d.RolloutState
		}
	}
	events := make([]any, len(svc.Events))
	for i, msg := range svc.Events {
		events[i] = map[string]any{"id": "ev-" + strconv.Itoa(len(svc.Events)-i), "createdAt": createdAt - i, "message": msg}
	}
	out := map[string]any{
		"serviceArn":   arn("service/" + clusterName + "/" + name),
		"serviceName":  name,
		"clusterArn":   arn("cluster/" + clusterName),
		"status":       status,
		"desiredCount": svc.Desired, "runningCount": svc.Running, "pendingCount": svc.Pending,
		"launchType":  "FARGATE",
		"createdAt":   createdAt,
		"deployments": wd,
		"events":      events,
	}
	if withTags {
		keys := slices.Sorted(maps.Keys(svc.Tags))
		tags := make([]map[string]string, len(keys))
		for i, k := range keys {
			tags[i] = map[string]string{"key": k, "value": svc.Tags[k]}
		}
		out["tags"] = tags
	}
	return out
}

func failure(resource string) map[string]any {
	return map[string]any{"arn": arn(resource), "reason": "MISSING"}
}

func (s *Server) describeServices(body []byte) (any, *apiError) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
		Include  []string `json:"include"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		return nil, badRequest("InvalidParameterException", "Services must contain between 1 and 10 items.")
	}
	withTags := false
	for _, f := range in.Include {
		if f != "TAGS" {
			return nil, badRequest("InvalidParameterException", "Include must contain only TAGS, got %q.", f)
		}
		withTags = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	services, failures := []any{}, []any{}
	for _, sn := range in.Services {
		sn = shortName(sn)
		if svc, ok := c.services[sn]; ok {
			services = append(services, wireService(name, sn, svc, withTags))
		} else {
			failures = append(failures, failure("service/"+name+"/"+sn))
		}
	}
	return map[string]any{"services": services, "failures": failures}, nil
}

func (s *Server) updateService(body []byte) (any, *apiError) {
	var in struct {
		Cluster      string `json:"cluster"`
		Service      string `json:"service"`
		DesiredCount *int32 `json:"desiredCount"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Service == "" {
		return nil, badRequest("InvalidParameterException", "Service must not be empty.")
	}
	if in.DesiredCount != nil && *in.DesiredCount < 0 {
		return nil, badRequest("InvalidParameterException", "Desired count must be greater than or equal to 0.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	sn := shortName(in.Service)
	svc, ok := c.services[sn]
	switch {
	case !ok:
		return nil, badRequest("ServiceNotFoundException", "Service not found.")
	case svc.Status != "" && svc.Status != "ACTIVE":
		return nil, badRequest("ServiceNotActiveException", "Service was not ACTIVE.")
	}
	if in.DesiredCount != nil {
		svc.Desired = *in.DesiredCount
		c.services[sn] = svc
	}
	return map[string]any{"service": wireService(name, sn, svc, false)}, nil
}

func (s *Server) listTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster       string `json:"cluster"`
		ServiceName   string `json:"serviceName"`
		DesiredStatus string `json:"desiredStatus"`
		MaxResults    *int32 `json:"maxResults"`
		NextToken     string `json:"nextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, badRequest("InvalidParameterException", "maxResults must be between 1 and 100.")
		}
		limit = int(*in.MaxResults)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			return nil, badRequest("InvalidParameterException", "Invalid nextToken.")
		}
		start = n
	}
	want := in.DesiredStatus
	if want == "" {
		want = "RUNNING"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	svcName := shortName(in.ServiceName)
	if in.ServiceName != "" {
		if _, ok := c.services[svcName]; !ok {
			return nil, badRequest("ServiceNotFoundException", "Service not found.")
		}
	}
	var arns []string
	for _, t := range c.tasks {
		if (in.ServiceName == "" || t.Service == svcName) && orDefault(t.DesiredStatus, "RUNNING") == want {
			arns = append(arns, arn("task/"+name+"/"+t.ID))
		}
	}
	out := map[string]any{"taskArns": []string{}}
	if start < len(arns) {
		end := min(start+limit, len(arns))
		out["taskArns"] = arns[start:end]
		if end < len(arns) {
			out["nextToken"] = strconv.Itoa(end)
		}
	}
	return out, nil
}

func (s *Server) describeTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, badRequest("InvalidParameterException", "Tasks must contain between 1 and 100 items.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, c, e := s.findCluster(in.Cluster)
	if e != nil {
		return nil, e
	}
	tasks, failures := []any{}, []any{}
	for _, id := range in.Tasks {
		id = shortName(id)
		i := -1
		for j := range c.tasks {
			if c.tasks[j].ID == id {
				i = j
				break
			}
		}
		if i < 0 {
			failures = append(failures, failure("task/"+name+"/"+id))
			continue
		}
		tasks = append(tasks, wireTask(name, c.tasks[i]))
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

// wireTask is a task as DescribeTasks returns it. An awsvpc task has an
// ElasticNetworkInterface attachment whose details are name/value pairs
// (subnetId, networkInterfaceId, macAddress, privateDnsName,
// privateIPv4Address), and each container repeats the address under
// networkInterfaces; a bridge or host task has neither, only the ports its
// container binds on the instance.
func wireTask(clusterName string, t Task) map[string]any {
	last := orDefault(t.LastStatus, "RUNNING")
	container := map[string]any{
		"containerArn": arn("container/" + clusterName + "/" + t.ID + "/nginx"),
		"taskArn":      arn("task/" + clusterName + "/" + t.ID),
		"name":         "nginx",
		"lastStatus":   last,
	}
	w := map[string]any{
		"taskArn":       arn("task/" + clusterName + "/" + t.ID),
		"clusterArn":    arn("cluster/" + clusterName),
		"group":         "service:" + t.Service,
		"lastStatus":    last,
		"desiredStatus": orDefault(t.DesiredStatus, "RUNNING"),
		"launchType":    "FARGATE",
		"createdAt":     createdAt,
		"attachments":   []any{},
		"containers":    []any{container},
	}
	if mode := orDefault(t.NetworkMode, "awsvpc"); mode != "awsvpc" {
		w["launchType"] = "EC2"
		w["containerInstanceArn"] = arn("container-instance/" + clusterName + "/i-awstest")
		binding := map[string]any{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 80, "protocol": "tcp"}
		if mode == "bridge" {
			binding["hostPort"] = 32768
		}
		container["networkBindings"] = []any{binding}
		return w
	}
	if t.PrivateIP == "" {
		return w
	}
	eni := "eni-" + t.ID
	details := []any{map[string]string{"name": "subnetId", "value": "subnet-0awstest"}}
	status := "ATTACHED"
	if last == "PROVISIONING" {
		status = "PRECREATED"
	} else {
		details = append(details,
			map[string]string{"name": "networkInterfaceId", "value": eni},
			map[string]string{"name": "macAddress", "value": "0a:00:00:00:00:01"},
			map[string]string{"name": "privateDnsName", "value": "ip-" + strings.ReplaceAll(t.PrivateIP, ".", "-") + "." + Region + ".compute.internal"},
			map[string]string{"name": "privateIPv4Address", "value": t.PrivateIP},
		)
		container["networkInterfaces"] = []any{map[string]string{"attachmentId": "eni-attach-" + t.ID, "privateIpv4Address": t.PrivateIP}}
	}
	w["attachments"] = []any{map[string]any{"id": "eni-attach-" + t.ID, "type": "ElasticNetworkInterface", "status": status, "details": details}}
	return w
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Tag limits of ECS.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagResource answers TagResource for a service ARN (long format,
// arn:aws:ecs:<region>:<account>:service/<cluster>/<service>): it adds the
// tags and replaces the values of keys already there.
func (s *Server) tagResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn string `json:"resourceArn"`
		Tags        []struct {
			Key   *string `json:"key"`
			Value *string `json:"value"`
		} `json:"tags"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	prefix := arn("service/")
	rest, ok := strings.CutPrefix(in.ResourceArn, prefix)
	clusterName, name, long := strings.Cut(rest, "/")
	if !ok || !long || clusterName == "" || name == "" || strings.Contains(name, "/") {
		return nil, badRequest("InvalidParameterException", "The ARN %q is not a service ARN in the long format.", in.ResourceArn)
	}
	if len(in.Tags) == 0 {
		return nil, badRequest("InvalidParameterException", "Tags must not be empty.")
	}
	for _, t := range in.Tags {
		switch {
		case t.Key == nil || len(*t.Key) == 0 || len(*t.Key) > maxTagKeyLen:
			return nil, badRequest("InvalidParameterException", "Tag keys must be 1 to %d characters.", maxTagKeyLen)
		case strings.HasPrefix(strings.ToLower(*t.Key), "aws:"):
			return nil, badRequest("InvalidParameterException", "Tag keys must not start with aws:.")
		case t.Value != nil && len(*t.Value) > maxTagValueLen:
			return nil, badRequest("InvalidParameterException", "Tag values must be at most %d characters.", maxTagValueLen)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterName]
	if !ok {
		return nil, badRequest("ClusterNotFoundException", "Cluster not found.")
	}
	svc, ok := c.services[name]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "The specified resource could not be found.")
	}
	tags := maps.Clone(svc.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	for _, t := range in.Tags {
		tags[*t.Key] = ""
		if t.Value != nil {
			tags[*t.Key] = *t.Value
		}
	}
	if len(tags) > maxTags {
		return nil, badRequest("InvalidParameterException", "A resource can have at most %d tags.", maxTags)
	}
	svc.Tags = tags
	c.services[name] = svc
	return map[string]any{}, nil
}
