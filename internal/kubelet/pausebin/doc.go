// Package pausebin carries the pause binary (built from test/images/pause by `make build`) inside skiff, so
// the sandbox image is available offline. A skiff built without it (plain `go build`) uses itself as pause.
package pausebin

import (
	"embed"
	"io/fs"
)

//go:embed all:bin
var files embed.FS

// Binary returns the embedded pause binary, or nil when this build has none.
func Binary() []byte {
	b, err := fs.ReadFile(files, "bin/pause")
	if err != nil {
		return nil
	}
	return b
}
