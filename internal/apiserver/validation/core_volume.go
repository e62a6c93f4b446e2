package validation

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateVolumes checks pod volumes and returns the valid ones by name, so
// that mounts can be matched against them.
func validateVolumes(volumes []corev1.Volume, podMeta *metav1.ObjectMeta, p *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	byName := map[string]corev1.VolumeSource{}
	// PVCs generated for ephemeral volumes are named "<pod>-<volume>"; a pod
	// may not also claim one of those by name.
	created := sets.New[string]()
	if podMeta != nil && podMeta.Name != "" {
		for _, v := range volumes {
			if v.Ephemeral != nil {
				created.Insert(podMeta.Name + "-" + v.Name)
			}
		}
	}
	for i, v := range volumes {
		ip := p.Index(i)
		el := validateVolumeSource(&v.VolumeSource, ip, v.Name, podMeta)
		if v.Name == "" {
			el = append(el, field.Required(ip.Child("name"), ""))
		} else {
			el = append(el, dns1123Label(v.Name, ip.Child("name"))...)
		}
		if _, dup := byName[v.Name]; dup {
			el = append(el, field.Duplicate(ip.Child("name"), v.Name))
		}
		if len(el) == 0 {
			byName[v.Name] = v.VolumeSource
		} else {
			errs = append(errs, el...)
		}
		if v.PersistentVolumeClaim != nil && created.Has(v.PersistentVolumeClaim.ClaimName) {
			errs = append(errs, field.Invalid(ip.Child("persistentVolumeClaim").Child("claimName"), v.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return byName, errs
}

// sourceCheck is one possible member of a volume-source union.
type sourceCheck struct {
	name     string // the JSON field; used for the "more than 1" error
	present  bool
	validate func() field.ErrorList
}

// exactlyOne validates the first present source and forbids the rest, the
// way upstream walks its unions.
func exactlyOne(checks []sourceCheck, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, c := range checks {
		if !c.present {
			continue
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(p.Child(c.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		if c.validate != nil {
			errs = append(errs, c.validate()...)
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a volume type"))
	}
	return errs
}

func required(v string, p *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return nil
}

func fileMode(m *int32, p *field.Path) field.ErrorList {
	if m != nil && (*m > 0o777 || *m < 0) {
		return field.ErrorList{field.Invalid(p, *m, fileModeErrorMsg)}
	}
	return nil
}

func validateVolumeSource(s *corev1.VolumeSource, p *field.Path, volName string, podMeta *metav1.ObjectMeta) field.ErrorList {
	// Upstream's error paths for a few legacy plugins differ from their
	// JSON names (persistentDisk, cephfs, downwarAPI); kept for fidelity.
	checks := []sourceCheck{
		{"emptyDir", s.EmptyDir != nil, func() field.ErrorList {
			if s.EmptyDir.SizeLimit != nil && s.EmptyDir.SizeLimit.Cmp(resource.Quantity{}) < 0 {
				return field.ErrorList{field.Forbidden(p.Child("emptyDir").Child("sizeLimit"), "SizeLimit field must be a valid resource quantity")}
			}
			return nil
		}},
		{"hostPath", s.HostPath != nil, func() field.ErrorList { return validateHostPath(s.HostPath, p.Child("hostPath")) }},
		{"gitRepo", s.GitRepo != nil, func() field.ErrorList {
			errs := required(s.GitRepo.Repository, p.Child("gitRepo", "repository"))
			return append(errs, validateLocalDescendingPath(s.GitRepo.Directory, p.Child("gitRepo", "directory"))...)
		}},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil, func() field.ErrorList {
			return pdCommon(s.GCEPersistentDisk.PDName, "pdName", s.GCEPersistentDisk.Partition, p.Child("persistentDisk"))
		}},
		{"awsElasticBlockStore", s.AWSElasticBlockStore != nil, func() field.ErrorList {
			return pdCommon(s.AWSElasticBlockStore.VolumeID, "volumeID", s.AWSElasticBlockStore.Partition, p.Child("awsElasticBlockStore"))
		}},
		{"secret", s.Secret != nil, func() field.ErrorList {
			sp := p.Child("secret")
			errs := required(s.Secret.SecretName, sp.Child("secretName"))
			errs = append(errs, fileMode(s.Secret.DefaultMode, sp.Child("defaultMode"))...)
			return append(errs, validateKeyToPaths(s.Secret.Items, sp.Child("items"))...)
		}},
		{"nfs", s.NFS != nil, func() field.ErrorList { return validateNFS(s.NFS, p.Child("nfs")) }},
		{"iscsi", s.ISCSI != nil, func() field.ErrorList {
			ip := p.Child("iscsi")
			errs := required(s.ISCSI.TargetPortal, ip.Child("targetPortal"))
			errs = append(errs, required(s.ISCSI.IQN, ip.Child("iqn"))...)
			if s.ISCSI.Lun < 0 || s.ISCSI.Lun > 255 {
				errs = append(errs, field.Invalid(ip.Child("lun"), s.ISCSI.Lun, validation.InclusiveRangeError(0, 255)))
			}
			if (s.ISCSI.DiscoveryCHAPAuth || s.ISCSI.SessionCHAPAuth) && s.ISCSI.SecretRef == nil {
				errs = append(errs, field.Required(ip.Child("secretRef"), ""))
			}
			return errs
		}},
		{"glusterfs", s.Glusterfs != nil, func() field.ErrorList {
			errs := required(s.Glusterfs.EndpointsName, p.Child("glusterfs", "endpoints"))
			return append(errs, required(s.Glusterfs.Path, p.Child("glusterfs", "path"))...)
		}},
		{"flocker", s.Flocker != nil, func() field.ErrorList {
			if s.Flocker.DatasetName == "" && s.Flocker.DatasetUUID == "" {
				return field.ErrorList{field.Required(p.Child("flocker"), "one of datasetName and datasetUUID is required")}
			}
			return nil
		}},
		{"persistentVolumeClaim", s.PersistentVolumeClaim != nil, func() field.ErrorList {
			return required(s.PersistentVolumeClaim.ClaimName, p.Child("persistentVolumeClaim", "claimName"))
		}},
		{"rbd", s.RBD != nil, func() field.ErrorList {
			var errs field.ErrorList
			if len(s.RBD.CephMonitors) == 0 {
				errs = append(errs, field.Required(p.Child("rbd", "monitors"), ""))
			}
			return append(errs, required(s.RBD.RBDImage, p.Child("rbd", "image"))...)
		}},
		{"cinder", s.Cinder != nil, func() field.ErrorList { return required(s.Cinder.VolumeID, p.Child("cinder", "volumeID")) }},
		{"cephFS", s.CephFS != nil, func() field.ErrorList {
			if len(s.CephFS.Monitors) == 0 {
				return field.ErrorList{field.Required(p.Child("cephfs", "monitors"), "")}
			}
			return nil
		}},
		{"quobyte", s.Quobyte != nil, func() field.ErrorList {
			errs := required(s.Quobyte.Volume, p.Child("quobyte", "volume"))
			if s.Quobyte.Registry == "" {
				errs = append(errs, field.Required(p.Child("quobyte", "registry"), "must be a host:port pair or multiple pairs separated by commas"))
			}
			return errs
		}},
		{"downwarAPI", s.DownwardAPI != nil, func() field.ErrorList {
			dp := p.Child("downwardAPI")
			errs := fileMode(s.DownwardAPI.DefaultMode, dp.Child("defaultMode"))
			for _, f := range s.DownwardAPI.Items {
				errs = append(errs, validateDownwardAPIFile(&f, dp)...)
			}
			return errs
		}},
		{"fc", s.FC != nil, func() field.ErrorList {
			fp := p.Child("fc")
			var errs field.ErrorList
			if len(s.FC.TargetWWNs) == 0 && len(s.FC.WWIDs) == 0 {
				errs = append(errs, field.Required(fp.Child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
			}
			if len(s.FC.TargetWWNs) != 0 && len(s.FC.WWIDs) != 0 {
				errs = append(errs, field.Invalid(fp.Child("targetWWNs"), s.FC.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
			}
			if len(s.FC.TargetWWNs) != 0 && s.FC.Lun == nil {
				errs = append(errs, field.Required(fp.Child("lun"), "lun is required if targetWWNs is specified"))
			}
			return errs
		}},
		{"flexVolume", s.FlexVolume != nil, func() field.ErrorList { return required(s.FlexVolume.Driver, p.Child("flexVolume", "driver")) }},
		{"configMap", s.ConfigMap != nil, func() field.ErrorList {
			cp := p.Child("configMap")
			errs := required(s.ConfigMap.Name, cp.Child("name"))
			errs = append(errs, fileMode(s.ConfigMap.DefaultMode, cp.Child("defaultMode"))...)
			return append(errs, validateKeyToPaths(s.ConfigMap.Items, cp.Child("items"))...)
		}},
		{"azureFile", s.AzureFile != nil, func() field.ErrorList {
			errs := required(s.AzureFile.SecretName, p.Child("azureFile", "secretName"))
			return append(errs, required(s.AzureFile.ShareName, p.Child("azureFile", "shareName"))...)
		}},
		{"vsphereVolume", s.VsphereVolume != nil, func() field.ErrorList {
			return required(s.VsphereVolume.VolumePath, p.Child("vsphereVolume", "volumePath"))
		}},
		{"photonPersistentDisk", s.PhotonPersistentDisk != nil, func() field.ErrorList {
			return required(s.PhotonPersistentDisk.PdID, p.Child("photonPersistentDisk", "pdID"))
		}},
		{"portworxVolume", s.PortworxVolume != nil, func() field.ErrorList {
			return required(s.PortworxVolume.VolumeID, p.Child("portworxVolume", "volumeID"))
		}},
		{"azureDisk", s.AzureDisk != nil, func() field.ErrorList {
			errs := required(s.AzureDisk.DiskName, p.Child("azureDisk", "diskName"))
			return append(errs, required(s.AzureDisk.DataDiskURI, p.Child("azureDisk", "diskURI"))...)
		}},
		{"storageos", s.StorageOS != nil, func() field.ErrorList {
			return required(s.StorageOS.VolumeName, p.Child("storageos", "volumeName"))
		}},
		{"projected", s.Projected != nil, func() field.ErrorList { return validateProjected(s.Projected, p.Child("projected")) }},
		{"scaleIO", s.ScaleIO != nil, func() field.ErrorList {
			sp := p.Child("scaleIO")
			errs := required(s.ScaleIO.Gateway, sp.Child("gateway"))
			errs = append(errs, required(s.ScaleIO.System, sp.Child("system"))...)
			return append(errs, required(s.ScaleIO.VolumeName, sp.Child("volumeName"))...)
		}},
		{"csi", s.CSI != nil, func() field.ErrorList {
			cp := p.Child("csi")
			errs := validateCSIDriverName(s.CSI.Driver, cp.Child("driver"))
			if ref := s.CSI.NodePublishSecretRef; ref != nil {
				if ref.Name == "" {
					errs = append(errs, field.Required(cp.Child("nodePublishSecretRef", "name"), ""))
				} else {
					errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, ref.Name, cp.Child("name"))...)
				}
			}
			return errs
		}},
		{"ephemeral", s.Ephemeral != nil, func() field.ErrorList {
			ep := p.Child("ephemeral")
			if s.Ephemeral.VolumeClaimTemplate == nil {
				return field.ErrorList{field.Required(ep.Child("volumeClaimTemplate"), "")}
			}
			t := s.Ephemeral.VolumeClaimTemplate
			errs := validateTemplateObjectMeta(&t.ObjectMeta, ep.Child("volumeClaimTemplate", "metadata"))
			errs = append(errs, validatePVCSpec(&t.Spec, ep.Child("volumeClaimTemplate", "spec"))...)
			if podMeta != nil && podMeta.Name != "" && volName != "" {
				pvc := podMeta.Name + "-" + volName
				for _, m := range apimachineryvalidation.NameIsDNSSubdomain(pvc, false) {
					errs = append(errs, field.Invalid(p.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvc, m)))
				}
			}
			return errs
		}},
		{"image", s.Image != nil, func() field.ErrorList {
			// The reference may be empty in templates (filled in later by
			// tooling); pods are checked in validatePodOnly.
			return requiredOneOf(s.Image.PullPolicy, p.Child("image", "pullPolicy"), corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
		}},
	}
	return exactlyOne(checks, p)
}

func pdCommon(id, idField string, partition int32, p *field.Path) field.ErrorList {
	errs := required(id, p.Child(idField))
	if partition < 0 || partition > 255 {
		errs = append(errs, field.Invalid(p.Child("partition"), partition, validation.InclusiveRangeError(1, 255)))
	}
	return errs
}

var supportedHostPathTypes = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev,
	corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket}

func validateHostPath(h *corev1.HostPathVolumeSource, p *field.Path) field.ErrorList {
	if h.Path == "" {
		return field.ErrorList{field.Required(p.Child("path"), "")}
	}
	errs := validatePathNoBacksteps(h.Path, p.Child("path"))
	if h.Type != nil {
		errs = append(errs, oneOf(*h.Type, p.Child("type"), supportedHostPathTypes...)...)
	}
	return errs
}

func validateNFS(n *corev1.NFSVolumeSource, p *field.Path) field.ErrorList {
	errs := required(n.Server, p.Child("server"))
	errs = append(errs, required(n.Path, p.Child("path"))...)
	if !strings.HasPrefix(n.Path, "/") {
		errs = append(errs, field.Invalid(p.Child("path"), n.Path, "must be an absolute path"))
	}
	return errs
}

func validateCSIDriverName(driver string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if driver == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(driver) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	return append(errs, msgs(validation.IsDNS1123Subdomain(strings.ToLower(driver)), driver, p)...)
}

func validateKeyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		ip := p.Index(i)
		errs = append(errs, required(kp.Key, ip.Child("key"))...)
		errs = append(errs, required(kp.Path, ip.Child("path"))...)
		errs = append(errs, validateLocalNonReservedPath(kp.Path, ip.Child("path"))...)
		errs = append(errs, fileMode(kp.Mode, ip.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFile(f *corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	errs := required(f.Path, p.Child("path"))
	errs = append(errs, validateLocalNonReservedPath(f.Path, p.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		errs = append(errs, validateObjectFieldSelector(f.FieldRef, validVolumeFieldPaths, p.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			errs = append(errs, field.Invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, true, p.Child("resourceFieldRef"))...)
	default:
		errs = append(errs, field.Required(p, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, fileMode(f.Mode, p.Child("mode"))...)
}

func validateProjected(pr *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	errs := fileMode(pr.DefaultMode, p.Child("defaultMode"))
	paths := sets.New[string]()
	addPath := func(path string, bad any) {
		if path == "" {
			return
		}
		if paths.Has(path) {
			errs = append(errs, field.Invalid(p, bad, "conflicting duplicate paths"))
		}
		paths.Insert(path)
	}
	for i, src := range pr.Sources {
		sp := p.Child("sources").Index(i)
		n := 0
		if src.Secret != nil {
			n++
			errs = append(errs, required(src.Secret.Name, sp.Child("secret", "name"))...)
			errs = append(errs, validateKeyToPaths(src.Secret.Items, sp.Child("secret", "items"))...)
			for _, kp := range src.Secret.Items {
				addPath(kp.Path, src.Secret.Name)
			}
		}
		if src.ConfigMap != nil {
			n++
			errs = append(errs, required(src.ConfigMap.Name, sp.Child("configMap", "name"))...)
			errs = append(errs, validateKeyToPaths(src.ConfigMap.Items, sp.Child("configMap", "items"))...)
			for _, kp := range src.ConfigMap.Items {
				addPath(kp.Path, src.ConfigMap.Name)
			}
		}
		if src.DownwardAPI != nil {
			n++
			for _, f := range src.DownwardAPI.Items {
				errs = append(errs, validateDownwardAPIFile(&f, sp.Child("downwardAPI"))...)
				addPath(f.Path, f.Path)
			}
		}
		if t := src.ServiceAccountToken; t != nil {
			n++
			tp := sp.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil {
				if *t.ExpirationSeconds < 10*60 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
				}
				if *t.ExpirationSeconds > 1<<32 {
					errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			// Upstream reports the token path on the projection, not the source.
			if t.Path == "" {
				errs = append(errs, field.Required(p.Child("path"), ""))
			} else {
				errs = append(errs, validateLocalNonReservedPath(t.Path, p.Child("path"))...)
			}
		}
		if ctb := src.ClusterTrustBundle; ctb != nil {
			n++
			cp := sp.Child("clusterTrustBundle")
			if ctb.Name != nil && ctb.SignerName != nil {
				errs = append(errs, field.Invalid(cp, ctb, "only one of name and signerName may be used"))
			} else if ctb.Name == nil && ctb.SignerName == nil {
				errs = append(errs, field.Required(cp, "either name or signerName must be specified"))
			}
			errs = append(errs, required(ctb.Path, cp.Child("path"))...)
			errs = append(errs, validateLocalNonReservedPath(ctb.Path, cp.Child("path"))...)
			addPath(ctb.Path, ctb.Path)
		}
		if src.PodCertificate != nil {
			n++
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

// validateTemplateObjectMeta: embedded templates may carry only labels and
// annotations.
func validateTemplateObjectMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	errs := apimachineryvalidation.ValidateAnnotations(m.Annotations, p.Child("annotations"))
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	rest := m.DeepCopy()
	rest.Labels, rest.Annotations = nil, nil
	v := reflect.ValueOf(*rest)
	for i := 0; i < v.NumField(); i++ {
		if !v.Field(i).IsZero() {
			fn := v.Type().Field(i).Name
			errs = append(errs, field.Forbidden(p.Child(strings.ToLower(fn[:1])+fn[1:]), "cannot be set"))
		}
	}
	return errs
}
