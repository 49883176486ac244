package awstest

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
)

// Parameter is an SSM parameter on the server.
type Parameter struct {
	Name  string // e.g. "/ecs/fast-autoscaler/config.json"
	Type  string // String, StringList or SecureString
	Value string // the plain value
}

// PutParameter adds or replaces a parameter; a replaced one's version goes
// up by one, as with "aws ssm put-parameter --overwrite".
func (s *Server) PutParameter(p Parameter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[p.Name] = p
	s.versions[p.Name]++
}

// RemoveParameter deletes a parameter: GetParameter then answers
// ParameterNotFound.
func (s *Server) RemoveParameter(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.params, name)
	delete(s.versions, name)
}

// Ciphertext is what GetParameter returns as a SecureString's value when
// WithDecryption is false: never the plain value.
func Ciphertext(value string) string {
	return "AQICAHawstest" + base64.StdEncoding.EncodeToString([]byte(value))
}

func (s *Server) getParameter(body []byte) (any, *apiError) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == "" {
		return nil, badRequest("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	s.mu.Lock()
	p, ok := s.params[in.Name]
	version := s.versions[in.Name]
	s.mu.Unlock()
	if !ok {
		return nil, badRequest("ParameterNotFound", "")
	}
	return map[string]any{"Parameter": wireParameter(p, version, in.WithDecryption)}, nil
}

// wireParameter is a parameter as GetParameter and GetParametersByPath
// report it: a SecureString's value is ciphertext unless decrypted.
func wireParameter(p Parameter, version int, decrypt bool) map[string]any {
	value := p.Value
	if p.Type == "SecureString" && !decrypt {
		value = Ciphertext(value)
	}
	return map[string]any{
		"Name": p.Name, "Type": p.Type, "Value": value, "Version": version,
		"ARN":              "arn:aws:ssm:" + Region + ":" + AccountID + ":parameter/" + strings.TrimPrefix(p.Name, "/"),
		"DataType":         "text",
		"LastModifiedDate": createdAt,
	}
}

// maxPathResults is GetParametersByPath's limit (and default) on
// MaxResults.
const maxPathResults = 10

// getParametersByPath answers parameters under Path in name order: direct
// children only, or every level when Recursive. NextToken is opaque to the
// client (here: the last name returned, encoded).
func (s *Server) getParametersByPath(body []byte) (any, *apiError) {
	var in struct {
		Path           string `json:"Path"`
		Recursive      bool   `json:"Recursive"`
		WithDecryption bool   `json:"WithDecryption"`
		MaxResults     *int   `json:"MaxResults"`
		NextToken      string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if !strings.HasPrefix(in.Path, "/") || strings.Contains(in.Path, " ") {
		return nil, badRequest("ValidationException", "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".")
	}
	limit := maxPathResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxPathResults {
			return nil, badRequest("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to %d", *in.MaxResults, maxPathResults)
		}
		limit = *in.MaxResults
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, badRequest("InvalidNextToken", "The nextToken is not valid.")
		}
		after = string(b)
	}
	prefix := strings.TrimSuffix(in.Path, "/") + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	var page []any
	next := ""
	for _, name := range slices.Sorted(maps.Keys(s.params)) {
		rest, under := strings.CutPrefix(name, prefix)
		if !under || rest == "" || (!in.Recursive && strings.Contains(rest, "/")) || name <= after {
			continue
		}
		if len(page) == limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].(map[string]any)["Name"].(string)))
			break
		}
		page = append(page, wireParameter(s.params[name], s.versions[name], in.WithDecryption))
	}
	out := map[string]any{"Parameters": append([]any{}, page...)}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}
