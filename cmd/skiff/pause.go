package main

import (
	"os"
	"os/signal"
	"syscall"
)

// runPause is the sandbox's pause process when skiff was built without its small pause binary: hold the pod's
// namespaces, reap orphaned children, exit on SIGTERM or SIGINT.
func runPause() int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		return 0
	}
	return 0
}
