package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Environment variables, envFrom and the downward API field selectors they
// (and downwardAPI volumes) use.

func validateEnv(vars []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		ip := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			// Relaxed names (any printable ASCII but '=') are GA upstream.
			errs = append(errs, msgs(validation.IsRelaxedEnvVarName(ev.Name), ev.Name, ip.Child("name"))...)
		}
		errs = append(errs, validateEnvVarValueFrom(ev, ip.Child("valueFrom"))...)
	}
	return errs
}

var validEnvFieldPaths = sets.New("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
	"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")

var validVolumeFieldPaths = sets.New("metadata.name", "metadata.namespace", "metadata.labels",
	"metadata.annotations", "metadata.uid")

var validResourceFieldPaths = sets.New("limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage")

func validateEnvVarValueFrom(ev corev1.EnvVar, p *field.Path) field.ErrorList {
	vf := ev.ValueFrom
	if vf == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if vf.FieldRef != nil {
		n++
		errs = append(errs, validateObjectFieldSelector(vf.FieldRef, validEnvFieldPaths, p.Child("fieldRef"))...)
	}
	if vf.ResourceFieldRef != nil {
		n++
		errs = append(errs, validateResourceFieldSelector(vf.ResourceFieldRef, false, p.Child("resourceFieldRef"))...)
	}
	if vf.ConfigMapKeyRef != nil {
		n++
		errs = append(errs, validateKeySelector(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, p.Child("configMapKeyRef"))...)
	}
	if vf.SecretKeyRef != nil {
		n++
		errs = append(errs, validateKeySelector(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, p.Child("secretKeyRef"))...)
	}
	if f := vf.FileKeyRef; f != nil {
		n++
		fp := p.Child("fileKeyRef")
		if f.VolumeName == "" {
			errs = append(errs, field.Required(fp.Child("volumeName"), ""))
		}
		if f.Path == "" {
			errs = append(errs, field.Required(fp.Child("path"), ""))
		}
		if f.Key == "" {
			errs = append(errs, field.Required(fp.Child("key"), ""))
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(p, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(p, "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
	}
	return errs
}

// splitSubscript splits "metadata.labels['key']" into its path and key.
func splitSubscript(fp string) (string, string, bool) {
	if !strings.HasSuffix(fp, "']") {
		return fp, "", false
	}
	parts := strings.SplitN(strings.TrimSuffix(fp, "']"), "['", 2)
	if len(parts) < 2 || parts[0] == "" {
		return fp, "", false
	}
	return parts[0], parts[1], true
}

// convertablePodFieldPaths are the field labels the v1 downward API
// understands at all; the env and volume sets above narrow them further.
var convertablePodFieldPaths = sets.New("metadata.annotations", "metadata.labels", "metadata.name",
	"metadata.namespace", "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
	"spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")

func convertDownwardAPIFieldPath(version, fp string) (string, error) {
	if version != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", version)
	}
	if path, _, ok := splitSubscript(fp); ok {
		if path == "metadata.annotations" || path == "metadata.labels" {
			return fp, nil
		}
		return "", fmt.Errorf("field label does not support subscript: %s", fp)
	}
	if fp == "spec.host" { // what very old clients send
		return "spec.nodeName", nil
	}
	if convertablePodFieldPaths.Has(fp) {
		return fp, nil
	}
	return "", fmt.Errorf("field label not supported: %s", fp)
}

func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, allowed sets.Set[string], p *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(p.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(p.Child("fieldPath"), "")}
	}
	internal, err := convertDownwardAPIFieldPath(fs.APIVersion, fs.FieldPath)
	if err != nil {
		return field.ErrorList{field.Invalid(p.Child("fieldPath"), fs.FieldPath, fmt.Sprintf("error converting fieldPath: %v", err))}
	}
	if path, sub, ok := splitSubscript(internal); ok {
		switch path {
		case "metadata.annotations":
			return qualifiedName(strings.ToLower(sub), p)
		case "metadata.labels":
			return qualifiedName(sub, p)
		default:
			return field.ErrorList{field.Invalid(p, path, "does not support subscript")}
		}
	}
	if !allowed.Has(internal) {
		return field.ErrorList{field.NotSupported(p.Child("fieldPath"), internal, sets.List(allowed))}
	}
	return nil
}

var (
	cpuDivisors    = sets.New("1m", "1")
	memoryDivisors = sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
)

func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, volume bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case volume && fs.ContainerName == "":
		errs = append(errs, field.Required(p.Child("containerName"), ""))
	case fs.Resource == "":
		errs = append(errs, field.Required(p.Child("resource"), ""))
	case !validResourceFieldPaths.Has(fs.Resource) &&
		!strings.HasPrefix(fs.Resource, "requests.hugepages-") && !strings.HasPrefix(fs.Resource, "limits.hugepages-"):
		errs = append(errs, field.NotSupported(p.Child("resource"), fs.Resource, sets.List(validResourceFieldPaths)))
	}
	if fs.Divisor.Cmp(resource.Quantity{}) == 0 {
		return errs
	}
	d := fs.Divisor.String()
	switch {
	case fs.Resource == "limits.cpu" || fs.Resource == "requests.cpu":
		if !cpuDivisors.Has(d) {
			errs = append(errs, field.Invalid(p.Child("divisor"), fs.Resource, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
	case fs.Resource == "limits.memory" || fs.Resource == "requests.memory":
		if !memoryDivisors.Has(d) {
			errs = append(errs, field.Invalid(p.Child("divisor"), fs.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
		}
	case fs.Resource == "limits.ephemeral-storage" || fs.Resource == "requests.ephemeral-storage":
		if !memoryDivisors.Has(d) {
			errs = append(errs, field.Invalid(p.Child("divisor"), fs.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"))
		}
	case strings.HasPrefix(fs.Resource, "requests.hugepages-") || strings.HasPrefix(fs.Resource, "limits.hugepages-"):
		if !memoryDivisors.Has(d) {
			errs = append(errs, field.Invalid(p.Child("divisor"), fs.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource"))
		}
	}
	return errs
}

// validateKeySelector covers configMapKeyRef and secretKeyRef, which
// upstream checks identically (both with the Secret name rule).
func validateKeySelector(refName, key string, p *field.Path) field.ErrorList {
	errs := name(apimachineryvalidation.NameIsDNSSubdomain, refName, p.Child("name"))
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, msgs(validation.IsConfigMapKey(key), key, p.Child("key"))...)
	}
	return errs
}

func validateEnvFrom(vars []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		ip := p.Index(i)
		if ev.Prefix != "" {
			errs = append(errs, msgs(validation.IsRelaxedEnvVarName(ev.Prefix), ev.Prefix, ip.Child("prefix"))...)
		}
		n := 0
		if ev.ConfigMapRef != nil {
			n++
			errs = append(errs, validateEnvFromRef(ev.ConfigMapRef.Name, ip.Child("configMapRef"))...)
		}
		if ev.SecretRef != nil {
			n++
			errs = append(errs, validateEnvFromRef(ev.SecretRef.Name, ip.Child("secretRef"))...)
		}
		// Upstream reports these on the list path, not the item.
		if n == 0 {
			errs = append(errs, field.Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if n > 1 {
			errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateEnvFromRef(refName string, p *field.Path) field.ErrorList {
	if refName == "" {
		return field.ErrorList{field.Required(p.Child("name"), "")}
	}
	return msgs(apimachineryvalidation.NameIsDNSSubdomain(refName, true), refName, p.Child("name"))
}
