package pods

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"plain": "plain", "$(A)": "1", "x$(B)y": "xtwoy", "$(C)": "$(C)", "$$(A)": "$(A)", "$": "$", "$(A": "$(A", "a$b": "a$b",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
