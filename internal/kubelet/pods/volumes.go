package pods

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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
			cm, err := w.cfg.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(v.ConfigMap.Optional) {
					cm = &corev1.ConfigMap{}
				} else {
					return &configError{fmt.Sprintf("configmap %q not found", v.ConfigMap.Name)}
				}
			}
			files := map[string][]byte{}
			for k, s := range cm.Data {
				files[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				files[k] = b
			}
			if err := writeAtomic(dir, project(files, v.ConfigMap.Items), mode(v.ConfigMap.DefaultMode), false); err != nil {
				return err
			}
		case v.Secret != nil:
			s, err := w.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(v.Secret.Optional) {
					s = &corev1.Secret{}
				} else {
					return &configError{fmt.Sprintf("secret %q not found", v.Secret.SecretName)}
				}
			}
			if err := writeAtomic(dir, project(s.Data, v.Secret.Items), mode(v.Secret.DefaultMode), true); err != nil {
				return err
			}
		case v.DownwardAPI != nil:
			files := map[string][]byte{}
			for _, f := range v.DownwardAPI.Items {
				if f.FieldRef != nil {
					val, err := fieldValue(pod, f.FieldRef.FieldPath, pod.Status.PodIP, w.cfg.NodeIP)
					if err != nil {
						return err
					}
					files[f.Path] = []byte(val)
				}
			}
			if err := writeAtomic(dir, files, mode(v.DownwardAPI.DefaultMode), false); err != nil {
				return err
			}
		default:
			return &configError{fmt.Sprintf("volume %q: this volume type is not supported yet", v.Name)}
		}
	}
	return nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

// project applies a volume's items (key -> path) or keeps every key.
func project(data map[string][]byte, items []corev1.KeyToPath) map[string][]byte {
	if len(items) == 0 {
		return data
	}
	out := map[string][]byte{}
	for _, it := range items {
		if b, ok := data[it.Key]; ok {
			out[it.Path] = b
		}
	}
	return out
}

// writeAtomic writes files into a new timestamped directory and swaps the "..data" symlink to it, unless the
// content is unchanged. tmpfs makes the volume a memory mount first.
func writeAtomic(dir string, files map[string][]byte, m os.FileMode, tmpfs bool) error {
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
	for name, content := range files {
		p := filepath.Join(tsDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, content, m); err != nil {
			return err
		}
		_ = os.Chmod(p, m)
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

func sameFiles(dir string, files map[string][]byte) bool {
	for name, content := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != string(content) {
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
