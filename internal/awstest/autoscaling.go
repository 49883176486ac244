package awstest

import (
	"slices"
	"strconv"
	"strings"
)

// ScalableTarget is an Application Auto Scaling scalable target registered
// for an ECS service's desired count. Counts are tasks.
type ScalableTarget struct {
	Min, Max int32
	// The SuspendedState flags.
	DynamicScalingInSuspended, DynamicScalingOutSuspended, ScheduledScalingSuspended bool
}

// The scalable dimension of an ECS service's desired count.
const ecsDimension = "ecs:service:DesiredCount"

// resourceID is Application Auto Scaling's ID of an ECS service.
func resourceID(clusterName, service string) string { return "service/" + clusterName + "/" + service }

// PutScalableTarget registers (or replaces) the scalable target of an ECS
// service, as RegisterScalableTarget does.
func (s *Server) PutScalableTarget(clusterName, service string, t ScalableTarget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.targets == nil {
		s.targets = make(map[string]ScalableTarget)
	}
	s.targets[resourceID(clusterName, service)] = t
}

// RemoveScalableTarget deregisters an ECS service's scalable target.
func (s *Server) RemoveScalableTarget(clusterName, service string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.targets, resourceID(clusterName, service))
}

func (s *Server) describeScalableTargets(body []byte) (any, *apiError) {
	var in struct {
		ServiceNamespace  string   `json:"ServiceNamespace"`
		ResourceIDs       []string `json:"ResourceIds"`
		ScalableDimension string   `json:"ScalableDimension"`
		MaxResults        *int32   `json:"MaxResults"`
		NextToken         string   `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case in.ServiceNamespace == "":
		return nil, badRequest("ValidationException", "1 validation error detected: Value null at 'serviceNamespace' failed to satisfy constraint: Member must not be null")
	case !slices.Contains([]string{"ecs", "elasticmapreduce", "ec2", "appstream", "dynamodb", "rds", "sagemaker",
		"custom-resource", "comprehend", "lambda", "cassandra", "kafka", "elasticache", "neptune", "workspaces"}, in.ServiceNamespace):
		return nil, badRequest("ValidationException", "1 validation error detected: Value '%s' at 'serviceNamespace' failed to satisfy enum value set", in.ServiceNamespace)
	case len(in.ResourceIDs) > 50:
		return nil, badRequest("ValidationException", "ResourceIds must contain at most 50 items.")
	case in.ScalableDimension != "" && !strings.Contains(in.ScalableDimension, ":"):
		return nil, badRequest("ValidationException", "1 validation error detected: Value '%s' at 'scalableDimension' failed to satisfy enum value set", in.ScalableDimension)
	case in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 50):
		return nil, badRequest("ValidationException", "MaxResults must be between 1 and 50.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	if in.ServiceNamespace == "ecs" && (in.ScalableDimension == "" || in.ScalableDimension == ecsDimension) {
		ids := make([]string, 0, len(s.targets))
		for id := range s.targets {
			if len(in.ResourceIDs) == 0 || slices.Contains(in.ResourceIDs, id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for i, id := range ids {
			t := s.targets[id]
			out = append(out, map[string]any{
				"ServiceNamespace": "ecs", "ResourceId": id, "ScalableDimension": ecsDimension,
				"MinCapacity": t.Min, "MaxCapacity": t.Max,
				"RoleARN":           "arn:aws:iam::" + AccountID + ":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService",
				"CreationTime":      createdAt,
				"ScalableTargetARN": "arn:aws:application-autoscaling:" + Region + ":" + AccountID + ":scalable-target/" + strconv.Itoa(i),
				"SuspendedState": map[string]bool{
					"DynamicScalingInSuspended":  t.DynamicScalingInSuspended,
					"DynamicScalingOutSuspended": t.DynamicScalingOutSuspended,
					"ScheduledScalingSuspended":  t.ScheduledScalingSuspended,
				},
			})
		}
	}
	return map[string]any{"ScalableTargets": out}, nil
}
