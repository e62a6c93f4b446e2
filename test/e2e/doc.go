// Package e2e holds the end-to-end tests: each starts real `skiff server` processes (see framework) and drives
// them with upstream kubectl and client-go, as a user would.
package e2e
