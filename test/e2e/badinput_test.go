package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"skiff/test/e2e/framework"
)

// etcdSnapshot is every key under /registry with its mod revision.
func etcdSnapshot(t *testing.T, cli *clientv3.Client) map[string]int64 {
	t.Helper()
	resp, err := cli.Get(context.Background(), "/registry/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.ModRevision
	}
	return out
}

func sameSnapshot(a, b map[string]int64) error {
	if len(a) != len(b) {
		return fmt.Errorf("key count %d -> %d", len(a), len(b))
	}
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("key %s changed (mod revision %d -> %d)", k, v, b[k])
		}
	}
	return nil
}

func TestBadInput(t *testing.T) {
	e := framework.StartEtcd(t)
	// No scheduler: its lease renewals would write to etcd between the snapshots.
	c := framework.Start(t, framework.Options{EtcdServers: []string{e.Endpoint}, ExtraArgs: []string{"--disable-scheduler"}})
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	httpClient, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	base := c.Config.Host
	kubectl(t, c, "create", "configmap", "existing", "--from-literal=a=b")
	cmRV := kubectl(t, c, "get", "configmap", "existing", "-o", "jsonpath={.metadata.resourceVersion}")
	// Let the bootstrap settle so the snapshot is stable.
	time.Sleep(500 * time.Millisecond)

	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":"` + strings.Repeat("a", 3<<20) + `"}}`
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                metav1.StatusReason
		contains                              []string
	}{
		{"malformed JSON", "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"ConfigMap",`, 400, metav1.StatusReasonBadRequest, nil},
		{"malformed YAML", "POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [name: x\n", 400, metav1.StatusReasonBadRequest, nil},
		{"unknown field strict", "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"bogus":1}`, 400, metav1.StatusReasonBadRequest, []string{`unknown field \"bogus\"`}},
		{"invalid name", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, metav1.StatusReasonInvalid, []string{"metadata.name"}},
		{"missing required", "POST", "/apis/apps/v1/namespaces/default/deployments", "application/json",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"noselector"},"spec":{"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c"}]}}}}`,
			422, metav1.StatusReasonInvalid, []string{"spec.selector", "spec.template.spec.containers[0].image"}},
		{"body too large", "POST", "/api/v1/namespaces/default/configmaps", "application/json", big, 413, metav1.StatusReasonRequestEntityTooLarge, nil},
		{"wrong kind for URL", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"wrongkind"}}`, 400, metav1.StatusReasonBadRequest, []string{"Secret"}},
		{"wrong version for URL", "POST", "/apis/apps/v1/namespaces/default/deployments", "application/json",
			`{"apiVersion":"v1","kind":"Deployment","metadata":{"name":"wrongversion"}}`, 400, metav1.StatusReasonBadRequest, nil},
		{"stale resourceVersion", "PUT", "/api/v1/namespaces/default/configmaps/existing", "application/json",
			fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"existing","resourceVersion":"%d"},"data":{"a":"changed"}}`, mustAtoi(t, cmRV)-1),
			409, metav1.StatusReasonConflict, []string{"the object has been modified"}},
		{"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, 404, metav1.StatusReasonNotFound, []string{`namespaces \"nope\" not found`}},
		// Anonymous requests are authorized as system:anonymous, which may not read configmaps (--anonymous-auth).
		{"no credentials", "", "", "", "", 403, metav1.StatusReasonForbidden, []string{`system:anonymous`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := etcdSnapshot(t, etcd)
			var resp *http.Response
			var err error
			if tc.method == "" {
				resp, err = insecureGet(base + "/api/v1/namespaces/default/configmaps")
			} else {
				req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewBufferString(tc.body))
				req.Header.Set("Content-Type", tc.contentType)
				resp, err = httpClient.Do(req)
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("code %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
				t.Fatalf("not a Status: %v %s", err, body)
			}
			if st.Reason != tc.reason || st.Code != int32(tc.code) {
				t.Fatalf("reason %q code %d, want %q: %s", st.Reason, st.Code, tc.reason, body)
			}
			for _, w := range tc.contains {
				if !strings.Contains(string(body), w) {
					t.Fatalf("status does not mention %q: %s", w, body)
				}
			}
			if tc.reason == metav1.StatusReasonInvalid && (st.Details == nil || len(st.Details.Causes) == 0) {
				t.Fatalf("invalid without causes: %s", body)
			}
			if err := sameSnapshot(before, etcdSnapshot(t, etcd)); err != nil {
				t.Fatalf("etcd changed after a refused request: %v", err)
			}
		})
	}
}

func insecureGet(url string) (*http.Response, error) {
	return framework.InsecureClient().Get(url)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
