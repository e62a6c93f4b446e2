package validation

import (
	"fmt"
	"path"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Persistent volumes.

var supportedPVReclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	spec := &pv.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), ""))
	}
	errs = append(errs, validateAccessModes(spec.AccessModes, p.Child("accessModes"))...)
	capPath := p.Child("capacity")
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(capPath, ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capPath, spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for r, q := range spec.Capacity {
		if q.Value() < 0 {
			errs = append(errs, field.Invalid(capPath.Key(string(r)), q.Value(), "must be a valid resource quantity"))
		}
		errs = append(errs, positiveQuantity(q, capPath.Key(string(r)))...)
	}
	if spec.PersistentVolumeReclaimPolicy != "" {
		errs = append(errs, oneOf(spec.PersistentVolumeReclaimPolicy, p.Child("persistentVolumeReclaimPolicy"), supportedPVReclaimPolicies...)...)
	}
	nodeAffinity := false
	if na := spec.NodeAffinity; na != nil {
		nodeAffinity = true
		if na.Required != nil {
			errs = append(errs, validateNodeSelector(na.Required, false, p.Child("nodeAffinity", "required"))...)
		} else {
			errs = append(errs, field.Required(p.Child("nodeAffinity", "required"), "must specify required node constraints"))
		}
	}
	errs = append(errs, validatePVSource(&spec.PersistentVolumeSource, nodeAffinity, p)...)
	// Recycling "/" would wipe the node.
	if spec.HostPath != nil && path.Clean(spec.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(p.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if spec.StorageClassName != "" {
		errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, spec.StorageClassName, p.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil {
		errs = append(errs, oneOf(*spec.VolumeMode, p.Child("volumeMode"), corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)...)
	}
	if c := spec.VolumeAttributesClassName; c != nil {
		if *c == "" {
			errs = append(errs, field.Required(p.Child("volumeAttributesClassName"), "an empty string is disallowed"))
		} else {
			errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *c, p.Child("volumeAttributesClassName"))...)
		}
		if spec.CSI == nil {
			errs = append(errs, field.Required(p.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return errs
}

func validatePVSource(s *corev1.PersistentVolumeSource, nodeAffinity bool, p *field.Path) field.ErrorList {
	checks := []sourceCheck{
		{"hostPath", s.HostPath != nil, func() field.ErrorList { return validateHostPath(s.HostPath, p.Child("hostPath")) }},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil, func() field.ErrorList {
			return pdCommon(s.GCEPersistentDisk.PDName, "pdName", s.GCEPersistentDisk.Partition, p.Child("persistentDisk"))
		}},
		{"awsElasticBlockStore", s.AWSElasticBlockStore != nil, func() field.ErrorList {
			return pdCommon(s.AWSElasticBlockStore.VolumeID, "volumeID", s.AWSElasticBlockStore.Partition, p.Child("awsElasticBlockStore"))
		}},
		{"glusterfs", s.Glusterfs != nil, func() field.ErrorList {
			errs := required(s.Glusterfs.EndpointsName, p.Child("glusterfs", "endpoints"))
			return append(errs, required(s.Glusterfs.Path, p.Child("glusterfs", "path"))...)
		}},
		{"flocker", s.Flocker != nil, nil},
		{"nfs", s.NFS != nil, func() field.ErrorList { return validateNFS(s.NFS, p.Child("nfs")) }},
		{"rbd", s.RBD != nil, func() field.ErrorList { return required(s.RBD.RBDImage, p.Child("rbd", "image")) }},
		{"quobyte", s.Quobyte != nil, nil},
		{"cephFS", s.CephFS != nil, nil},
		{"iscsi", s.ISCSI != nil, func() field.ErrorList {
			errs := required(s.ISCSI.TargetPortal, p.Child("iscsi", "targetPortal"))
			return append(errs, required(s.ISCSI.IQN, p.Child("iscsi", "iqn"))...)
		}},
		{"cinder", s.Cinder != nil, func() field.ErrorList { return required(s.Cinder.VolumeID, p.Child("cinder", "volumeID")) }},
		{"fc", s.FC != nil, nil},
		{"flexVolume", s.FlexVolume != nil, func() field.ErrorList { return required(s.FlexVolume.Driver, p.Child("flexVolume", "driver")) }},
		{"azureFile", s.AzureFile != nil, nil},
		{"vsphereVolume", s.VsphereVolume != nil, nil},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil, nil},
		{"portworxVolume", s.PortworxVolume != nil, nil},
		{"azureDisk", s.AzureDisk != nil, nil},
		{"scaleIO", s.ScaleIO != nil, nil},
		{"local", s.Local != nil, func() field.ErrorList {
			var errs field.ErrorList
			if s.Local.Path == "" {
				errs = append(errs, field.Required(p.Child("local", "path"), ""))
			} else {
				errs = append(errs, validatePathNoBacksteps(s.Local.Path, p.Child("local", "path"))...)
			}
			// A local volume is only reachable on its node.
			if !nodeAffinity {
				errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volume requires node affinity"))
			}
			return errs
		}},
		{"storageos", s.StorageOS != nil, nil},
		{"csi", s.CSI != nil, func() field.ErrorList {
			errs := validateCSIDriverName(s.CSI.Driver, p.Child("csi", "driver"))
			return append(errs, required(s.CSI.VolumeHandle, p.Child("csi", "volumeHandle"))...)
		}},
	}
	return exactlyOne(checks, p)
}

// validatePersistentVolumeUpdate: where a volume lives cannot change.
func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := validatePersistentVolume(pv)
	newSrc := pv.Spec.PersistentVolumeSource
	// Adding a controller-expand secret later is allowed.
	if old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil && newSrc.CSI != nil && newSrc.CSI.ControllerExpandSecretRef != nil {
		newSrc = *newSrc.DeepCopy()
		newSrc.CSI.ControllerExpandSecretRef = nil
	}
	if !semanticEqual(newSrc, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
			fmt.Sprintf("spec.persistentvolumesource is immutable after creation\n%v", cmp.Diff(old.Spec.PersistentVolumeSource, newSrc))))
	}
	errs = append(errs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil && !semanticEqual(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(field.NewPath("nodeAffinity"), pv.Spec.NodeAffinity, fieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	if old.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
	}
	return errs
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePVCSpec(&pvc.Spec, field.NewPath("spec"))
}

// validatePersistentVolumeClaimUpdate: a claim's spec is fixed (so quota and
// limits cannot be gamed) except that the binder sets volumeName once and a
// bound claim may grow its storage request or change its attributes class.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validatePersistentVolumeClaim(pvc)
	n, o := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if o.VolumeName == "" {
		o.VolumeName = n.VolumeName
	}
	// Moving the class from the beta annotation to the field is allowed.
	if ann, ok := old.Annotations[corev1.BetaStorageClassAnnotation]; o.StorageClassName == nil && n.StorageClassName != nil &&
		(!ok || *n.StorageClassName == ann) {
		o.StorageClassName = n.StorageClassName
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		if n.Resources.Requests != nil {
			n.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		if n.VolumeAttributesClassName != nil {
			n.VolumeAttributesClassName = o.VolumeAttributesClassName
		}
	}
	if !semanticEqual(*n, *o) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			fmt.Sprintf("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%v", cmp.Diff(*o, *n))))
	}
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	statusSize := old.Status.Capacity[corev1.ResourceStorage]
	// Shrinking is only allowed back towards what was actually provisioned,
	// to recover from a failed expansion (RecoverVolumeExpansionFailure).
	if newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	errs = append(errs, immutable(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if o := old.Spec.VolumeAttributesClassName; o != nil {
		if c := pvc.Spec.VolumeAttributesClassName; c == nil {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
		} else if *c == "" {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to an empty string is forbidden"))
		}
	}
	return errs
}
