package validation

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PersistentVolumeClaim specs, shared by claims, ephemeral volumes and
// StatefulSet volumeClaimTemplates.

var supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		errs = append(errs, oneOf(m, p, supportedAccessModes...)...)
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else if len(oneOf(m, p, supportedAccessModes...)) == 0 {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), "at least 1 access mode is required"))
	}
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	errs = append(errs, validateAccessModes(s.AccessModes, p.Child("accessModes"))...)
	sp := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp, ""))
	} else if e := positiveQuantity(q, sp); len(e) > 0 {
		errs = append(errs, e...)
	} else {
		errs = append(errs, validateQuantity(corev1.ResourceStorage, q, sp)...)
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *s.StorageClassName, p.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil {
		errs = append(errs, oneOf(*s.VolumeMode, p.Child("volumeMode"), corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)...)
	}
	if ds := s.DataSource; ds != nil {
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, p.Child("dataSource"))...)
	}
	if ds := s.DataSourceRef; ds != nil {
		dp := p.Child("dataSourceRef")
		errs = append(errs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, dp)...)
		if ds.Namespace != nil && *ds.Namespace != "" {
			errs = append(errs, name(apimachineryvalidation.ValidateNamespaceName, *ds.Namespace, dp.Child("namespace"))...)
		}
	}
	if r := s.DataSourceRef; r != nil && r.Namespace != nil && *r.Namespace != "" {
		if s.DataSource != nil {
			errs = append(errs, field.Invalid(p, p.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
		}
	} else if s.DataSource != nil && r != nil {
		if !reflect.DeepEqual(s.DataSource.APIGroup, r.APIGroup) || s.DataSource.Kind != r.Kind || s.DataSource.Name != r.Name {
			errs = append(errs, field.Invalid(p, p.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	if c := s.VolumeAttributesClassName; c != nil && *c != "" {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *c, p.Child("volumeAttributesClassName"))...)
	}
	return errs
}

func validateDataSource(n, kind string, group *string, p *field.Path) field.ErrorList {
	errs := required(n, p.Child("name"))
	errs = append(errs, required(kind, p.Child("kind"))...)
	g := ""
	if group != nil {
		g = *group
	}
	if g == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if g != "" {
		errs = append(errs, dns1123Subdomain(g, p.Child("apiGroup"))...)
	}
	return errs
}
