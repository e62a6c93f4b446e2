package overlay

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMasqueradeScript(t *testing.T) {
	got := MasqueradeScript(netip.MustParsePrefix("10.42.3.7/24"), netip.MustParsePrefix("10.42.0.0/16"))
	if !strings.Contains(got, "ip saddr 10.42.3.0/24 ip daddr != { 10.42.0.0/16, 224.0.0.0/4 } masquerade") {
		t.Fatalf("script:\n%s", got)
	}
	// Without a cluster CIDR, only this node's subnet is pod network.
	got = MasqueradeScript(netip.MustParsePrefix("10.42.3.0/24"), netip.Prefix{})
	if !strings.Contains(got, "ip saddr 10.42.3.0/24 ip daddr != { 10.42.3.0/24, 224.0.0.0/4 } masquerade") {
		t.Fatalf("script:\n%s", got)
	}
	// A hand-set subnet outside the cluster CIDR stays pod network too.
	if got := MasqueradeScript(netip.MustParsePrefix("192.168.77.0/24"), netip.MustParsePrefix("10.42.0.0/16")); !strings.Contains(got,
		"ip saddr 192.168.77.0/24 ip daddr != { 10.42.0.0/16, 192.168.77.0/24, 224.0.0.0/4 } masquerade") {
		t.Fatalf("script:\n%s", got)
	}
	if os.Geteuid() != 0 {
		t.Skip("nft -c needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft")
	}
	cmd := exec.Command("nft", "-c", "-f", "-")
	cmd.Stdin = strings.NewReader(got)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -c: %v: %s", err, out)
	}
}
