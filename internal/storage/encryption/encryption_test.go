package encryption

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/storage"
)

var (
	key16 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key32 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	keyB  = base64.StdEncoding.EncodeToString([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"))
)

var secrets = schema.GroupResource{Resource: "secrets"}

// configOf builds a configuration for secrets with the given providers (YAML list items).
func configOf(t testing.TB, providers ...string) *Config {
	t.Helper()
	y := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
	for _, p := range providers {
		y += "  - " + p + "\n"
	}
	cfg, err := Parse([]byte(y))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, y)
	}
	return cfg
}

func gcm(names ...string) string {
	var ks []string
	for _, n := range names {
		k := key32
		if n == "b" {
			k = keyB
		}
		ks = append(ks, fmt.Sprintf("{name: %s, secret: %s}", n, k))
	}
	return "aesgcm: {keys: [" + strings.Join(ks, ", ") + "]}"
}

func TestRoundTripEveryProvider(t *testing.T) {
	plain := []byte("k8s\x00 a secret value")
	for _, tc := range []struct{ provider, prefix string }{
		{"aesgcm: {keys: [{name: k1, secret: " + key16 + "}]}", "k8s:enc:aesgcm:v1:k1:"},
		{"aesgcm: {keys: [{name: k1, secret: " + key32 + "}]}", "k8s:enc:aesgcm:v1:k1:"},
		{"aescbc: {keys: [{name: k2, secret: " + key32 + "}]}", "k8s:enc:aescbc:v1:k2:"},
		{"secretbox: {keys: [{name: k3, secret: " + key32 + "}]}", "k8s:enc:secretbox:v1:k3:"},
		{"identity: {}", ""},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			tr := configOf(t, tc.provider).For(secrets)
			stored, err := tr.ToStorage(plain, "/registry/secrets/default/a")
			if err != nil {
				t.Fatal(err)
			}
			if tc.prefix == "" {
				if !bytes.Equal(stored, plain) {
					t.Fatalf("identity changed the value: %q", stored)
				}
			} else if !bytes.HasPrefix(stored, []byte(tc.prefix)) || bytes.Contains(stored, []byte("secret value")) {
				t.Fatalf("stored %q, want prefix %q and no plaintext", stored, tc.prefix)
			}
			got, stale, err := tr.FromStorage(stored, "/registry/secrets/default/a")
			if err != nil || stale || !bytes.Equal(got, plain) {
				t.Fatalf("read back %q stale=%v err=%v", got, stale, err)
			}
		})
	}
}

func TestGCMBindsTheKey(t *testing.T) {
	tr := configOf(t, gcm("a")).For(secrets)
	stored, _ := tr.ToStorage([]byte("x"), "/registry/secrets/default/a")
	if _, _, err := tr.FromStorage(stored, "/registry/secrets/default/b"); err == nil {
		t.Fatal("a value copied under another key decrypted")
	}
}

func TestRotationStaleness(t *testing.T) {
	old := configOf(t, gcm("a"), "identity: {}").For(secrets)
	plainStored := []byte("k8s\x00plain")
	storedA, _ := old.ToStorage([]byte("v"), "k")

	// Step 1: the new key is added after the old one: it reads nothing yet, the old one still writes.
	// Step 2: the new key is first: values of the old key are stale, unprefixed plaintext too.
	rotated := configOf(t, gcm("b", "a"), "identity: {}").For(secrets)
	if _, stale, err := rotated.FromStorage(storedA, "k"); err != nil || !stale {
		t.Fatalf("old-key value: stale=%v err=%v, want stale", stale, err)
	}
	if got, stale, err := rotated.FromStorage(plainStored, "k"); err != nil || !stale || !bytes.Equal(got, plainStored) {
		t.Fatalf("plaintext value: %q stale=%v err=%v", got, stale, err)
	}
	storedB, _ := rotated.ToStorage([]byte("v"), "k")
	if !bytes.HasPrefix(storedB, []byte("k8s:enc:aesgcm:v1:b:")) {
		t.Fatalf("rotated write %q", storedB)
	}
	// Step 3: the old key is removed: its values no longer read, with an error naming the key.
	final := configOf(t, gcm("b")).For(secrets)
	if _, _, err := final.FromStorage(storedA, "k"); err == nil || !strings.Contains(err.Error(), "k8s:enc:aesgcm:v1:a") {
		t.Fatalf("old key removed: err=%v", err)
	}
	if _, stale, err := final.FromStorage(storedB, "k"); err != nil || stale {
		t.Fatalf("new-key value: stale=%v err=%v", stale, err)
	}
	// identity first: encrypted values are read and stale (decrypting back to plaintext).
	decrypt := configOf(t, "identity: {}", gcm("b")).For(secrets)
	if _, stale, err := decrypt.FromStorage(storedB, "k"); err != nil || !stale {
		t.Fatalf("identity first: stale=%v err=%v", stale, err)
	}
	// A resource no entry names is identity, which refuses encrypted values.
	if _, _, err := (storage.Identity{}).FromStorage(storedB, "k"); err == nil {
		t.Fatal("identity read an encrypted value")
	}
}

func TestResourceMatching(t *testing.T) {
	cfg, err := Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets, deployments.apps]
  providers: [{` + gcm("a") + `}]
- resources: ["*."]
  providers: [{secretbox: {keys: [{name: s, secret: ` + key32 + `}]}}]
- resources: ["*.*"]
  providers: [{aescbc: {keys: [{name: c, secret: ` + key32 + `}]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for gr, want := range map[schema.GroupResource]string{
		secrets:                                  "aesgcm:a",
		{Group: "apps", Resource: "deployments"}: "aesgcm:a",
		{Resource: "configmaps"}:                 "secretbox:s",
		{Group: "batch", Resource: "jobs"}:       "aescbc:c",
	} {
		if got := cfg.WriteProvider(gr); got != want {
			t.Errorf("%s: %s, want %s", gr, got, want)
		}
	}
}

func TestBadConfigs(t *testing.T) {
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
	for name, tc := range map[string]struct{ yaml, want string }{
		"wrong kind":       {"apiVersion: v1\nkind: EncryptionConfig\nresources: []", "apiVersion/kind"},
		"no resources":     {head + "resources: []", "resources: Required"},
		"no providers":     {head + "resources: [{resources: [secrets], providers: []}]", "providers: Required"},
		"two in one":       {head + "resources: [{resources: [secrets], providers: [{identity: {}, " + gcm("a") + "}]}]", "exactly one provider"},
		"short gcm key":    {head + "resources: [{resources: [secrets], providers: [{aesgcm: {keys: [{name: a, secret: YWJj}]}}]}]", "expected length"},
		"cbc 16 bytes":     {head + "resources: [{resources: [secrets], providers: [{aescbc: {keys: [{name: a, secret: " + key16 + "}]}}]}]", "expected length"},
		"not base64":       {head + "resources: [{resources: [secrets], providers: [{aesgcm: {keys: [{name: a, secret: '!!'}]}}]}]", "base64"},
		"duplicate key":    {head + "resources: [{resources: [secrets], providers: [{" + gcm("a", "a") + "}]}]", "Duplicate"},
		"kms":              {head + "resources: [{resources: [secrets], providers: [{kms: {name: x}}]}]", "KMS"},
		"uppercase":        {head + "resources: [{resources: [Secrets], providers: [{identity: {}}]}]", "lowercase"},
		"unknown field":    {head + "resources: [{resources: [secrets], providers: [{aesgcm: {keyz: []}}]}]", "unknown field"},
		"duplicate secret": {head + "resources: [{resources: [secrets, secrets], providers: [{identity: {}}]}]", "Duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), key32) {
				t.Fatalf("the error shows a key: %v", err)
			}
		})
	}
}

func TestDefaultAndReload(t *testing.T) {
	dir := t.TempDir()
	path, err := EnsureDefault(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("default config: %v mode %v", err, st.Mode())
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WriteProvider(secrets); got != "aesgcm:key1" {
		t.Fatalf("default writes with %s", got)
	}
	if again, _ := EnsureDefault(dir); again != path {
		t.Fatal("second start wrote another file")
	}
	m := NewManager(cfg, path)
	tr := m.For(secrets)
	stored, _ := tr.ToStorage([]byte("v"), "k")
	if changed, err := m.Reload(); changed || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", changed, err)
	}
	if err := os.WriteFile(path, []byte("kind: nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(); err == nil {
		t.Fatal("a bad file was accepted")
	}
	y := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{identity: {}}]\n"
	if err := os.WriteFile(filepath.Join(dir, "encryption", "config.yaml"), []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if out, _ := tr.ToStorage([]byte("v"), "k"); string(out) != "v" {
		t.Fatalf("after reload to identity the store still encrypts: %q", out)
	}
	if _, _, err := tr.FromStorage(stored, "k"); err == nil {
		t.Fatal("identity-only config read a value of a removed key")
	}
}

// BenchmarkTransformer measures the cost encryption adds to each write (ToStorage) and read (FromStorage) of
// a typical 1 KiB Secret.
func BenchmarkTransformer(b *testing.B) {
	plain := bytes.Repeat([]byte("s"), 1024)
	for _, p := range []string{"identity: {}", gcm("a"), "aescbc: {keys: [{name: a, secret: " + key32 + "}]}",
		"secretbox: {keys: [{name: a, secret: " + key32 + "}]}"} {
		tr := configOf(b, p).For(secrets)
		name := strings.SplitN(p, ":", 2)[0]
		stored, _ := tr.ToStorage(plain, "/registry/secrets/default/a")
		b.Run(name+"/write", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				if _, err := tr.ToStorage(plain, "/registry/secrets/default/a"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/read", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				if _, _, err := tr.FromStorage(stored, "/registry/secrets/default/a"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
