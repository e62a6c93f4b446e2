package pods

import (
	"bufio"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Upstream's resolver limits (pkg/apis/core/validation): nameservers, search domains and their total length.
const (
	maxDNSNameservers     = 3
	maxDNSSearches        = 32
	maxDNSSearchListChars = 2048
)

// dnsConfig is the sandbox's resolv.conf, per dnsPolicy as upstream's kubelet makes it: ClusterFirst (not host
// network) and ClusterFirstWithHostNet get the cluster DNS, the cluster search domains before the host's and
// ndots:5; Default (and ClusterFirst on the host network, or without a cluster DNS) gets the host's resolv.conf;
// None starts empty. spec.dnsConfig is then merged in: nameservers and searches appended without duplicates,
// options overriding the same name.
func (w *worker) dnsConfig(pod *corev1.Pod) *runtimeapi.DNSConfig {
	return podDNSConfig(pod, w.cfg.ClusterDNS, w.cfg.ClusterDomain, w.cfg.ResolvConf)
}

func podDNSConfig(pod *corev1.Pod, clusterDNS []string, domain, resolvConf string) *runtimeapi.DNSConfig {
	if resolvConf == "" {
		resolvConf = "/etc/resolv.conf"
	}
	cluster := false
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
	case corev1.DNSClusterFirstWithHostNet:
		cluster = true
	case corev1.DNSDefault:
	default: // ClusterFirst, the API default
		cluster = !pod.Spec.HostNetwork
	}
	cfg := &runtimeapi.DNSConfig{}
	if pod.Spec.DNSPolicy != corev1.DNSNone {
		cfg = hostDNSConfig(resolvConf)
		if cluster && len(clusterDNS) > 0 {
			cfg.Servers = append([]string(nil), clusterDNS...)
			if domain != "" {
				cfg.Searches = unique(append([]string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}, cfg.Searches...))
			}
			cfg.Options = []string{"ndots:5"}
		}
	}
	if d := pod.Spec.DNSConfig; d != nil {
		cfg.Servers = unique(append(cfg.Servers, d.Nameservers...))
		cfg.Searches = unique(append(cfg.Searches, d.Searches...))
		cfg.Options = mergeOptions(cfg.Options, d.Options)
	}
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
	}
	if len(cfg.Searches) > maxDNSSearches {
		cfg.Searches = cfg.Searches[:maxDNSSearches]
	}
	for len(cfg.Searches) > 0 && len(strings.Join(cfg.Searches, " ")) > maxDNSSearchListChars {
		cfg.Searches = cfg.Searches[:len(cfg.Searches)-1]
	}
	return cfg
}

// hostDNSConfig reads a resolv.conf: its nameservers, the last search (or domain) line, and its options.
func hostDNSConfig(path string) *runtimeapi.DNSConfig {
	cfg := &runtimeapi.DNSConfig{}
	f, err := os.Open(path)
	if err != nil {
		return cfg
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) > 1 {
				cfg.Servers = append(cfg.Servers, fields[1])
			}
		case "search", "domain":
			cfg.Searches = nil
			for _, s := range fields[1:] {
				if s != "." {
					cfg.Searches = append(cfg.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			cfg.Options = append(cfg.Options, fields[1:]...)
		}
	}
	return cfg
}

func unique(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions adds the pod's options to the base ones; an option of the same name replaces the base one.
func mergeOptions(base []string, extra []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, opt string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = opt
	}
	for _, o := range base {
		name, _, _ := strings.Cut(o, ":")
		set(name, o)
	}
	for _, o := range extra {
		opt := o.Name
		if o.Value != nil {
			opt += ":" + *o.Value
		}
		set(o.Name, opt)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, values[n])
	}
	return out
}
