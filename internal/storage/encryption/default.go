package encryption

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultPath is where skiff keeps its generated configuration, under the data dir.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "encryption", "config.yaml") }

// EnsureDefault returns the default configuration file, writing it on first start: Secrets encrypted with
// aesgcm under a fresh random 32-byte key, and identity after it so Secrets written before still read. The
// operator may edit it like any EncryptionConfiguration (rotation: see README).
func EnsureDefault(dataDir string) (string, error) {
	path := DefaultPath(dataDir)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	body := fmt.Sprintf(`# Written by skiff on first start: Secrets are encrypted at rest with this key (AES-GCM).
# Keep a copy of this file: without the key, the Secrets in etcd cannot be read.
# Edit it as an upstream EncryptionConfiguration; skiff reads it at start (see README, "Encryption at rest").
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: %s
      - identity: {}
`, base64.StdEncoding.EncodeToString(key))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}
