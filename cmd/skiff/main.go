// Command skiff is Kubernetes in one binary: `skiff server` runs the control plane, `skiff kubectl` is upstream
// kubectl pointed at it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func main() {
	if filepath.Base(os.Args[0]) == "pause" {
		os.Exit(runPause())
	}
	// kubectl parses its own flags: hand it the arguments untouched.
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Kubernetes in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCommand(), agentCommand(), tokenCommand(), kubectlCommand(), versionCommand(), imagesCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
