package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"skiff/test/e2e/framework"
)

// etcdValue reads one key straight from the cluster's etcd, as `etcdctl get` would.
func etcdValue(t *testing.T, c *framework.Cluster, key string) []byte {
	t.Helper()
	vals := etcdValues(t, c, key, false)
	if len(vals) != 1 {
		t.Fatalf("etcd has no %s", key)
	}
	return vals[key]
}

// etcdValues reads a key, or every key under a prefix, straight from etcd.
func etcdValues(t *testing.T, c *framework.Cluster, key string, prefix bool) map[string][]byte {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.EtcdEndpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	resp, err := cli.Get(context.Background(), key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// secretValue is a secret's key as kubectl returns it (decoded from base64).
func secretValue(t *testing.T, c *framework.Cluster, name, key string) string {
	t.Helper()
	b64 := kubectl(t, c, "get", "secret", name, "-o", "jsonpath={.data."+key+"}")
	v, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("secret %s: %v", name, err)
	}
	return string(v)
}

// TestEncryptionAtRest: with no configuration, Secrets are encrypted with aesgcm under a key generated into
// the data dir; etcd holds ciphertext, the API plaintext; ConfigMaps stay plain. Then the documented key
// rotation: add a key, make it first, rewrite every Secret, remove the old key.
func TestEncryptionAtRest(t *testing.T) {
	c := framework.Start(t, framework.Options{})
	cfgPath := filepath.Join(c.DataDir, "encryption", "config.yaml")
	st, err := os.Stat(cfgPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("default encryption config: %v %v", err, st)
	}
	kubectl(t, c, "create", "secret", "generic", "s1", "--from-literal=password=hunter2-plaintext")
	kubectl(t, c, "create", "configmap", "cm1", "--from-literal=note=plain-note")
	v := etcdValue(t, c, "/registry/secrets/default/s1")
	if !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:key1:")) || bytes.Contains(v, []byte("hunter2")) {
		t.Fatalf("etcd holds %q", v)
	}
	if v := etcdValue(t, c, "/registry/configmaps/default/cm1"); !bytes.Contains(v, []byte("plain-note")) {
		t.Fatalf("configmap not stored plain: %q", v)
	}
	if got := secretValue(t, c, "s1", "password"); got != "hunter2-plaintext" {
		t.Fatalf("kubectl reads %q", got)
	}
	// LIST from etcd and the watch cache both decrypt.
	mustContain(t, kubectl(t, c, "get", "secrets", "-o", "yaml"), base64.StdEncoding.EncodeToString([]byte("hunter2-plaintext")))
	mustContain(t, kubectl(t, c, "get", "secrets", "--chunk-size=1", "-o", "yaml"), base64.StdEncoding.EncodeToString([]byte("hunter2-plaintext")))

	orig, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	oldKey := keyLine(t, string(orig))
	newKey := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	writeEnc := func(keys ...string) {
		t.Helper()
		y := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aesgcm:\n          keys:\n"
		for _, k := range keys {
			secret := oldKey
			if k == "key2" {
				secret = newKey
			}
			y += "            - {name: " + k + ", secret: " + secret + "}\n"
		}
		y += "      - identity: {}\n"
		if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		c.Restart(t)
	}
	// 1. The new key is added second: it reads, key1 still writes.
	writeEnc("key1", "key2")
	kubectl(t, c, "create", "secret", "generic", "s2", "--from-literal=password=second")
	if v := etcdValue(t, c, "/registry/secrets/default/s2"); !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("step 1 wrote %q", v[:24])
	}
	// 2. The new key first: new writes use it, old values still read.
	writeEnc("key2", "key1")
	if got := secretValue(t, c, "s1", "password"); got != "hunter2-plaintext" {
		t.Fatalf("step 2 reads %q", got)
	}
	// 3. Rewrite every Secret (unchanged objects are rewritten because their value is stale).
	all := kubectl(t, c, "get", "secrets", "-A", "-o", "json")
	kubectlIn(t, c, all, "replace", "-f", "-")
	for k, v := range etcdValues(t, c, "/registry/secrets/", true) {
		if !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:key2:")) {
			t.Fatalf("%s not rewritten with key2: %q", k, v[:min(len(v), 24)])
		}
	}
	// 4. The old key is removed: everything still reads.
	writeEnc("key2")
	if got := secretValue(t, c, "s1", "password"); got != "hunter2-plaintext" {
		t.Fatalf("after rotation reads %q", got)
	}
	if got := secretValue(t, c, "s2", "password"); got != "second" {
		t.Fatalf("after rotation reads %q", got)
	}
}

// keyLine returns the secret of the generated default configuration.
func keyLine(t *testing.T, cfg string) string {
	t.Helper()
	for _, l := range strings.Split(cfg, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "secret: "); ok {
			return s
		}
	}
	t.Fatalf("no key in\n%s", cfg)
	return ""
}

// TestEncryptionIdentityFirst: a configuration with identity first stores Secrets in plaintext (and still
// reads encrypted ones through the later providers); aescbc, secretbox and wildcards are accepted.
func TestEncryptionIdentityFirst(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	path := filepath.Join(dir, "enc.yaml")
	y := `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - identity: {}
      - aesgcm: {keys: [{name: k, secret: ` + key + `}]}
  - resources: ["*.apps"]
    providers:
      - secretbox: {keys: [{name: sb, secret: ` + key + `}]}
  - resources: [configmaps]
    providers:
      - aescbc: {keys: [{name: cbc, secret: ` + key + `}]}
`
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c := framework.Start(t, framework.Options{ExtraArgs: []string{"--encryption-provider-config", path}})
	kubectl(t, c, "create", "secret", "generic", "plain", "--from-literal=password=visible")
	if v := etcdValue(t, c, "/registry/secrets/default/plain"); !bytes.HasPrefix(v, []byte("k8s\x00")) || !bytes.Contains(v, []byte("visible")) {
		t.Fatalf("identity first stored %q", v)
	}
	kubectl(t, c, "create", "configmap", "cm", "--from-literal=a=b")
	if v := etcdValue(t, c, "/registry/configmaps/default/cm"); !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:cbc:")) {
		t.Fatalf("configmap stored %q", v[:24])
	}
	kubectl(t, c, "create", "deployment", "d", "--image=example.invalid/x")
	if v := etcdValue(t, c, "/registry/deployments/default/d"); !bytes.HasPrefix(v, []byte("k8s:enc:secretbox:v1:sb:")) {
		t.Fatalf("deployment stored %q", v[:24])
	}
	mustContain(t, kubectl(t, c, "get", "configmap", "cm", "-o", "yaml"), "a: b")
	mustContain(t, kubectl(t, c, "get", "deployment", "d", "-o", "yaml"), "example.invalid/x")
}

// TestEncryptionBadConfig: a broken configuration stops the server at start with an error saying what is wrong.
func TestEncryptionBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "enc.yaml")
	y := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aesgcm: {keys: [{name: k, secret: c2hvcnQ=}]}\n"
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runServerOnce(t, "--encryption-provider-config", path)
	if err == nil {
		t.Fatalf("server started with a bad encryption config:\n%s", out)
	}
	mustContain(t, out, "encryption provider config", "resources[0].providers[0].aesgcm.keys[0].secret", "expected length")
}

// runServerOnce runs `skiff server` in a fresh data dir expecting it to refuse to start (it is killed after
// 30 s otherwise) and returns its output.
func runServerOnce(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.Binary(t), append([]string{"server", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--disable-agent", "--bind-address", "127.0.0.1", "--https-port", strconv.Itoa(framework.FreePort(t)),
		"--etcd-client-port", strconv.Itoa(framework.FreePort(t)), "--etcd-peer-port", strconv.Itoa(framework.FreePort(t))}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode(), err
}
