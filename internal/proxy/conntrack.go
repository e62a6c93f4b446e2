package proxy

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Flush is one set of stale UDP conntrack entries to delete. UDP has no connection end, so an entry keeps
// sending a client's datagrams where the first one went: to an endpoint that is gone, or (for a Service that
// had no endpoints) to the reject. Upstream kube-proxy deletes the same entries.
type Flush struct {
	VIP netip.AddrPort // original destination (ClusterIP:port)
	// Endpoint, when valid, limits the flush to entries DNATed to it; otherwise all entries for VIP go.
	Endpoint netip.Addr
}

// StaleUDP compares two syncs' Services: UDP endpoints that went away, and UDP Services that got their
// first endpoint, have conntrack entries to flush.
func StaleUDP(prev, next []Service) []Flush {
	old := map[string]Service{}
	for _, s := range prev {
		old[s.Name] = s
	}
	var out []Flush
	for _, s := range next {
		if s.Protocol != corev1.ProtocolUDP {
			continue
		}
		vip := netip.AddrPortFrom(s.ClusterIP, uint16(s.Port))
		p, seen := old[s.Name]
		if seen && len(p.Endpoints) == 0 && len(s.Endpoints) > 0 {
			out = append(out, Flush{VIP: vip})
			continue
		}
		still := map[netip.Addr]bool{}
		for _, ep := range s.Endpoints {
			still[ep.Addr()] = true
		}
		for _, ep := range p.Endpoints {
			if !still[ep.Addr()] && p.ClusterIP == s.ClusterIP {
				out = append(out, Flush{VIP: vip, Endpoint: ep.Addr()})
			}
		}
	}
	return out
}

// ErrNoConntrackTool says the conntrack tool is not installed: stale UDP entries stay until they time out.
var ErrNoConntrackTool = errors.New("conntrack tool not found")

// FlushConntrack deletes the entries with the conntrack tool; "no entries" is not an error.
func FlushConntrack(ctx context.Context, f Flush) error {
	if _, err := exec.LookPath("conntrack"); err != nil {
		return ErrNoConntrackTool
	}
	args := []string{"-D", "-p", "udp", "--orig-dst", f.VIP.Addr().String(), "--orig-port-dst", strconv.Itoa(int(f.VIP.Port()))}
	if f.Endpoint.IsValid() {
		args = append(args, "--dst-nat", f.Endpoint.String())
	}
	err := exec.CommandContext(ctx, "conntrack", args...).Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
		return nil // conntrack exits 1 when nothing matched
	}
	return err
}
