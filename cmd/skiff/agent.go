package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"skiff/internal/join"
	"skiff/internal/kubelet"
	"skiff/internal/kubelet/node"
	"skiff/internal/server"
)

// agentCommand is `skiff agent`: this machine joins a cluster as a node (kubeadm join + the kubelet's TLS
// bootstrap) and runs the node agent against the remote server.
func agentCommand() *cobra.Command {
	var nc server.NodeAgentConfig
	var dataDir, serverURL, token, logLevel, clusterCIDR, clusterDNS, clusterDomain string
	var caHashes []string
	var skipCA bool
	var discoveryTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "agent --server https://HOST:PORT --token ID.SECRET --discovery-token-ca-cert-hash sha256:HEX",
		Short: "Join a cluster as a node and run its pods",
		Long: `Join a cluster as a node and run its pods (the node agent: containerd and pods, as in skiff server).

The first start needs a bootstrap token (skiff token create --print-join-command on the server prints the
whole command): the agent reads kube-public/cluster-info, checks its signature with the token and the CA
against --discovery-token-ca-cert-hash, then gets a client certificate for system:node:<name> through a
CertificateSigningRequest. Credentials are kept in <data-dir>/agent (kubelet.kubeconfig, pki/), so later
starts need no token. Both the client and the serving certificate are renewed through CSRs while it runs.

Not yet on joined nodes: the service proxy, the pod network overlay to other nodes, NetworkPolicy and the
node's cluster DNS endpoint (they need their own identities); pods use --cluster-dns if given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			klog.SetSlogLogger(slog.Default())
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()

			kcfg, err := nc.Kubelet(dataDir)
			if err != nil {
				return err
			}
			if kcfg.NodeIP == "" {
				kcfg.NodeIP = node.DefaultIP()
			}
			nodeIP := net.ParseIP(kcfg.NodeIP)
			if nodeIP == nil {
				return fmt.Errorf("--node-ip %q is not an IP address", kcfg.NodeIP)
			}
			if clusterCIDR != "" {
				if kcfg.ClusterCIDR, err = netip.ParsePrefix(clusterCIDR); err != nil {
					return fmt.Errorf("--cluster-cidr: %w", err)
				}
			}
			if clusterDNS != "" {
				if net.ParseIP(clusterDNS) == nil {
					return fmt.Errorf("--cluster-dns %q is not an IP address", clusterDNS)
				}
				kcfg.ClusterDNS = []string{clusterDNS}
			}
			kcfg.ClusterDomain = clusterDomain
			jcfg := join.Config{DataDir: dataDir, NodeName: kcfg.NodeName, ServingIPs: []net.IP{nodeIP},
				ServingDNS: servingNames(kcfg.NodeName), BootstrapTimeout: discoveryTimeout,
				Discovery: join.Discovery{Server: serverURL, CACertHashes: caHashes, UnsafeSkipCAVerification: skipCA}}
			if token != "" {
				if jcfg.Discovery.Token, err = join.ParseToken(token); err != nil {
					return err
				}
			}
			n, err := join.Join(ctx, jcfg)
			if err != nil {
				if errors.Is(err, join.ErrDiscovery) {
					return fmt.Errorf("cannot trust the cluster at %s: %w", serverURL, err)
				}
				return err
			}
			client, err := kubernetes.NewForConfig(n.Config)
			if err != nil {
				return err
			}
			kcfg.ServerTLS = n.ServerTLS
			ready := make(chan error, 1)
			done := make(chan struct{})
			go func() { kubelet.Run(ctx, client, kcfg, ready); close(done) }()
			select {
			case err := <-ready:
				if err != nil {
					return fmt.Errorf("node agent: %w", err)
				}
			case <-ctx.Done():
			}
			slog.Info("skiff agent is ready", "node", kcfg.NodeName, "server", n.Server)
			<-ctx.Done()
			slog.Info("skiff agent shutting down")
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "URL of the cluster's API server (https://host:port) to discover the cluster from")
	f.StringVar(&token, "token", "", "bootstrap token <id>.<secret> for discovery and the first client certificate (not needed once joined)")
	f.StringSliceVar(&caHashes, "discovery-token-ca-cert-hash", nil, "pin of the cluster CA: sha256:<hex of the SHA-256 of its SubjectPublicKeyInfo> (repeatable)")
	f.BoolVar(&skipCA, "discovery-token-unsafe-skip-ca-verification", false, "trust the discovered CA without --discovery-token-ca-cert-hash (anyone who can impersonate the server and knows the token could then join this node to their cluster)")
	f.DurationVar(&discoveryTimeout, "discovery-timeout", 5*time.Minute, "how long discovery and the first certificate may take")
	f.StringVar(&dataDir, "data-dir", "/var/lib/skiff", "directory for the node's credentials (agent/kubelet.kubeconfig, agent/pki), containerd and pods")
	f.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "the cluster's pod network (pods' traffic leaving it is masqueraded); as the server's --cluster-cidr")
	f.StringVar(&clusterDNS, "cluster-dns", "", "nameserver of pods with dnsPolicy ClusterFirst (\"\": the host's resolv.conf); joined nodes run no DNS endpoint yet")
	f.StringVar(&clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	addNodeAgentFlags(f, &nc)
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// servingNames are the DNS SANs of the node's serving certificate: its name and the host name.
func servingNames(nodeName string) []string {
	names := []string{nodeName}
	if h, err := os.Hostname(); err == nil && h != "" && h != nodeName {
		names = append(names, h)
	}
	return names
}
