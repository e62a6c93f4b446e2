package containerd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// CNIConfDir returns the directory containerd reads pod network configurations from.
func (c *Containerd) CNIConfDir() string { return c.cfg.CNIConfDir }

// WriteBridgeConfig writes a single-node pod network: a Linux bridge that is the pods' gateway, with
// masquerading for traffic leaving the node, hairpin mode (a pod reaching itself through a Service), host-local
// addresses from subnet, and portmap for hostPort. Multi-node routing arrives with the networking work.
func WriteBridgeConfig(confDir, bridge, subnet, ipamDataDir string) error {
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "skiff",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, bridge, subnet, ipamDataDir)
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(confDir, "10-skiff.conflist")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// EnsureBridgeSubnet removes the pod bridge when it carries an address outside podCIDR: the node's pod subnet
// changed (a re-created Node, a different --pod-cidr), and the bridge plugin would refuse every new pod on it.
// Pods still attached to the old bridge lose their network; their addresses were not this node's anymore.
func EnsureBridgeSubnet(bridge string, podCIDR netip.Prefix) error {
	link, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil // no bridge yet: the first pod creates it
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && !podCIDR.Contains(ip.Unmap()) {
			slog.Warn("pod bridge has an address outside this node's pod subnet; removing it", "bridge", bridge, "address", a.IPNet.String(), "podCIDR", podCIDR.String())
			return netlink.LinkDel(link)
		}
	}
	return nil
}
