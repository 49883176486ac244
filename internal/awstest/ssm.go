package awstest

import (
	"encoding/base64"
	"strings"
)

// Parameter is an SSM parameter on the server.
type Parameter struct {
	Name  string // e.g. "/ecs/fast-autoscaler/config.json"
	Type  string // String, StringList or SecureString
	Value string // the plain value
}

// PutParameter adds or replaces a parameter.
func (s *Server) PutParameter(p Parameter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[p.Name] = p
}

// RemoveParameter deletes a parameter: GetParameter then answers
// ParameterNotFound.
func (s *Server) RemoveParameter(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.params, name)
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
	s.mu.Unlock()
	if !ok {
		return nil, badRequest("ParameterNotFound", "")
	}
	value := p.Value
	if p.Type == "SecureString" && !in.WithDecryption {
		value = Ciphertext(value)
	}
	return map[string]any{"Parameter": map[string]any{
		"Name": p.Name, "Type": p.Type, "Value": value, "Version": 1,
		"ARN":              "arn:aws:ssm:" + Region + ":" + AccountID + ":parameter/" + strings.TrimPrefix(p.Name, "/"),
		"DataType":         "text",
		"LastModifiedDate": createdAt,
	}}, nil
}
