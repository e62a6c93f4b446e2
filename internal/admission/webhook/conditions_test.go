package webhook

import (
	"context"
	"strings"
	"testing"

	admissionregv1 "k8s.io/api/admissionregistration/v1"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// secretsOnly allows reading secrets, nothing else.
type secretsOnly struct{}

func (secretsOnly) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.Resource == "secrets" && a.Verb == "get" {
		return auth.DecisionAllow, "", nil
	}
	return auth.DecisionNoOpinion, "", nil
}

func TestMatchConditions(t *testing.T) {
	a := podAttrs(admission.Create, "")
	cond := func(exprs ...string) []admissionregv1.MatchCondition {
		var out []admissionregv1.MatchCondition
		for i, e := range exprs {
			out = append(out, admissionregv1.MatchCondition{Name: string(rune('a' + i)), Expression: e})
		}
		return out
	}
	for _, c := range []struct {
		exprs   []string
		want    bool
		wantErr string
	}{
		{[]string{`object.metadata.labels.a == "b"`}, true, ""},
		{[]string{`object.metadata.labels.a == "b"`, `request.operation == "UPDATE"`}, false, ""},
		{[]string{`oldObject == null`, `request.namespace == "ns"`, `request.resource.resource == "pods"`}, true, ""},
		{[]string{`!has(object.metadata.annotations)`}, true, ""},
		{[]string{`object.metadata.nosuch == "x"`}, false, "no such key"},
		{[]string{`object.metadata.nosuch == "x"`, `false`}, false, ""}, // a false condition wins over an error
		{[]string{`authorizer.group("").resource("pods").check("get").allowed()`}, false, ""},
		{[]string{`authorizer.group("").resource("secrets").check("get").allowed()`}, true, ""},
		{[]string{`authorizer.requestResource.check("create").allowed()`}, false, ""},
		{[]string{`params == null`}, false, "compilation failed"}, // no params for webhooks
		{[]string{`"not a bool"`}, false, "must evaluate to bool"},
	} {
		got, err := evalConditions(context.Background(), cond(c.exprs...), a, secretsOnly{})
		if got != c.want || (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%v: got %v, %v; want %v, %q", c.exprs, got, err, c.want, c.wantErr)
		}
	}
}
