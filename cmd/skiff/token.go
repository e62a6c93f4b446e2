package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	bootstraptoken "skiff/internal/auth/bootstrap"
	"skiff/internal/join"
)

// tokenCommand is `skiff token`: bootstrap tokens for joining nodes, as `kubeadm token`.
func tokenCommand() *cobra.Command {
	var kubeconfig, dataDir string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens (kube-system Secrets) that let nodes join the cluster",
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig to reach the cluster with (default <data-dir>/admin.kubeconfig)")
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "/var/lib/skiff", "the server's data directory (for the default --kubeconfig)")
	load := func() (*clientcmdConfig, error) {
		path := kubeconfig
		if path == "" {
			path = filepath.Join(dataDir, "admin.kubeconfig")
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, err
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		caPEM := cfg.CAData
		if len(caPEM) == 0 && cfg.CAFile != "" {
			if caPEM, err = os.ReadFile(cfg.CAFile); err != nil {
				return nil, err
			}
		}
		return &clientcmdConfig{client: client, server: cfg.Host, caPEM: caPEM}, nil
	}

	var opts join.TokenOptions
	var printJoin bool
	create := &cobra.Command{
		Use:   "create [token]",
		Short: "Create a bootstrap token (random unless given, <id>.<secret> as [a-z0-9]{6}.[a-z0-9]{16}) and print it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := load()
			if err != nil {
				return err
			}
			var tok join.Token
			if len(args) == 1 {
				tok, err = join.ParseToken(args[0])
			} else {
				tok, err = join.GenerateToken()
			}
			if err != nil {
				return err
			}
			secret, err := opts.Secret(tok, time.Now())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if _, err := c.client.CoreV1().Secrets(bootstraptoken.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("a token with id %q already exists", tok.ID)
				}
				return fmt.Errorf("failed to create bootstrap token with name %s: %w", secret.Name, err)
			}
			if !printJoin {
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			}
			hash, err := join.CAHashPEM(c.caPEM)
			if err != nil {
				return fmt.Errorf("the kubeconfig's CA: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "skiff agent --server %s --token %s --discovery-token-ca-cert-hash %s\n", c.server, tok, hash)
			return nil
		},
	}
	create.Flags().DurationVar(&opts.TTL, "ttl", join.DefaultTTL, "how long the token is valid (0: it never expires)")
	create.Flags().StringVar(&opts.Description, "description", "", "a human friendly description of how this token is used")
	create.Flags().StringSliceVar(&opts.Usages, "usages", join.DefaultUsages, "how the token may be used: signing (cluster-info discovery), authentication (TLS bootstrap)")
	create.Flags().StringSliceVar(&opts.Groups, "groups", []string{join.DefaultGroup}, "extra groups the token authenticates as (system:bootstrappers:...)")
	create.Flags().BoolVar(&printJoin, "print-join-command", false, "print the whole skiff agent command (--server, --token, --discovery-token-ca-cert-hash) that joins a node with this token")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := load()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			secrets, err := c.client.CoreV1().Secrets(bootstraptoken.Namespace).List(ctx, metav1.ListOptions{
				FieldSelector: "type=" + string(bootstraptoken.SecretType)})
			if err != nil {
				return fmt.Errorf("failed to list bootstrap tokens: %w", err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 10, 4, 3, ' ', 0)
			row := func(r join.TokenRow) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Token, r.TTL, r.Expires, r.Usages, r.Description, r.ExtraGroups)
			}
			row(join.ListHeader)
			now := time.Now()
			for i := range secrets.Items {
				if r, ok := join.RowFor(&secrets.Items[i], now); ok {
					row(r)
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "[token] ignoring malformed bootstrap token Secret %s\n", secrets.Items[i].Name)
				}
			}
			return w.Flush()
		},
	}

	del := &cobra.Command{
		Use:   "delete <token id or token>...",
		Short: "Delete bootstrap tokens",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := load()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			for _, a := range args {
				id := a
				if strings.Contains(a, ".") {
					tok, err := join.ParseToken(a)
					if err != nil {
						return err
					}
					id = tok.ID
				} else if !join.ValidTokenID(a) {
					return fmt.Errorf("given token id %q didn't match pattern %q", a, "[a-z0-9]{6}")
				}
				name := bootstraptoken.SecretPrefix + id
				if err := c.client.CoreV1().Secrets(bootstraptoken.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
					if apierrors.IsNotFound(err) {
						return errors.New("bootstrap token " + id + " not found")
					}
					return fmt.Errorf("failed to delete bootstrap token %q: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

type clientcmdConfig struct {
	client kubernetes.Interface
	server string
	caPEM  []byte
}
