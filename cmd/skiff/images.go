package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"skiff/internal/kubelet"
)

func imagesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "Manage the node's container images"}
	var dataDir, socket string
	imp := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import image tarballs (docker save or OCI layout) into the node's containerd",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			if socket == "" {
				socket = kubelet.ContainerdSocket(dataDir)
			}
			if err := kubelet.Import(context.Background(), socket, files...); err != nil {
				return err
			}
			fmt.Printf("imported %d file(s); copy them to %s to have them imported at every start\n", len(files), kubelet.ImagesDir(dataDir))
			return nil
		},
	}
	imp.Flags().StringVar(&dataDir, "data-dir", "/var/lib/skiff", "the server's data dir")
	imp.Flags().StringVar(&socket, "containerd-socket", "", "containerd socket (default: the one skiff starts under --data-dir)")
	cmd.AddCommand(imp)
	return cmd
}
