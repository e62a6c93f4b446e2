package serviceaccount

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLegacyToken(t *testing.T) {
	is, a, o := setup(t)
	now := time.Date(2030, 5, 6, 12, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { return now }
	var used []string
	a.LegacyUsed = func(ns, name, today string) { used = append(used, ns+"/"+name+"@"+today) }

	tok, err := is.IssueLegacy(o.sas["ns/sa"], "tok")
	if err != nil {
		t.Fatal(err)
	}
	// The claims are upstream's: legacy issuer, flat kubernetes.io/serviceaccount/* claims, no expiry.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ns:sa",
		"kubernetes.io/serviceaccount/namespace": "ns", "kubernetes.io/serviceaccount/secret.name": "tok",
		"kubernetes.io/serviceaccount/service-account.name": "sa", "kubernetes.io/serviceaccount/service-account.uid": "sa-uid"}
	if len(claims) != len(want) {
		t.Fatalf("claims %v", claims)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Fatalf("claim %s = %v, want %v", k, claims[k], v)
		}
	}

	// No Secret holds it yet: refused.
	if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil {
		t.Fatalf("token without its secret: ok=%v err=%v", ok, err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tok"}, Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tok)}}
	o.secs = map[string]*corev1.Secret{"ns/tok": secret}
	u, ok, err := a.AuthenticateRequest(request(tok))
	if !ok || err != nil || u.Name != "system:serviceaccount:ns:sa" || u.UID != "sa-uid" || len(u.Groups) != 2 {
		t.Fatalf("ok=%v err=%v user=%+v", ok, err, u)
	}
	if len(used) != 1 || used[0] != "ns/tok@2030-05-06" {
		t.Fatalf("last use recorded %v", used)
	}
	// Marked today (or tomorrow, another server's clock): not recorded again.
	for _, d := range []string{"2030-05-06", "2030-05-07"} {
		secret.Labels = map[string]string{LastUsedLabel: d}
		if _, ok, _ := a.AuthenticateRequest(request(tok)); !ok || len(used) != 1 {
			t.Fatalf("label %s: ok=%v used=%v", d, ok, used)
		}
	}
	secret.Labels = map[string]string{LastUsedLabel: "2030-05-01"}
	if _, ok, _ := a.AuthenticateRequest(request(tok)); !ok || len(used) != 2 {
		t.Fatalf("stale label: ok=%v used=%v", ok, used)
	}

	refused := map[string]func(){
		"secret holds another token": func() { secret.Data[corev1.ServiceAccountTokenKey] = []byte("x") },
		"secret being deleted":       func() { secret.DeletionTimestamp = &metav1.Time{Time: now} },
		"token invalidated":          func() { secret.Labels = map[string]string{InvalidSinceLabel: "2030-01-01"} },
		"secret deleted":             func() { delete(o.secs, "ns/tok") },
		"service account recreated": func() {
			o.sas["ns/sa"] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: "new"}}
		},
		"service account deleted": func() { delete(o.sas, "ns/sa") },
	}
	for name, breakIt := range refused {
		s := secret.DeepCopy()
		s.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
		s.Labels, s.DeletionTimestamp = nil, nil
		secret = s
		o.secs = map[string]*corev1.Secret{"ns/tok": s}
		o.sas["ns/sa"] = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: "sa-uid"}}
		if _, ok, err := a.AuthenticateRequest(request(tok)); !ok || err != nil {
			t.Fatalf("%s: baseline refused: %v", name, err)
		}
		breakIt()
		if _, ok, err := a.AuthenticateRequest(request(tok)); ok || err == nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}

	// Signed by another key: refused even though a Secret holds it. (The state is reset first: the cases
	// above ran in map order, so any of them may have been last.)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa", UID: "sa-uid"}}
	o.sas["ns/sa"] = sa
	other, _, _ := setup(t)
	forged, _ := other.IssueLegacy(sa, "tok")
	s := secret.DeepCopy()
	s.Labels, s.DeletionTimestamp = nil, nil
	s.Data[corev1.ServiceAccountTokenKey] = []byte(forged)
	o.secs = map[string]*corev1.Secret{"ns/tok": s}
	if _, ok, err := a.AuthenticateRequest(request(forged)); ok || err == nil {
		t.Fatalf("forged: ok=%v err=%v", ok, err)
	}
}
