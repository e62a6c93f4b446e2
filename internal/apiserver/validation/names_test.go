package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestNameValidator(t *testing.T) {
	gvk := func(group, kind string) schema.GroupVersionKind {
		return schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind}
	}
	cases := []struct {
		gvk   schema.GroupVersionKind
		name  string
		valid bool
	}{
		{gvk("", "Namespace"), "team-a", true},
		{gvk("", "Namespace"), "team.a", false}, // a label: no dots
		{gvk("", "Service"), "web", true},
		{gvk("", "Service"), "1web", false}, // DNS-1035: starts with a letter
		{gvk("", "ConfigMap"), "app.config", true},
		{gvk("", "Pod"), "Web", false},
		{gvk("apps", "Deployment"), "web.v2", true},
		{gvk("apps", "StatefulSet"), "db.v2", false},
		{gvk("rbac.authorization.k8s.io", "ClusterRole"), "system:controller:foo", true},
		{gvk("rbac.authorization.k8s.io", "Role"), "a/b", false},
		{gvk("", "Event"), "pod.17a3b2c1%", false},
		{gvk("", "Event"), "web.17a3b2c1d", true},
		{gvk("certificates.k8s.io", "CertificateSigningRequest"), "csr-ABC:x", true},
		{gvk("example.com", "Widget"), "my-widget", true},
		{gvk("example.com", "Widget"), "My_Widget", false},
		{gvk("networking.k8s.io", "IPAddress"), "10.0.0.1", true},
		{gvk("batch", "CronJob"), strings.Repeat("c", 53), false},
	}
	for _, c := range cases {
		errs := NameValidator(c.gvk)(c.name, false)
		if (len(errs) == 0) != c.valid {
			t.Errorf("%s %q: valid=%v, errors %v", c.gvk.Kind, c.name, c.valid, errs)
		}
	}
	// generateName prefixes may end with a dash.
	if errs := NameValidator(gvk("", "Pod"))("web-", true); len(errs) != 0 {
		t.Errorf("prefix rejected: %v", errs)
	}
}

func TestKindsWithoutRules(t *testing.T) {
	for _, obj := range []runtime.Object{nil, &corev1.ServiceAccount{}, &metav1.Status{}} {
		if errs := Validate(obj); errs != nil {
			t.Errorf("%T: %v", obj, errs)
		}
		if errs := ValidateUpdate(obj, obj); errs != nil {
			t.Errorf("%T update: %v", obj, errs)
		}
	}
}
