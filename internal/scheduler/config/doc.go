// Package config reads the scheduler configuration in upstream's KubeSchedulerConfiguration format
// (kubescheduler.config.k8s.io/v1) and turns it into profiles. It accepts only what skiff implements: every
// other field, plugin or extension point is refused with an error naming it, never silently ignored.
package config
