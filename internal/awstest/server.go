// Package awstest runs an in-process HTTP server that speaks the AWS JSON 1.1
// wire protocol for the few ECS, SSM and Application Auto Scaling operations
// this module uses, so tests can drive the real aws-sdk-go-v2 clients
// (signing, retries, endpoint resolution, error decoding) without AWS.
//
// One server answers every service on one URL, routing by X-Amz-Target:
//
//	AmazonEC2ContainerServiceV20141113.DescribeServices (include TAGS), .UpdateService, .TagResource,
//	                                   .ListTasks, .DescribeTasks
//	AmazonSSM.GetParameter, .GetParametersByPath
//	AnyScaleFrontendService.DescribeScalableTargets   (signing name application-autoscaling)
//
// It checks each request the way AWS does in outline: POST, a known target,
// a SigV4 Authorization header scoped to the right service, Content-Type
// application/x-amz-json-1.1 and a JSON body of the right shape (unknown
// fields are ignored). Errors are HTTP 400 (500 for server faults) with a
// body {"__type":"<Code>","message":"..."}.
//
// In-process clients: build them from [Server.Config]. A child process (an
// end-to-end test of the binary) gets the same server through the variables
// [Server.Env] returns, appended to its environment:
//
//	AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL_SSM,
//	AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=<Server.URL>
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   static test credentials
//	AWS_REGION=ap-northeast-1
//	AWS_EC2_METADATA_DISABLED=true             skip the instance-metadata probe
//	AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE=/dev/null, AWS_PROFILE=
//	                                           ignore the developer's ~/.aws
//
// A test inside a testing/synctest bubble builds its clients from
// [Server.InProcessConfig] instead: the same handler, called without a socket.
//
// A child process keeps the SDK's default retryer, whose backoff is real
// time (up to a second or two per retry): inject few faults there, or set
// AWS_MAX_ATTEMPTS=1.
package awstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Fixed identity of the fake account.
const (
	// Region is the region Config and Env use and ARNs name.
	Region = "ap-northeast-1"
	// AccountID is the account ARNs name.
	AccountID = "123456789012"
	// AccessKeyID and SecretAccessKey are the static test credentials.
	AccessKeyID     = "AKIDAWSTEST"
	SecretAccessKey = "awstest-secret-key"
	// MaxAttempts is the attempts per operation of a Config client (the SDK's
	// default too): one call and two retries.
	MaxAttempts = 3
)

const (
	ecsTarget = "AmazonEC2ContainerServiceV20141113."
	ssmTarget = "AmazonSSM."
	aasTarget = "AnyScaleFrontendService."
	jsonType  = "application/x-amz-json-1.1"
	maxBody   = 1 << 20 // bytes of request body read
)

// StatusClientGone is the Status of a call whose client gave up while it
// was held by Hold, before it was applied: it is not applied and gets no
// answer (nginx's "client closed request").
const StatusClientGone = 499

// StatusDropped is the Status of a call DropAnswer applied and then left
// without an answer, its connection closed (nginx's "connection closed
// without response").
const StatusDropped = 444

// Call is one request the server received, recorded before it is answered.
type Call struct {
	// Operation is the operation name, e.g. "DescribeServices"; empty when
	// the target is unknown.
	Operation string
	Target    string         // the X-Amz-Target header
	Body      []byte         // the raw request body
	Params    map[string]any // Body decoded by encoding/json (numbers are float64); nil if not a JSON object
	Header    http.Header    // a copy of the request headers (Authorization, Amz-Sdk-Request, ...)
	// Status is the HTTP status answered; 0 while the call is in flight.
	Status int
	// Time is when the server received the call (the wall clock, before
	// the body was read).
	Time time.Time
	// Applied reports that the operation took effect: answered 200, or
	// applied before a CommitThenFail error, a DropAnswer or a HoldAnswer
	// whose client gave up.
	Applied bool

	seq int // request number, to find the call again
}

// Server is the fake AWS endpoint. Create it with New; it is safe for
// concurrent use.
type Server struct {
	// URL is the base endpoint, e.g. "http://127.0.0.1:41234".
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	clusters map[string]*cluster
	params   map[string]Parameter
	versions map[string]int            // parameter name -> version
	targets  map[string]ScalableTarget // by resource ID, service/<cluster>/<service>
	calls    []Call
	faults   []*fault
	denied   map[string]bool
	holds    []*Hold
	requests int
}

// New starts a server and stops it when the test ends.
func New(tb testing.TB) *Server {
	s := Start()
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server outside a test (the load harness in
// internal/loadtest runs it beside the binary). The caller must Close it.
func Start() *Server {
	s := &Server{
		clusters: make(map[string]*cluster),
		params:   make(map[string]Parameter),
		versions: make(map[string]int),
		denied:   make(map[string]bool),
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close releases every hold and stops the server. It is safe to call twice.
func (s *Server) Close() {
	s.mu.Lock()
	holds := s.holds
	s.holds = nil
	s.mu.Unlock()
	for _, h := range holds {
		h.Release()
	}
	s.srv.Close()
}

// Config returns an aws.Config for in-process SDK clients: this server as
// BaseEndpoint, Region, the static test credentials, and the standard
// retryer with MaxAttempts attempts, no backoff delay and no client-side
// retry quota, so fault-injecting tests run fast and never wait on the clock.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

// InProcessConfig is Config with an HTTP client that hands each request to
// the server's handler in the calling goroutine, without a socket: for
// tests inside a testing/synctest bubble, where network I/O is not durably
// blocking. Create the Server outside the bubble. Hold is not for use with
// it (its channels belong to no bubble).
func (s *Server) InProcessConfig() aws.Config {
	cfg := s.Config()
	cfg.HTTPClient = &http.Client{Transport: inProcess{s}}
	return cfg
}

// inProcess is an http.RoundTripper calling a handler directly.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// Env returns the environment variables ("KEY=value") a child process needs
// to reach this server through the SDK's default configuration chain.
// Append them to os.Environ() so they override the parent's values.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ENDPOINT_URL_ECS=" + s.URL,
		"AWS_ENDPOINT_URL_SSM=" + s.URL,
		"AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_PROFILE=",
	}
}

// Calls returns a copy of the calls received so far, oldest first; given
// operation names, only calls of those operations.
func (s *Server) Calls(ops ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(ops) == 0 || slices.Contains(ops, c.Operation) {
			out = append(out, c)
		}
	}
	return out
}

// FirstAttempts returns the first attempt of each operation in calls: the
// SDK's standard retryer may send an attempt again after a transient error
// (on a loaded machine, a response read cut short by net/http closing the
// connection: aws/aws-sdk-go-v2#2737, which the SDK retries), with the same
// Amz-Sdk-Invocation-Id and an Amz-Sdk-Request of "attempt=2; ...". Those
// repeats are the SDK's business, not a call the application made.
func FirstAttempts(calls []Call) []Call {
	seen := map[string]bool{}
	var out []Call
	for _, c := range calls {
		id := c.Header.Get("Amz-Sdk-Invocation-Id")
		if id != "" && seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, c)
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// fault answers the next n calls of op ("" for any) with a canned response;
// with commit, after applying the call's effect.
type fault struct {
	op     string
	n      int
	status int
	body   []byte
	commit bool
}

// FailNext answers the next n calls of operation op ("" for any operation)
// with the AWS error code, e.g. "ServiceNotFoundException": HTTP 500 for
// ServerException, InternalServerError and InternalFailure, else 400.
// Faults queue: each call consumes the oldest matching one.
func (s *Server) FailNext(op string, n int, code string) {
	s.queue(&fault{op: op, n: n, status: codeStatus(code), body: errorBody(code, "awstest: injected "+code)})
}

// codeStatus is the HTTP status AWS answers an error code with: 500 for
// ServerException, InternalServerError and InternalFailure, else 400.
func codeStatus(code string) int {
	switch code {
	case "ServerException", "InternalServerError", "InternalFailure":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Throttle answers the next n calls of op ("" for any) with AWS's
// ThrottlingException (HTTP 400, "Rate exceeded"), which the SDK retries.
func (s *Server) Throttle(op string, n int) {
	s.RespondNext(op, n, http.StatusBadRequest, errorBody("ThrottlingException", "Rate exceeded"))
}

// RespondNext answers the next n calls of op ("" for any) with this status
// and raw body, e.g. a 200 with invalid JSON.
func (s *Server) RespondNext(op string, n int, status int, body []byte) {
	s.queue(&fault{op: op, n: n, status: status, body: body})
}

// CommitThenFail applies the next n calls of op (an UpdateService changes
// the desired count) and then answers them with the AWS error code, as
// FailNext does: the response of a call that landed is lost, as with a 5xx
// after commit. The client cannot tell it landed. (DropAnswer loses the
// answer with the connection instead.)
func (s *Server) CommitThenFail(op string, n int, code string) {
	s.queue(&fault{op: op, n: n, status: codeStatus(code), body: errorBody(code, "awstest: injected "+code+" after commit"), commit: true})
}

// DropAnswer applies the next n calls of op ("" for any) and then closes
// their connections without an answer, as when a response is lost on its
// way back: the client sees a broken connection, the change stays made.
// It is CommitThenFail with no answer at all rather than an error code.
func (s *Server) DropAnswer(op string, n int) {
	s.queue(&fault{op: op, n: n, status: StatusDropped, commit: true})
}

// queue adds f, unless it is for no call at all. Faults queue: each call
// consumes the oldest matching one.
func (s *Server) queue(f *fault) {
	if f.n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Deny answers every later call of op with AccessDeniedException, as AWS
// does when IAM does not allow the action, until Allow(op).
func (s *Server) Deny(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[op] = true
}

// Allow undoes Deny(op).
func (s *Server) Allow(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, op)
}

// Hold keeps calls of an operation waiting, in flight, until released: a
// stand-in for latency that does not depend on the wall clock.
type Hold struct {
	op      string
	applied bool // wait after the operation is applied, not before
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// Hold makes every later call of op ("" for any) wait after it is recorded
// and before it is applied and answered, until h.Release, the client giving
// up (then it is not applied: its Status is StatusClientGone), or Close.
func (s *Server) Hold(op string) *Hold { return s.hold(op, false) }

// HoldAnswer makes every later call of op ("" for any) be applied at once
// and then wait before its answer, until h.Release, the client giving up
// (the change stays made: a lost answer), or Close.
func (s *Server) HoldAnswer(op string) *Hold { return s.hold(op, true) }

func (s *Server) hold(op string, applied bool) *Hold {
	h := &Hold{op: op, applied: applied, arrived: make(chan struct{}, 100), release: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds = append(s.holds, h)
	return h
}

// Arrived receives one value per call held (up to 100 unread).
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// Release lets held and later calls through. It is safe to call twice.
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// apiError is an AWS error response.
type apiError struct {
	status  int
	code    string
	message string
}

func errorBody(code, message string) []byte {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	return b
}

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// route is one operation the server answers.
type route struct {
	op     string                             // operation name
	scope  string                             // SigV4 signing name
	handle func(body []byte) (any, *apiError) // answers a well-formed request
}

func (s *Server) route(target string) (route, bool) {
	switch target {
	case ecsTarget + "DescribeServices":
		return route{"DescribeServices", "ecs", s.describeServices}, true
	case ecsTarget + "UpdateService":
		return route{"UpdateService", "ecs", s.updateService}, true
	case ecsTarget + "TagResource":
		return route{"TagResource", "ecs", s.tagResource}, true
	case ecsTarget + "ListTasks":
		return route{"ListTasks", "ecs", s.listTasks}, true
	case ecsTarget + "DescribeTasks":
		return route{"DescribeTasks", "ecs", s.describeTasks}, true
	case ssmTarget + "GetParameter":
		return route{"GetParameter", "ssm", s.getParameter}, true
	case ssmTarget + "GetParametersByPath":
		return route{"GetParametersByPath", "ssm", s.getParametersByPath}, true
	case aasTarget + "DescribeScalableTargets":
		return route{"DescribeScalableTargets", "application-autoscaling", s.describeScalableTargets}, true
	}
	return route{}, false
}

// ServeHTTP answers one AWS JSON 1.1 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	target := r.Header.Get("X-Amz-Target")
	rt, known := s.route(target)

	var params map[string]any
	if json.Unmarshal(body, &params) != nil {
		params = nil
	}
	s.mu.Lock()
	s.requests++
	seq := s.requests
	s.calls = append(s.calls, Call{Operation: rt.op, Target: target, Body: body, Params: params, Header: r.Header.Clone(), Time: received, seq: seq})
	s.mu.Unlock()

	status, resp, applied := s.answer(r, rt, known, body)

	s.mu.Lock()
	for i := range s.calls { // search: ResetCalls may have run meanwhile
		if s.calls[i].seq == seq {
			s.calls[i].Status, s.calls[i].Applied = status, applied
		}
	}
	s.mu.Unlock()

	switch status {
	case StatusClientGone:
		return
	case StatusDropped:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		status, resp = http.StatusInternalServerError, errorBody("InternalFailure", "awstest: the connection could not be dropped")
	}

	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("X-Amzn-RequestId", "awstest-"+strconv.Itoa(seq))
	w.WriteHeader(status)
	_, _ = w.Write(resp)
}

// answer checks the protocol, applies holds and faults, then the
// operation, and reports whether the operation took effect.
func (s *Server) answer(r *http.Request, rt route, known bool, body []byte) (status int, resp []byte, applied bool) {
	if e := checkProtocol(r, rt, known); e != nil {
		return e.status, errorBody(e.code, e.message), false
	}
	s.wait(r, rt.op, false)
	if r.Context().Err() != nil { // gave up while held: never applied
		return StatusClientGone, nil, false
	}
	status, resp, commit, injected := s.injected(rt)
	if injected && !commit {
		return status, resp, false
	}
	out, e := rt.handle(body)
	s.wait(r, rt.op, true)
	if injected { // applied, then failed or dropped
		return status, resp, e == nil
	}
	if e != nil {
		return e.status, errorBody(e.code, e.message), false
	}
	b, err := json.Marshal(out)
	if err != nil {
		return http.StatusInternalServerError, errorBody("InternalFailure", err.Error()), true
	}
	return http.StatusOK, b, true
}

func checkProtocol(r *http.Request, rt route, known bool) *apiError {
	if r.Method != http.MethodPost || !known {
		return badRequest("com.amazon.coral.service#UnknownOperationException", "")
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return badRequest("MissingAuthenticationTokenException", "Missing Authentication Token")
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 "),
		!strings.Contains(auth, "Credential="), !strings.Contains(auth, "SignedHeaders="),
		!strings.Contains(auth, "Signature="), r.Header.Get("X-Amz-Date") == "":
		return badRequest("IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and an X-Amz-Date header")
	case !strings.Contains(auth, "/"+rt.scope+"/aws4_request"):
		return badRequest("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", rt.scope)
	}
	if ct := r.Header.Get("Content-Type"); ct != jsonType {
		return badRequest("SerializationException", "unsupported Content-Type %q", ct)
	}
	return nil
}

// wait blocks while a hold on op (before or after it is applied) is
// unreleased and the client still waits.
func (s *Server) wait(r *http.Request, op string, applied bool) {
	s.mu.Lock()
	var holds []*Hold
	for _, h := range s.holds {
		if (h.op == "" || h.op == op) && h.applied == applied {
			holds = append(holds, h)
		}
	}
	s.mu.Unlock()
	for _, h := range holds {
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}
}

// injected returns the response of a Deny or a queued fault matching rt,
// and whether the call is to be applied first.
func (s *Server) injected(rt route) (status int, body []byte, commit, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denied[rt.op] {
		action := rt.scope + ":" + rt.op
		return http.StatusBadRequest, errorBody("AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:iam::%s:user/awstest is not authorized to perform: %s because no identity-based policy allows the %s action",
			AccountID, action, action)), false, true
	}
	for i, f := range s.faults {
		if f.op != "" && f.op != rt.op {
			continue
		}
		f.n--
		if f.n <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f.status, f.body, f.commit, true
	}
	return 0, nil, false, false
}

// decode unmarshals a request body into in; a wrong JSON type is AWS's
// SerializationException.
func decode(body []byte, in any) *apiError {
	if err := json.Unmarshal(body, in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badRequest("SerializationException", "field %s: cannot read %s as %s", te.Field, te.Value, te.Type)
		}
		return badRequest("SerializationException", "request body is not JSON: %v", err)
	}
	return nil
}
