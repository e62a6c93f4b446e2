package oidc

import (
	"strings"
	"testing"
)

// A claim mapping that builds a huge string with library calls (join doubles it at each step) runs into
// the cost limit instead of exhausting memory.
func TestClaimExpressionCostLimit(t *testing.T) {
	expr := "cel.bind(s" + itoa(0) + ", claims.sub, "
	n := 20 // 16 MiB without size-aware pricing
	for i := 1; i <= n; i++ {
		p := "s" + itoa(i-1)
		expr += "cel.bind(s" + itoa(i) + ", [" + p + ", " + p + "].join(), "
	}
	expr += "s" + itoa(n) + strings.Repeat(")", n+1)
	e, err := CompileClaims(expr, ResultString)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.evalString(map[string]any{"claims": map[string]any{"sub": "0123456789abcdef"}})
	if err == nil || !strings.Contains(err.Error(), "actual cost limit exceeded") {
		t.Fatalf("got %v, want the cost limit exceeded", err)
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// The Kubernetes CEL libraries of admission expressions are available to claim mappings and rules.
func TestClaimExpressionKubernetesLibraries(t *testing.T) {
	vars := map[string]any{"claims": map[string]any{"iss": "https://issuer.example.com:8443/x", "ip": "10.1.2.3", "mem": "2Gi"}}
	for _, src := range []string{
		`url(claims.iss).getHost() == "issuer.example.com:8443"`,
		`cidr("10.0.0.0/8").containsIP(ip(claims.ip)) && isIP(claims.ip)`,
		`quantity(claims.mem).isGreaterThan(quantity("1Gi"))`,
		`claims.iss.find("[0-9]+") == "8443" && [3, 1, 2].max() == 3`,
		`cel.bind(h, url(claims.iss).getHostname(), h.split(".").size() == 3)`,
	} {
		e, err := CompileClaims(src, ResultBool)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := e.evalRule(vars); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := CompileClaims(`authorizer.path("/").check("get").allowed()`, ResultBool); err == nil {
		t.Error("authorizer available in authentication CEL")
	}
}
