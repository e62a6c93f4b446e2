// Package version says which Kubernetes version skiff serves and which build this is.
package version

import (
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/version"
)

// Kubernetes is the upstream release whose API skiff serves.
const Kubernetes = "v1.37.2"

// GitCommit is stamped at build time with -ldflags -X.
var GitCommit = "unknown"

// Info is what /version answers.
func Info() version.Info {
	major, rest, _ := strings.Cut(strings.TrimPrefix(Kubernetes, "v"), ".")
	minor, _, _ := strings.Cut(rest, ".")
	return version.Info{
		Major: major, Minor: minor, GitVersion: Kubernetes + "+skiff", GitCommit: GitCommit, GitTreeState: "clean",
		BuildDate: "", GoVersion: runtime.Version(), Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}
