package overlay

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// MasqueradeTable is the nftables table (family ip) with the pod network's source NAT.
const MasqueradeTable = "skiff-podnet"

// MasqueradeScript renders the pod network's source NAT: pods of this node (podCIDR) leaving the cluster
// network (clusterCIDR; multicast too) appear as the node; pod to pod traffic, on this node or across the
// overlay, keeps its source address (NetworkPolicy and servers see real pod IPs). The table is replaced
// whole in one transaction.
func MasqueradeScript(podCIDR, clusterCIDR netip.Prefix) string {
	keep := []string{podCIDR.Masked().String(), "224.0.0.0/4"}
	if clusterCIDR.IsValid() && clusterCIDR.Addr().Is4() && !clusterCIDR.Contains(podCIDR.Addr()) {
		keep = append([]string{clusterCIDR.Masked().String()}, keep...) // a hand-set subnet outside the cluster's
	} else if clusterCIDR.IsValid() && clusterCIDR.Addr().Is4() {
		keep[0] = clusterCIDR.Masked().String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\ntable ip %s {\n", MasqueradeTable, MasqueradeTable, MasqueradeTable)
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %s ip daddr != { %s } masquerade\n", podCIDR.Masked(), strings.Join(keep, ", "))
	b.WriteString("\t}\n}\n")
	return b.String()
}

// ApplyMasquerade installs MasqueradeScript with nft.
func ApplyMasquerade(ctx context.Context, podCIDR, clusterCIDR netip.Prefix) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(MasqueradeScript(podCIDR, clusterCIDR))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft (table ip %s): %w: %s", MasqueradeTable, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
