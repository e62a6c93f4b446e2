package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objects is an in-memory Getter.
type objects struct {
	sas   map[string]*corev1.ServiceAccount
	pods  map[string]*corev1.Pod
	nodes map[string]*corev1.Node
	secs  map[string]*corev1.Secret
}

func notFound(r, n string) error { return apierrors.NewNotFound(schema.GroupResource{Resource: r}, n) }

func (o *objects) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if sa, ok := o.sas[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, notFound("serviceaccounts", name)
}
func (o *objects) Pod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := o.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, notFound("pods", name)
}
func (o *objects) Secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if s, ok := o.secs[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, notFound("secrets", name)
}
func (o *objects) Node(_ context.Context, name string) (*corev1.Node, error) {
	if n, ok := o.nodes[name]; ok {
		return n, nil
	}
	return nil, notFound("nodes", name)
}

const iss = "https://kubernetes.default.svc.cluster.local"

func setup(t *testing.T) (*Issuer, *Authenticator, *objects) {
	t.Helper()
	dir := t.TempDir()
	keys, err := LoadKeys(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadKeys(dir, "", nil)
	if err != nil || again.KeyID != keys.KeyID {
		t.Fatalf("the generated key is not kept: %v", err)
	}
	if keys.Alg != jose.RS256 {
		t.Fatalf("alg %s", keys.Alg)
	}
	is, err := NewIssuer(keys, iss, []string{iss}, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := &objects{
		sas:   map[string]*corev1.ServiceAccount{"ns/sa": {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: "sa-uid"}}},
		pods:  map[string]*corev1.Pod{"ns/p": {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid"}}},
		nodes: map[string]*corev1.Node{"n1": {ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}}},
	}
	a := &Authenticator{Issuers: []string{iss}, Audiences: []string{iss}, Keys: keys.Publics, Get: o}
	return is, a, o
}

func request(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestIssueAndAuthenticate(t *testing.T) {
	is, a, o := setup(t)
	tok, exp, err := is.Issue(Request{Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: time.Hour,
		Bound: Binding{Kind: "Pod", Name: "p", UID: "pod-uid", NodeName: "n1", NodeUID: "node-uid"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expiry %v", exp)
	}
	u, ok, err := a.AuthenticateRequest(request(tok))
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if u.Name != "system:serviceaccount:ns:sa" || u.UID != "sa-uid" || strings.Join(u.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:ns" {
		t.Fatalf("user %+v", u)
	}
	if u.Extra[ExtraPodName][0] != "p" || u.Extra[ExtraPodUID][0] != "pod-uid" || u.Extra[ExtraNodeName][0] != "n1" ||
		!strings.HasPrefix(u.Extra[ExtraCredentialID][0], "JTI=") {
		t.Fatalf("extra %v", u.Extra)
	}

	// The pod is recreated under the same name: the token is dead.
	o.pods["ns/p"] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "other"}}
	if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil {
		t.Fatalf("a token of a replaced pod authenticated")
	}
	delete(o.pods, "ns/p")
	if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("a token of a deleted pod: ok=%v err=%v", ok, err)
	}
}

func TestRefusedTokens(t *testing.T) {
	is, a, o := setup(t)
	good := Request{Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: time.Hour}

	expired := *is
	expired.Now = func() time.Time { return time.Now().Add(-3 * time.Hour) }
	tokExpired, _, _ := expired.Issue(good)

	wrongAud := good
	wrongAud.Audiences = []string{"vault"}
	tokAud, _, _ := is.Issue(wrongAud)

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(ec)
	foreignFile := filepath.Join(t.TempDir(), "k.pem")
	_ = os.WriteFile(foreignFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	fk, err := LoadKeys("", foreignFile, nil)
	if err != nil || fk.Alg != jose.ES256 {
		t.Fatalf("EC key: %v %v", err, fk)
	}
	foreign, _ := NewIssuer(fk, iss, []string{iss}, 0)
	tokForeign, _, _ := foreign.Issue(good)

	tokSA, _, _ := is.Issue(good)
	for name, tok := range map[string]string{"expired": tokExpired, "audience": tokAud, "foreign key": tokForeign} {
		if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
	// Another issuer's JWT is not ours: no error, the next authenticator may take it.
	other := *is
	other.Issuer = "https://elsewhere"
	tokOther, _, _ := other.Issue(good)
	if _, ok, err := a.AuthenticateRequest(request(tokOther)); ok || err != nil {
		t.Errorf("other issuer: ok=%v err=%v", ok, err)
	}
	o.sas["ns/sa"] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: types.UID("new")}}
	if _, ok, err := a.AuthenticateRequest(request(tokSA)); ok || err == nil {
		t.Errorf("recreated service account: ok=%v err=%v", ok, err)
	}
	// The foreign key, once trusted through --service-account-key-file, verifies.
	a.Keys = append(a.Keys, fk.Publics...)
	o.sas["ns/sa"].UID = "sa-uid"
	if _, ok, err := a.AuthenticateRequest(request(tokForeign)); !ok || err != nil {
		t.Errorf("trusted extra key: ok=%v err=%v", ok, err)
	}
}

func TestMaxExpiration(t *testing.T) {
	is, _, _ := setup(t)
	is.MaxExpiration = time.Hour
	_, exp, err := is.Issue(Request{Namespace: "ns", Name: "sa", Expiration: 48 * time.Hour})
	if err != nil || time.Until(exp) > time.Hour {
		t.Fatalf("exp %v err %v", exp, err)
	}
}

func TestDiscovery(t *testing.T) {
	is, _, _ := setup(t)
	cfg, jwks, err := DiscoveryHandlers(iss, "https://127.0.0.1:6443/openid/v1/jwks", is.Keys().Publics)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	cfg.ServeHTTP(rec, httptest.NewRequest("GET", OpenIDConfigPath, nil))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["issuer"] != iss || m["jwks_uri"] != "https://127.0.0.1:6443/openid/v1/jwks" {
		t.Fatalf("config %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	jwks.ServeHTTP(rec, httptest.NewRequest("GET", JWKSPath, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != is.Keys().KeyID || !set.Keys[0].IsPublic() {
		t.Fatalf("jwks %s", rec.Body)
	}
	if rec.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
	}
}

func TestExtendExpiration(t *testing.T) {
	is, a, _ := setup(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	is.Now = func() time.Time { return now }
	is.ExtendExpiration = true
	pod := Binding{Kind: "Pod", Name: "p", UID: "pod-uid"}
	req := Request{Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: 3607 * time.Second, Bound: pod}
	tok, exp, err := is.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	// The reported expiry is the requested one; the token's own a year later, with warnafter at the former.
	if !exp.Equal(now.Add(3607 * time.Second)) {
		t.Fatalf("reported expiry %v", exp)
	}
	cl := decodeClaims(t, tok)
	if int64(cl["exp"].(float64)) != now.Add(365*24*time.Hour).Unix() {
		t.Fatalf("exp %v", cl["exp"])
	}
	if k := cl["kubernetes.io"].(map[string]any); int64(k["warnafter"].(float64)) != exp.Unix() {
		t.Fatalf("warnafter %v", k["warnafter"])
	}
	// Not extended: another lifetime, no pod binding, a foreign audience, or the option off.
	for name, r := range map[string]Request{
		"3600 s":     {Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: time.Hour, Bound: pod},
		"unbound":    {Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: 3607 * time.Second},
		"audience":   {Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss, "vault"}, Expiration: 3607 * time.Second, Bound: pod},
		"max capped": {Namespace: "ns", Name: "sa", UID: "sa-uid", Audiences: []string{iss}, Expiration: 2 * time.Hour, Bound: pod},
	} {
		if name == "max capped" {
			is.MaxExpiration = 3600 * time.Second
		}
		tok, exp, _ := is.Issue(r)
		cl := decodeClaims(t, tok)
		if int64(cl["exp"].(float64)) != exp.Unix() || cl["kubernetes.io"].(map[string]any)["warnafter"] != nil {
			t.Errorf("%s: extended: %v", name, cl)
		}
	}
	is.MaxExpiration = 0

	// Used before warnafter: fine, not stale. After: still valid (until exp), audited as stale.
	a.Now = func() time.Time { return now.Add(time.Hour) }
	if _, ok, err := a.AuthenticateRequest(request(tok)); !ok || err != nil {
		t.Fatalf("fresh: ok=%v err=%v", ok, err)
	}
	a.Now = func() time.Time { return now.Add(48 * time.Hour) }
	if _, ok, err := a.AuthenticateRequest(request(tok)); !ok || err != nil {
		t.Fatalf("stale but valid: ok=%v err=%v", ok, err)
	}
	if _, ok := a.staleLogged.Load("system:serviceaccount:ns:sa"); !ok {
		t.Fatal("stale use not logged")
	}
	a.Now = func() time.Time { return now.Add(366 * 24 * time.Hour) }
	if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil {
		t.Fatalf("after the extension: ok=%v err=%v", ok, err)
	}
}

func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
