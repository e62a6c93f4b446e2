package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/pki"
	"skiff/test/e2e/framework"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the tests read.
type auditEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	SourceIPs []string `json:"sourceIPs"`
	UserAgent string   `json:"userAgent"`
	ObjectRef *struct {
		Resource, Namespace, Name, APIVersion string
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"responseStatus"`
	RequestObject            json.RawMessage   `json:"requestObject"`
	ResponseObject           json.RawMessage   `json:"responseObject"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`
	line                     string
}

func readAudit(t *testing.T, path string) []auditEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line is not an Event: %v\n%s", err, sc.Text())
		}
		ev.line = sc.Text()
		evs = append(evs, ev)
	}
	return evs
}

// findAudit waits until the log holds an event f accepts.
func findAudit(t *testing.T, path string, what string, f func(auditEvent) bool) auditEvent {
	t.Helper()
	var found auditEvent
	eventually(t, 10*time.Second, func() error {
		for _, ev := range readAudit(t, path) {
			if f(ev) {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("no audit event for %s", what)
	})
	return found
}

// userClient returns a client authenticating as user (no groups) with a certificate from the cluster CA.
func userClient(t *testing.T, c *framework.Cluster, user string) kubernetes.Interface {
	t.Helper()
	cli, err := kubernetes.NewForConfig(userConfig(t, c, user))
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// userConfig is a client configuration for user, authenticated by a client certificate of the cluster CA.
func userConfig(t *testing.T, c *framework.Cluster, user string) *rest.Config {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(filepath.Join(c.DataDir, "tls"), "ca")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := ca.WriteKubeconfig(path, c.Config.Host, user, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*"]
  - level: None
    users: ["system:apiserver"]
  - level: Metadata
    resources: [{group: "", resources: [secrets]}]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
  - level: Metadata
`

// TestAuditLog: a create at RequestResponse logs the object, a forbidden request is logged with decision
// forbid, an unauthenticated one with 401, a Secret read at Metadata carries no data, a watch has a
// ResponseStarted stage, omitted stages are absent, and responses carry the event's Audit-ID.
func TestAuditLog(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--audit-policy-file", policy, "--audit-log-path", logPath}})
	ctx := context.Background()

	// A create at RequestResponse: the request and the response objects, without managedFields.
	kubectl(t, c, "create", "configmap", "audited", "--from-literal=color=blue")
	ev := findAudit(t, logPath, "configmap create", func(ev auditEvent) bool {
		return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "configmaps" && ev.ObjectRef.Name == "audited"
	})
	if ev.Kind != "Event" || ev.APIVersion != "audit.k8s.io/v1" || ev.Level != "RequestResponse" || ev.Stage != "ResponseComplete" ||
		ev.User.Username != "admin" || ev.ResponseStatus == nil || ev.ResponseStatus.Code != 201 ||
		ev.Annotations["authorization.k8s.io/decision"] != "allow" || len(ev.SourceIPs) == 0 || !strings.HasPrefix(ev.UserAgent, "skiff") && !strings.Contains(ev.UserAgent, "kubectl") ||
		ev.RequestReceivedTimestamp == "" || ev.StageTimestamp == "" || ev.ObjectRef.Namespace != "default" || ev.ObjectRef.APIVersion != "v1" {
		t.Fatalf("create event: %s", ev.line)
	}
	mustContain(t, string(ev.RequestObject), `"color":"blue"`)
	mustContain(t, string(ev.ResponseObject), `"color":"blue"`, `"uid"`)
	if strings.Contains(ev.line, "managedFields") {
		t.Fatalf("omitManagedFields ignored: %s", ev.line)
	}

	// A forbidden request: any user outside system:masters.
	alice := userClient(t, c, "alice")
	if _, err := alice.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice listed pods: %v", err)
	}
	ev = findAudit(t, logPath, "forbidden list", func(ev auditEvent) bool { return ev.User.Username == "alice" && ev.Verb == "list" })
	if ev.ResponseStatus == nil || ev.ResponseStatus.Code != 403 || ev.ResponseStatus.Reason != "Forbidden" ||
		ev.Annotations["authorization.k8s.io/decision"] != "forbid" || ev.Level != "Metadata" || ev.RequestObject != nil || ev.ResponseObject != nil {
		t.Fatalf("forbidden event: %s", ev.line)
	}
	mustContain(t, ev.ResponseStatus.Message, `User "alice" cannot list resource "pods"`)

	// A request with a bad credential: logged without a user, 401. (No credential at all would be
	// system:anonymous, forbidden by authorization.)
	req, _ := http.NewRequest(http.MethodGet, c.Config.Host+"/api/v1/namespaces/default/pods?audit-probe=1", nil)
	req.Header.Set("Authorization", "Bearer not-a-valid-token")
	resp, err := framework.InsecureClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	unauthID := resp.Header.Get("Audit-Id")
	ev = findAudit(t, logPath, "unauthenticated", func(ev auditEvent) bool { return strings.Contains(ev.RequestURI, "audit-probe=1") })
	if ev.ResponseStatus == nil || ev.ResponseStatus.Code != 401 || ev.User.Username != "" || ev.AuditID != unauthID || unauthID == "" {
		t.Fatalf("401 event (Audit-ID header %q): %s", unauthID, ev.line)
	}

	// Secrets at Metadata: neither the create nor the read logs the data.
	kubectl(t, c, "create", "secret", "generic", "audited", "--from-literal=password=top-secret-value")
	kubectl(t, c, "get", "secret", "audited", "-o", "yaml")
	ev = findAudit(t, logPath, "secret get", func(ev auditEvent) bool {
		return ev.Verb == "get" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "secrets" && ev.ObjectRef.Name == "audited"
	})
	if ev.Level != "Metadata" || ev.ResponseStatus.Code != 200 || ev.ResponseObject != nil {
		t.Fatalf("secret event: %s", ev.line)
	}
	findAudit(t, logPath, "secret create", func(ev auditEvent) bool {
		return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "secrets" && ev.ObjectRef.Name == "audited"
	})

	// A watch: ResponseStarted when it starts streaming, ResponseComplete when it ends.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	w, err := c.Client.CoreV1().ConfigMaps("default").Watch(wctx, metav1.ListOptions{LabelSelector: "audit=watch"})
	if err != nil {
		t.Fatal(err)
	}
	findAudit(t, logPath, "watch started", func(ev auditEvent) bool {
		return ev.Verb == "watch" && ev.Stage == "ResponseStarted" && strings.Contains(ev.RequestURI, "audit%3Dwatch")
	})
	w.Stop()
	cancel()
	findAudit(t, logPath, "watch complete", func(ev auditEvent) bool {
		return ev.Verb == "watch" && ev.Stage == "ResponseComplete" && strings.Contains(ev.RequestURI, "audit%3Dwatch")
	})

	// The Audit-ID header names the request's events.
	var hdr http.Header
	cfg := rest.CopyConfig(c.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			if err == nil {
				hdr = resp.Header
			}
			return resp, err
		})
	}
	cli := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cli.CoreV1().ConfigMaps("default").Get(ctx, "audited", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	id := hdr.Get("Audit-Id")
	ev = findAudit(t, logPath, "audit id "+id, func(ev auditEvent) bool { return id != "" && ev.AuditID == id })
	if ev.Verb != "get" {
		t.Fatalf("event of Audit-ID %s: %s", id, ev.line)
	}

	for _, ev := range readAudit(t, logPath) {
		if ev.Stage == "RequestReceived" {
			t.Fatalf("omitted stage logged: %s", ev.line)
		}
		if strings.Contains(ev.line, "top-secret-value") || strings.Contains(ev.line, "dG9wLXNlY3JldC12YWx1ZQ") {
			t.Fatalf("secret data in the audit log: %s", ev.line)
		}
		if ev.User.Username == "system:apiserver" || strings.HasPrefix(ev.RequestURI, "/readyz") {
			t.Fatalf("a None rule was logged: %s", ev.line)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAuditLogRotation: with --audit-log-maxsize the log is rotated into a backup next to it; a RequestReceived
// event is written when the policy does not omit it; a bad policy stops the server at start.
func TestAuditLogRotation(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	y := "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n    resources: [{resources: [configmaps]}]\n    verbs: [create]\n"
	if err := os.WriteFile(policy, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--audit-policy-file", policy, "--audit-log-path", logPath,
		"--audit-log-maxsize", "1", "--audit-log-maxbackup", "3"}})
	big := strings.Repeat("x", 200<<10)
	for i := range 4 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("big-%d", i)}, Data: map[string]string{"v": big}}
		if _, err := c.Client.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if len(backups) == 0 {
		t.Fatalf("no rotated audit log in %s", dir)
	}
	evs := readAudit(t, logPath)
	for _, b := range backups {
		evs = append(evs, readAudit(t, b)...)
	}
	// The name of a created object is known once its body is read: RequestReceived events are matched by ID.
	ids := map[string]bool{}
	for _, ev := range evs {
		if ev.ObjectRef != nil && strings.HasPrefix(ev.ObjectRef.Name, "big-") {
			ids[ev.AuditID] = true
		}
	}
	stages := map[string]int{}
	for _, ev := range evs {
		if ids[ev.AuditID] {
			stages[ev.Stage]++
		}
	}
	if stages["RequestReceived"] != 4 || stages["ResponseComplete"] != 4 {
		t.Fatalf("stages over log and backup: %v", stages)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Everything\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	out, _, err := runServerOnce(t, "--audit-policy-file", bad, "--audit-log-path", logPath)
	if err == nil {
		t.Fatal("server started with a bad audit policy")
	}
	mustContain(t, out, "audit policy", `rules[0].level: Unsupported value: "Everything"`)
}
