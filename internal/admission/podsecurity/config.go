package podsecurity

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Configuration is upstream's PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1, v1beta1 and
// v1alpha1 read alike): the policy of namespaces without labels, and the requests that are never checked.
type Configuration struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Defaults   struct {
		Enforce        string `json:"enforce"`
		EnforceVersion string `json:"enforce-version"`
		Audit          string `json:"audit"`
		AuditVersion   string `json:"audit-version"`
		Warn           string `json:"warn"`
		WarnVersion    string `json:"warn-version"`
	} `json:"defaults"`
	Exemptions struct {
		Usernames      []string `json:"usernames"`
		RuntimeClasses []string `json:"runtimeClasses"`
		Namespaces     []string `json:"namespaces"`
	} `json:"exemptions"`
}

// LoadConfig reads a PodSecurityConfiguration, bare or inside an AdmissionConfiguration (apiserver.config.k8s.io)
// as the PodSecurity plugin's configuration.
func LoadConfig(path string) (*Configuration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data)
}

// ParseConfig parses a configuration file's contents.
func ParseConfig(data []byte) (*Configuration, error) {
	var head struct {
		Kind    string `json:"kind"`
		Plugins []struct {
			Name          string          `json:"name"`
			Configuration *map[string]any `json:"configuration"`
		} `json:"plugins"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	if head.Kind == "AdmissionConfiguration" {
		found := false
		for _, p := range head.Plugins {
			if p.Name == "PodSecurity" && p.Configuration != nil {
				var err error
				if data, err = yaml.Marshal(*p.Configuration); err != nil {
					return nil, err
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("pod security configuration: AdmissionConfiguration has no PodSecurity plugin configuration")
		}
	}
	var c Configuration
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("pod security configuration: %w", err)
	}
	if c.Kind != "PodSecurityConfiguration" {
		return nil, fmt.Errorf("pod security configuration: kind %q, want PodSecurityConfiguration", c.Kind)
	}
	switch c.APIVersion {
	case "pod-security.admission.config.k8s.io/v1", "pod-security.admission.config.k8s.io/v1beta1", "pod-security.admission.config.k8s.io/v1alpha1":
	default:
		return nil, fmt.Errorf("pod security configuration: apiVersion %q, want pod-security.admission.config.k8s.io/v1", c.APIVersion)
	}
	if _, err := c.Policy(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Policy returns the defaults as a policy; unset levels are privileged and unset versions latest.
func (c *Configuration) Policy() (Policy, error) {
	p := Policy{Enforce: LevelVersion{Level: Privileged}, Audit: LevelVersion{Level: Privileged}, Warn: LevelVersion{Level: Privileged}}
	for _, f := range []struct {
		name, level, version string
		dst                  *LevelVersion
	}{
		{"enforce", c.Defaults.Enforce, c.Defaults.EnforceVersion, &p.Enforce},
		{"audit", c.Defaults.Audit, c.Defaults.AuditVersion, &p.Audit},
		{"warn", c.Defaults.Warn, c.Defaults.WarnVersion, &p.Warn},
	} {
		if f.level != "" {
			l, err := ParseLevel(f.level)
			if err != nil {
				return p, fmt.Errorf("pod security configuration: defaults.%s: %v", f.name, err)
			}
			f.dst.Level = l
		}
		if f.version != "" {
			v, err := ParseVersion(f.version)
			if err != nil {
				return p, fmt.Errorf("pod security configuration: defaults.%s-version: %v", f.name, err)
			}
			f.dst.Version = v
		}
	}
	return p, nil
}
