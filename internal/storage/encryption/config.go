package encryption

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"skiff/internal/storage"
)

// EncryptionConfiguration is upstream's apiserver.config.k8s.io/v1 EncryptionConfiguration.
type EncryptionConfiguration struct {
	APIVersion string                  `json:"apiVersion"`
	Kind       string                  `json:"kind"`
	Resources  []ResourceConfiguration `json:"resources"`
}

// ResourceConfiguration lists resources ("secrets", "deployments.apps", "*.apps", "*.", "*.*") and the
// providers that store them, the first one writing.
type ResourceConfiguration struct {
	Resources []string                `json:"resources"`
	Providers []ProviderConfiguration `json:"providers"`
}

// ProviderConfiguration sets exactly one provider.
type ProviderConfiguration struct {
	AESGCM    *KeysConfiguration `json:"aesgcm,omitempty"`
	AESCBC    *KeysConfiguration `json:"aescbc,omitempty"`
	Secretbox *KeysConfiguration `json:"secretbox,omitempty"`
	Identity  *struct{}          `json:"identity,omitempty"`
	// KMS is parsed only to be refused with a clear error.
	KMS *struct {
		Name string `json:"name"`
	} `json:"kms,omitempty"`
}

// KeysConfiguration is upstream's AESConfiguration and SecretboxConfiguration.
type KeysConfiguration struct {
	Keys []Key `json:"keys"`
}

// Key is a named key, base64 in the file.
type Key struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

const (
	apiVersion = "apiserver.config.k8s.io/v1"
	kind       = "EncryptionConfiguration"
)

// Config is a loaded configuration: which transformer stores which resource.
type Config struct {
	entries []entry
	// Hash identifies the file's content (reloads skip an unchanged file).
	Hash [32]byte
}

type entry struct {
	group, resource string // "*" matches any
	t               *transformer
}

// Load reads and checks an EncryptionConfiguration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config %s: %w", path, err)
	}
	cfg.Hash = sha256.Sum256(data)
	return cfg, nil
}

// Parse checks an EncryptionConfiguration and builds its transformers.
func Parse(data []byte) (*Config, error) {
	var ec EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &ec); err != nil {
		return nil, err
	}
	if ec.APIVersion != apiVersion || ec.Kind != kind {
		return nil, fmt.Errorf("apiVersion/kind must be %s/%s, not %q/%q", apiVersion, kind, ec.APIVersion, ec.Kind)
	}
	if len(ec.Resources) == 0 {
		return nil, errors.New("resources: Required value: at least one resource configuration is needed")
	}
	cfg := &Config{}
	seen := map[string]bool{}
	for i, rc := range ec.Resources {
		path := fmt.Sprintf("resources[%d]", i)
		if len(rc.Resources) == 0 {
			return nil, fmt.Errorf("%s.resources: Required value: at least one resource is needed", path)
		}
		t, err := newTransformer(rc.Providers, path+".providers")
		if err != nil {
			return nil, err
		}
		for j, r := range rc.Resources {
			g, res, err := parseResource(r)
			if err != nil {
				return nil, fmt.Errorf("%s.resources[%d]: %w", path, j, err)
			}
			if seen[r] {
				return nil, fmt.Errorf("%s.resources[%d]: Duplicate value: %q", path, j, r)
			}
			seen[r] = true
			cfg.entries = append(cfg.entries, entry{group: g, resource: res, t: t})
		}
	}
	return cfg, nil
}

// parseResource reads "secrets" (core), "deployments.apps", "*.apps", "*." (every core resource) or "*.*".
func parseResource(s string) (group, resource string, err error) {
	if s == "" || s != strings.ToLower(s) {
		return "", "", fmt.Errorf("Invalid value: %q: resource names must be lowercase and not empty", s)
	}
	if s == "*" {
		return "", "", fmt.Errorf("Invalid value: %q: use \"*.\" for every core resource or \"*.*\" for every resource", s)
	}
	resource, group, _ = strings.Cut(s, ".")
	if strings.Contains(resource, "*") && resource != "*" {
		return "", "", fmt.Errorf("Invalid value: %q: only a whole resource name may be a wildcard", s)
	}
	if strings.Contains(group, "*") && group != "*" {
		return "", "", fmt.Errorf("Invalid value: %q: only a whole group name may be a wildcard", s)
	}
	if group == "*" && resource != "*" {
		return "", "", fmt.Errorf("Invalid value: %q: a wildcard group needs a wildcard resource (\"*.*\")", s)
	}
	return group, resource, nil
}

// For returns the transformer of a resource: the first entry naming it (exactly, then by wildcard, in file
// order), or identity.
func (c *Config) For(gr schema.GroupResource) storage.Transformer {
	if c == nil {
		return storage.Identity{}
	}
	for _, e := range c.entries {
		if (e.group == "*" || e.group == gr.Group) && (e.resource == "*" || e.resource == gr.Resource) {
			return e.t
		}
	}
	return storage.Identity{}
}

// WriteProvider names what writes gr's values ("aesgcm:key1", or "identity").
func (c *Config) WriteProvider(gr schema.GroupResource) string {
	if t, ok := c.For(gr).(*transformer); ok {
		return t.providers[0].name
	}
	return "identity"
}

func decodeKeys(kc *KeysConfiguration, kindName, path string, sizes ...int) ([]Key, [][]byte, error) {
	if kc == nil || len(kc.Keys) == 0 {
		return nil, nil, fmt.Errorf("%s.%s.keys: Required value: at least one key is needed", path, kindName)
	}
	names := map[string]bool{}
	var secrets [][]byte
	for i, k := range kc.Keys {
		kp := fmt.Sprintf("%s.%s.keys[%d]", path, kindName, i)
		if k.Name == "" {
			return nil, nil, fmt.Errorf("%s.name: Required value: key name is required", kp)
		}
		if strings.Contains(k.Name, ":") {
			return nil, nil, fmt.Errorf("%s.name: Invalid value: %q: should not contain ':'", kp, k.Name)
		}
		if names[k.Name] {
			return nil, nil, fmt.Errorf("%s.name: Duplicate value: %q", kp, k.Name)
		}
		names[k.Name] = true
		if k.Secret == "" {
			return nil, nil, fmt.Errorf("%s.secret: Required value: secret is required", kp)
		}
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.secret: Invalid value: REDACTED: secrets must be base64 encoded", kp)
		}
		ok := false
		for _, n := range sizes {
			ok = ok || len(secret) == n
		}
		if !ok {
			return nil, nil, fmt.Errorf("%s.secret: Invalid value: REDACTED: secret is not of the expected length, got %d, expected one of %v", kp, len(secret), sizes)
		}
		secrets = append(secrets, secret)
	}
	return kc.Keys, secrets, nil
}
