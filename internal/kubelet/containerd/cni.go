package containerd

import (
	"fmt"
	"os"
	"path/filepath"
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
