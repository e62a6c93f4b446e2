package pods

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Image pull secrets, as upstream's kubelet reads them: Secrets of type kubernetes.io/dockerconfigjson
// (.dockerconfigjson: {"auths": {...}}) or kubernetes.io/dockercfg (.dockercfg: the auths map itself), named
// in the pod's imagePullSecrets. An entry applies to an image when its registry host matches (a `*` stands for
// one DNS label) and its path, if any, is a prefix of the image's repository; more specific entries are tried
// first, and the pull is tried with each until one works.

// dockerEntry is one registry's credentials in a docker config.
type dockerEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// parseDockerConfig reads the registry-to-credentials map out of a pull secret.
func parseDockerConfig(s *corev1.Secret) (map[string]dockerEntry, error) {
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerEntry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return nil, fmt.Errorf("secret %s: %s: %w", s.Name, corev1.DockerConfigJsonKey, err)
		}
		return cfg.Auths, nil
	case corev1.SecretTypeDockercfg:
		var auths map[string]dockerEntry
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
			return nil, fmt.Errorf("secret %s: %s: %w", s.Name, corev1.DockerConfigKey, err)
		}
		return auths, nil
	}
	return nil, fmt.Errorf("secret %s has type %q, not %s", s.Name, s.Type, corev1.SecretTypeDockerConfigJson)
}

// registryKey splits a docker config key ("https://index.docker.io/v1/", "registry:5000/team") into host
// (with port) and path, with Docker Hub's old names mapped to docker.io as images name it.
func registryKey(key string) (host, p string) {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, p, _ = strings.Cut(key, "/")
	p = strings.TrimSuffix(p, "/")
	if host == "index.docker.io" || host == "registry-1.docker.io" {
		host = "docker.io"
	}
	if host == "docker.io" && (p == "v1" || p == "v2") {
		p = ""
	}
	return host, p
}

// hostMatches compares hosts label by label; a `*` label in the pattern matches any one label.
func hostMatches(pattern, host string) bool {
	pHost, pPort, _ := strings.Cut(pattern, ":")
	hHost, hPort, _ := strings.Cut(host, ":")
	if pPort != hPort {
		return false
	}
	pl, hl := strings.Split(pHost, "."), strings.Split(hHost, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, _ := path.Match(pl[i], hl[i]); !ok {
			return false
		}
	}
	return true
}

type keyedEntry struct {
	host, path string
	entry      dockerEntry
}

// authsFor returns the credentials in configs that apply to image, most specific first.
func authsFor(image string, configs []map[string]dockerEntry) []*runtimeapi.AuthConfig {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil
	}
	domain, repo := reference.Domain(named), reference.Path(named)
	var matches []keyedEntry
	for _, cfg := range configs {
		for k, e := range cfg {
			host, p := registryKey(k)
			if !hostMatches(host, domain) {
				continue
			}
			if p != "" && repo != p && !strings.HasPrefix(repo, p+"/") {
				continue
			}
			matches = append(matches, keyedEntry{host, p, e})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool {
		a, b := matches[i], matches[j]
		if wa, wb := strings.Contains(a.host, "*"), strings.Contains(b.host, "*"); wa != wb {
			return !wa
		}
		return len(a.path) > len(b.path)
	})
	out := make([]*runtimeapi.AuthConfig, 0, len(matches))
	for _, m := range matches {
		// No ServerAddress: the entry was matched to this image's registry here already, and containerd 1.6
		// cannot parse a bare host:port there.
		ac := &runtimeapi.AuthConfig{Username: m.entry.Username, Password: m.entry.Password,
			IdentityToken: m.entry.IdentityToken, RegistryToken: m.entry.RegistryToken}
		if m.entry.Auth != "" && ac.Username == "" {
			if raw, err := base64.StdEncoding.DecodeString(m.entry.Auth); err == nil {
				ac.Username, ac.Password, _ = strings.Cut(string(raw), ":")
			}
		}
		out = append(out, ac)
	}
	return out
}

// pullSecrets loads the docker configs of the pod's imagePullSecrets. Secrets that are missing or malformed
// are reported as upstream reports them and skipped: the pull may still work without them.
func (w *worker) pullSecrets(ctx context.Context, pod *corev1.Pod) []map[string]dockerEntry {
	var configs []map[string]dockerEntry
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, err := w.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s/%s", pod.Namespace, ref.Name))
			continue
		}
		cfg, err := parseDockerConfig(s)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s/%s", pod.Namespace, ref.Name))
			continue
		}
		configs = append(configs, cfg)
	}
	if len(missing) > 0 {
		w.event(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
	}
	return configs
}
