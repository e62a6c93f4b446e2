package server

import (
	"log/slog"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/storage/encryption"
)

// loadEncryption reads --encryption-provider-config, or the default configuration in the data dir (written
// on first start with a new key), which encrypts Secrets with aesgcm.
func loadEncryption(cfg Config) (*encryption.Manager, error) {
	path := cfg.EncryptionProviderConfig
	if path == "" {
		var err error
		if path, err = encryption.EnsureDefault(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	ec, err := encryption.Load(path)
	if err != nil {
		return nil, err
	}
	slog.Info("encryption at rest", "config", path, "secrets", ec.WriteProvider(schema.GroupResource{Resource: "secrets"}),
		"automaticReload", cfg.EncryptionProviderConfigAutomaticReload)
	return encryption.NewManager(ec, path), nil
}
