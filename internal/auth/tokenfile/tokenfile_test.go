package tokenfile

import (
	"context"
	"strings"
	"testing"
)

func TestParseAndAuthenticate(t *testing.T) {
	a, err := Parse(strings.NewReader(`abc123,alice,uid-1,"dev,ops"
def456,bob,uid-2
,empty,uid-3
ghi789,carol,uid-4,,extra-column
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token, user, uid, groups string
		ok                       bool
	}{
		{"abc123", "alice", "uid-1", "dev,ops", true},
		{"def456", "bob", "uid-2", "", true},
		{"ghi789", "carol", "uid-4", "", true},
		{"nope", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tc := range cases {
		u, ok, err := a.AuthenticateToken(context.Background(), tc.token)
		if err != nil || ok != tc.ok {
			t.Fatalf("%q: ok=%v err=%v", tc.token, ok, err)
		}
		if ok && (u.Name != tc.user || u.UID != tc.uid || strings.Join(u.Groups, ",") != tc.groups) {
			t.Fatalf("%q: got %+v", tc.token, u)
		}
	}
	// The stored user is not shared with callers.
	u, _, _ := a.AuthenticateToken(context.Background(), "abc123")
	u.Groups = append(u.Groups, "system:authenticated")
	u2, _, _ := a.AuthenticateToken(context.Background(), "abc123")
	if len(u2.Groups) != 2 {
		t.Fatalf("groups leaked between requests: %v", u2.Groups)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"token,user\n", "\"unterminated,user,uid\n"} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("abc,alice,uid,\"a,b\"\n")
	f.Add("\"x\"\"y\",u,i\n,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		if a, err := Parse(strings.NewReader(in)); err == nil {
			for tok := range a.tokens {
				if _, ok, _ := a.AuthenticateToken(context.Background(), tok); !ok {
					t.Fatalf("token %q listed but refused", tok)
				}
			}
		}
	})
}
