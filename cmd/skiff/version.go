package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"skiff/internal/version"
)

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(*cobra.Command, []string) {
			v := version.Info()
			fmt.Printf("skiff %s (commit %s, %s)\n", v.GitVersion, v.GitCommit, v.GoVersion)
		},
	}
}
