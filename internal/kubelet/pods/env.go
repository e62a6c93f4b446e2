package pods

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// configError is a container configuration the agent cannot build (a missing ConfigMap or key): upstream
// reports it as CreateContainerConfigError and retries.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// buildEnv resolves a container's environment as upstream's kubelet: envFrom first, then env (later wins),
// values from the pod's fields, resources, ConfigMaps and Secrets, and $(VAR) references to earlier variables.
func (w *worker) buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP string) ([]*runtimeapi.KeyValue, map[string]string, error) {
	// Service variables come first, so the container's own env and envFrom override them and $(VAR) can
	// refer to them, as upstream.
	vars := map[string]string{}
	if w.cfg.Services != nil {
		vars = serviceEnv(pod, w.cfg.Services())
	}
	svcVars := make([]string, 0, len(vars))
	for k := range vars {
		svcVars = append(svcVars, k)
	}
	sort.Strings(svcVars)
	var order []string
	ordered := map[string]bool{}
	set := func(k, v string) {
		if !ordered[k] {
			ordered[k] = true
			order = append(order, k)
		}
		vars[k] = v
	}
	core := w.cfg.Client.CoreV1()
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, nil, &configError{fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
			}
			for k, v := range cm.Data {
				set(from.Prefix+k, v)
			}
		case from.SecretRef != nil:
			s, err := core.Secrets(pod.Namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
					continue
				}
				return nil, nil, &configError{fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
			}
			for k, v := range s.Data {
				set(from.Prefix+k, string(v))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, ok, err := w.valueFrom(ctx, pod, c, e.ValueFrom, podIP)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	for _, k := range svcVars {
		if !ordered[k] {
			order = append(order, k)
		}
	}
	out := make([]*runtimeapi.KeyValue, 0, len(order))
	for _, k := range order {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(vars[k])})
	}
	return out, vars, nil
}

func optional(b *bool) bool { return b != nil && *b }

func (w *worker) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, podIP string) (string, bool, error) {
	core := w.cfg.Client.CoreV1()
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(pod, src.FieldRef.FieldPath, podIP, w.cfg.NodeIP)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		return resourceValue(c, src.ResourceFieldRef), true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, &configError{fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, &configError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, true, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := core.Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, &configError{fmt.Sprintf("secret %q not found", ref.Name)}
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, &configError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(v), true, nil
	}
	return "", false, nil
}

func fieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	for _, p := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels['", pod.Labels}, {"metadata.annotations['", pod.Annotations}} {
		if k, ok := strings.CutPrefix(path, p.prefix); ok {
			return p.m[strings.TrimSuffix(k, "']")], nil
		}
	}
	return "", &configError{fmt.Sprintf("unsupported fieldPath %q", path)}
}

func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	var q = c.Resources.Limits
	name := strings.TrimPrefix(ref.Resource, "limits.")
	if r, ok := strings.CutPrefix(ref.Resource, "requests."); ok {
		q, name = c.Resources.Requests, r
	}
	v, ok := q[corev1.ResourceName(name)]
	if !ok {
		return "0"
	}
	div := ref.Divisor
	if div.IsZero() {
		if name == "cpu" {
			// Upstream rounds CPU up to whole cores by default.
			return fmt.Sprint((v.MilliValue() + 999) / 1000)
		}
		return fmt.Sprint(v.Value())
	}
	if name == "cpu" {
		return fmt.Sprint((v.MilliValue() + div.MilliValue() - 1) / div.MilliValue())
	}
	return fmt.Sprint((v.Value() + div.Value() - 1) / div.Value())
}

// expand replaces $(VAR) with defined variables; $$ escapes a dollar; undefined references stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
			b.WriteByte('$')
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func expandAll(list []string, vars map[string]string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, vars)
	}
	return out
}

// resources turns requests and limits into cgroup settings through CRI, as upstream: CPU shares from requests,
// CFS quota from limits, and the memory limit.
func resources(c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	} else if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CpuPeriod = 100000
		r.CpuQuota = max(1000, q.MilliValue()*100000/1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = q.Value()
	}
	return r
}
