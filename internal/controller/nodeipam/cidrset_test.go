package nodeipam

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCIDRSetAllocates(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Prefix]bool{netip.MustParsePrefix("10.42.0.0/24"): true, netip.MustParsePrefix("10.42.2.0/24"): true}
	isUsed := func(p netip.Prefix) bool { return used[p] }
	for _, want := range []string{"10.42.1.0/24", "10.42.3.0/24", "10.42.4.0/24"} {
		p, err := s.Allocate(isUsed)
		if err != nil || p.String() != want {
			t.Fatalf("Allocate = %v, %v; want %s", p, err, want)
		}
		used[p] = true
	}
	// Round robin: a subnet freed behind the cursor is not reused before the others.
	delete(used, netip.MustParsePrefix("10.42.1.0/24"))
	if p, _ := s.Allocate(isUsed); p.String() != "10.42.5.0/24" {
		t.Fatalf("after a release got %v, want 10.42.5.0/24", p)
	}
}

func TestCIDRSetFullAndWraps(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("10.0.0.0/30"), 31)
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Prefix]bool{}
	for range 2 {
		p, err := s.Allocate(func(p netip.Prefix) bool { return used[p] })
		if err != nil {
			t.Fatal(err)
		}
		used[p] = true
	}
	if _, err := s.Allocate(func(p netip.Prefix) bool { return used[p] }); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	delete(used, netip.MustParsePrefix("10.0.0.0/31"))
	if p, err := s.Allocate(func(p netip.Prefix) bool { return used[p] }); err != nil || p.String() != "10.0.0.0/31" {
		t.Fatalf("wrap-around got %v %v", p, err)
	}
}

func TestCIDRSetIPv6AndChecks(t *testing.T) {
	s, err := NewCIDRSet(netip.MustParsePrefix("fd00:42::/56"), 64)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Allocate(func(netip.Prefix) bool { return false })
	q, _ := s.Allocate(func(netip.Prefix) bool { return false })
	if p.String() != "fd00:42::/64" || q.String() != "fd00:42:0:1::/64" {
		t.Fatalf("got %v %v", p, q)
	}
	for _, bad := range []struct {
		cidr string
		mask int
	}{{"10.42.0.0/16", 15}, {"10.42.0.0/16", 33}, {"10.0.0.0/8", 25}} {
		if _, err := NewCIDRSet(netip.MustParsePrefix(bad.cidr), bad.mask); err == nil {
			t.Errorf("NewCIDRSet(%s, %d) accepted", bad.cidr, bad.mask)
		}
	}
	if !s.Owns(netip.MustParsePrefix("fd00:42:0:7::/64")) || s.Owns(netip.MustParsePrefix("fd00:43::/64")) || s.Owns(netip.MustParsePrefix("fd00:42::/60")) {
		t.Error("Owns wrong")
	}
}
