package policy

import (
	"net/netip"
	"testing"
)

func set(prefixes ...string) AddrSet {
	var s AddrSet
	for _, p := range prefixes {
		s = append(s, prefixRange(netip.MustParsePrefix(p)))
	}
	return Union(s)
}

func TestAddrSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  AddrSet
		want string
	}{
		{"prefix", set("10.0.0.0/8"), "10.0.0.0-10.255.255.255"},
		{"host", set("10.42.0.5/32"), "10.42.0.5"},
		{"everything", set("0.0.0.0/0"), "0.0.0.0-255.255.255.255"},
		{"adjacent merge", set("10.0.0.0/25", "10.0.0.128/25"), "10.0.0.0-10.0.0.255"},
		{"overlap merge", set("10.0.0.0/24", "10.0.0.5/32", "10.0.1.0/32"), "10.0.0.0-10.0.1.0"},
		{"disjoint sorted", set("10.0.2.0/32", "10.0.0.0/32"), "10.0.0.0, 10.0.2.0"},
		{"except middle", set("10.0.0.0/24").Minus(set("10.0.0.128/26")), "10.0.0.0-10.0.0.127, 10.0.0.192-10.0.0.255"},
		{"except start and end", set("10.0.0.0/24").Minus(set("10.0.0.0/30", "10.0.0.255/32")), "10.0.0.4-10.0.0.254"},
		{"except all", set("10.0.0.0/24").Minus(set("10.0.0.0/16")), ""},
		{"except outside", set("10.0.0.0/24").Minus(set("10.1.0.0/16")), "10.0.0.0-10.0.0.255"},
		{"except host of everything", set("0.0.0.0/0").Minus(set("10.42.0.7/32")), "0.0.0.0-10.42.0.6, 10.42.0.8-255.255.255.255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s := tc.got.String(); s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
	s := set("10.0.0.0/24").Minus(set("10.0.0.7/32"))
	if !s.Contains(netip.MustParseAddr("10.0.0.6")) || s.Contains(netip.MustParseAddr("10.0.0.7")) || s.Contains(netip.MustParseAddr("10.0.1.0")) {
		t.Fatalf("Contains on %s", s)
	}
}
