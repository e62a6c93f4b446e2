// Package profile runs one scheduling profile: its plugins at each extension point, filtering nodes in
// parallel, scoring with weights and picking the host. It implements framework.Handle for the plugins.
package profile
