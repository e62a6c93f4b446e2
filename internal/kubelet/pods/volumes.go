package pods

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Volumes live in <pod dir>/volumes/<name>. ConfigMap, Secret and downward API volumes are written as upstream
// does: the files are symlinks into a "..data" symlink that points at a timestamped directory, so an update
// swaps all files at once. Secrets and Memory emptyDirs are tmpfs mounts: they never touch the disk.

func (w *worker) volumeDir(pod *corev1.Pod, name string) string {
	return filepath.Join(w.podLogDir(pod), "volumes", name)
}

// setupVolumes prepares every volume of the pod; it is called before the containers start and again
// periodically, so ConfigMap and Secret changes reach the files.
func (w *worker) setupVolumes(ctx context.Context, pod *corev1.Pod) error {
	for _, v := range pod.Spec.Volumes {
		dir := w.volumeDir(pod, v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return err
			}
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				if err := ensureTmpfs(dir); err != nil {
					return err
				}
			}
		case v.HostPath != nil:
			if t := v.HostPath.Type; t != nil && (*t == corev1.HostPathDirectoryOrCreate) {
				if err := os.MkdirAll(v.HostPath.Path, 0o755); err != nil {
					return err
				}
			}
		case v.ConfigMap != nil:
			files, err := w.configMapFiles(ctx, pod, v.ConfigMap.LocalObjectReference, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode))
			if err != nil {
				return err
			}
			if err := writeAtomic(dir, files, false); err != nil {
				return err
			}
		case v.Secret != nil:
			files, err := w.secretFiles(ctx, pod, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode))
			if err != nil {
				return err
			}
			if err := writeAtomic(dir, files, true); err != nil {
				return err
			}
		case v.DownwardAPI != nil:
			files, err := w.downwardFiles(pod, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
			if err != nil {
				return err
			}
			if err := writeAtomic(dir, files, false); err != nil {
				return err
			}
		case v.Projected != nil:
			files, err := w.projectedFiles(ctx, pod, v.Projected)
			if err != nil {
				return err
			}
			// As upstream, a projected volume lives in memory (it may hold secrets and tokens).
			if err := writeAtomic(dir, files, true); err != nil {
				return err
			}
		default:
			return &configError{fmt.Sprintf("volume %q: this volume type is not supported yet", v.Name)}
		}
	}
	return nil
}

// file is one file of a ConfigMap, Secret, downward API or projected volume.
type file struct {
	data []byte
	mode os.FileMode
}

func (w *worker) configMapFiles(ctx context.Context, pod *corev1.Pod, ref corev1.LocalObjectReference, items []corev1.KeyToPath, opt *bool, m os.FileMode) (map[string]file, error) {
	cm, err := w.cfg.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return map[string]file{}, nil
		}
		if apierrors.IsNotFound(err) {
			return nil, &configError{fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		return nil, err
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return project(data, items, m, optional(opt), "configmap "+ref.Name)
}

func (w *worker) secretFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, m os.FileMode) (map[string]file, error) {
	s, err := w.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return map[string]file{}, nil
		}
		if apierrors.IsNotFound(err) {
			return nil, &configError{fmt.Sprintf("secret %q not found", name)}
		}
		return nil, err
	}
	return project(s.Data, items, m, optional(opt), "secret "+name)
}

// downwardFiles renders downward API items: pod fields (whole label and annotation maps as key="value"
// lines, as upstream) and container resources.
func (w *worker) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, m os.FileMode) (map[string]file, error) {
	files := map[string]file{}
	for _, f := range items {
		fm := m
		if f.Mode != nil {
			fm = os.FileMode(*f.Mode)
		}
		var val string
		switch {
		case f.FieldRef != nil && (f.FieldRef.FieldPath == "metadata.labels" || f.FieldRef.FieldPath == "metadata.annotations"):
			kv := pod.Labels
			if f.FieldRef.FieldPath == "metadata.annotations" {
				kv = pod.Annotations
			}
			keys := make([]string, 0, len(kv))
			for k := range kv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			lines := make([]string, 0, len(keys))
			for _, k := range keys {
				lines = append(lines, fmt.Sprintf("%s=%q", k, kv[k]))
			}
			val = strings.Join(lines, "\n")
		case f.FieldRef != nil:
			v, err := fieldValue(pod, f.FieldRef.FieldPath, pod.Status.PodIP, w.cfg.NodeIP)
			if err != nil {
				return nil, err
			}
			val = v
		case f.ResourceFieldRef != nil:
			var c *corev1.Container
			for i := range pod.Spec.Containers {
				if pod.Spec.Containers[i].Name == f.ResourceFieldRef.ContainerName {
					c = &pod.Spec.Containers[i]
				}
			}
			for i := range pod.Spec.InitContainers {
				if pod.Spec.InitContainers[i].Name == f.ResourceFieldRef.ContainerName {
					c = &pod.Spec.InitContainers[i]
				}
			}
			if c == nil {
				return nil, &configError{fmt.Sprintf("downwardAPI %s: no container %q", f.Path, f.ResourceFieldRef.ContainerName)}
			}
			val = resourceValue(c, f.ResourceFieldRef)
		default:
			continue
		}
		files[f.Path] = file{data: []byte(val), mode: fm}
	}
	return files, nil
}

// projectedFiles merges the sources of a projected volume into one set of files.
func (w *worker) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	m := mode(p.DefaultMode)
	all := map[string]file{}
	for _, src := range p.Sources {
		var files map[string]file
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = w.configMapFiles(ctx, pod, src.ConfigMap.LocalObjectReference, src.ConfigMap.Items, src.ConfigMap.Optional, m)
		case src.Secret != nil:
			files, err = w.secretFiles(ctx, pod, src.Secret.Name, src.Secret.Items, src.Secret.Optional, m)
		case src.DownwardAPI != nil:
			files, err = w.downwardFiles(pod, src.DownwardAPI.Items, m)
		case src.ServiceAccountToken != nil:
			files, err = w.tokenFile(ctx, pod, src.ServiceAccountToken, m)
		default:
			err = &configError{"projected volume: this source type is not supported yet"}
		}
		if err != nil {
			return nil, err
		}
		for k, f := range files {
			all[k] = f
		}
	}
	return all, nil
}

// tokenFile asks the API for a bound service account token (serviceaccounts/token), as upstream's kubelet
// does for projected serviceAccountToken sources.
func (w *worker) tokenFile(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, m os.FileMode) (map[string]file, error) {
	// As upstream, a token is renewed once 80% of its lifetime, or 24 h, has passed (tokenRefreshTime).
	key := src.Audience + "|" + src.Path
	if t, ok := w.tokens[key]; ok && time.Now().Before(t.refresh) {
		return map[string]file{src.Path: {data: []byte(t.token), mode: m}}, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	var aud []string
	if src.Audience != "" {
		aud = []string{src.Audience}
	}
	tr, err := w.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: aud, ExpirationSeconds: &exp,
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("projected service account token for %s/%s: %w", pod.Namespace, sa, err)
	}
	now := time.Now()
	expiry := now.Add(time.Duration(exp) * time.Second)
	if !tr.Status.ExpirationTimestamp.IsZero() {
		expiry = tr.Status.ExpirationTimestamp.Time
	}
	if w.tokens == nil {
		w.tokens = map[string]cachedToken{}
	}
	w.tokens[key] = cachedToken{token: tr.Status.Token, refresh: tokenRefreshTime(now, expiry)}
	return map[string]file{src.Path: {data: []byte(tr.Status.Token), mode: m}}, nil
}

// tokenRefreshTime is when a token issued at iat that expires at exp is renewed, as upstream's kubelet: once
// 80% of its lifetime has passed, or after 24 hours, whichever comes first.
func tokenRefreshTime(iat, exp time.Time) time.Time {
	return minTime(iat.Add(exp.Sub(iat)*8/10), iat.Add(24*time.Hour))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

type cachedToken struct {
	token   string
	refresh time.Time
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

// project applies a volume's items (key -> path, with per-item modes) or keeps every key. A key named in
// items that the object lacks is an error unless the source is optional, as upstream.
func project(data map[string][]byte, items []corev1.KeyToPath, m os.FileMode, opt bool, what string) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, b := range data {
			out[k] = file{data: b, mode: m}
		}
		return out, nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, &configError{fmt.Sprintf("%s has no key %q", what, it.Key)}
		}
		fm := m
		if it.Mode != nil {
			fm = os.FileMode(*it.Mode)
		}
		out[it.Path] = file{data: b, mode: fm}
	}
	return out, nil
}

// writeAtomic writes files into a new timestamped directory and swaps the "..data" symlink to it, unless the
// content is unchanged. tmpfs makes the volume a memory mount first.
func writeAtomic(dir string, files map[string]file, tmpfs bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if tmpfs {
		if err := ensureTmpfs(dir); err != nil {
			return err
		}
	}
	dataLink := filepath.Join(dir, "..data")
	if cur, err := os.Readlink(dataLink); err == nil && sameFiles(filepath.Join(dir, cur), files) {
		return nil
	}
	ts := "..data_" + fmt.Sprint(time.Now().UnixNano())
	tsDir := filepath.Join(dir, ts)
	for name, f := range files {
		p := filepath.Join(tsDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		_ = os.Chmod(p, f.mode)
	}
	if err := os.MkdirAll(tsDir, 0o755); err != nil {
		return err
	}
	old, _ := os.Readlink(dataLink)
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(ts, tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		return err
	}
	for name := range files {
		top := strings.SplitN(name, "/", 2)[0]
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err != nil {
			_ = os.Symlink(filepath.Join("..data", top), link)
		}
	}
	if old != "" && old != ts {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

func sameFiles(dir string, files map[string]file) bool {
	for name, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != string(f.data) {
			return false
		}
	}
	n := 0
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n == len(files)
}

func ensureTmpfs(dir string) error {
	if isMountPoint(dir) {
		return nil
	}
	return syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755")
}

func isMountPoint(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// unmountVolumes detaches the pod's tmpfs volumes before its directory is removed.
func (w *worker) unmountVolumes(pod *corev1.Pod) {
	base := filepath.Join(w.podLogDir(pod), "volumes") + "/"
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], base) {
			_ = syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}

// mounts turns a container's volumeMounts into CRI mounts (subPath resolved on the host, as upstream).
func (w *worker) mounts(pod *corev1.Pod, c *corev1.Container) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	for _, vm := range c.VolumeMounts {
		var host string
		for _, v := range pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.HostPath != nil {
				host = v.HostPath.Path
			} else {
				host = w.volumeDir(pod, v.Name)
			}
		}
		if host == "" {
			return nil, &configError{fmt.Sprintf("volumeMount %q: no such volume", vm.Name)}
		}
		if vm.SubPath != "" {
			host = filepath.Join(host, vm.SubPath)
			if _, err := os.Stat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: vm.MountPath, HostPath: host, Readonly: vm.ReadOnly})
	}
	return out, nil
}
