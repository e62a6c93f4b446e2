package openapi

// Upstream records some schema facts in comment markers (+listType,
// +listMapKey, +mapType, +structType, +default) that do not survive
// compilation. The ones below change how server-side apply merges objects
// (and how kubectl shows them), so they are restated here for the stable
// API versions of k8s.io/api v0.37.2. Everything else is derived by
// reflection: a list with a patch merge key is a map keyed by it, a merged
// list of scalars is a set, any other list is atomic.

// fieldOverride is keyed by "<declaring type definition name>.<json field>".
type fieldOverride struct {
	listMapKeys []string // list is a map with these keys (replaces the patch merge key)
	listAtomic  bool     // list is atomic even though it has patch tags
	mapAtomic   bool     // map is replaced as a whole by server-side apply
	def         any      // v3 default; needed where a list map key may be omitted
}

var fieldOverrides = map[string]fieldOverride{
	// Ports are unique by number and protocol (DNS serves 53 over TCP and
	// UDP); protocol defaults to TCP so a port without it still has a key.
	"io.k8s.api.core.v1.Container.ports":                   {listMapKeys: []string{"containerPort", "protocol"}},
	"io.k8s.api.core.v1.EphemeralContainerCommon.ports":    {listMapKeys: []string{"containerPort", "protocol"}},
	"io.k8s.api.core.v1.ContainerPort.protocol":            {def: "TCP"},
	"io.k8s.api.core.v1.ServiceSpec.ports":                 {listMapKeys: []string{"port", "protocol"}},
	"io.k8s.api.core.v1.ServicePort.protocol":              {def: "TCP"},
	"io.k8s.api.core.v1.LocalObjectReference.name":         {def: ""},
	"io.k8s.api.core.v1.PodSpec.topologySpreadConstraints": {listMapKeys: []string{"topologyKey", "whenUnsatisfiable"}},
	"io.k8s.api.core.v1.ResourceRequirements.claims":       {listMapKeys: []string{"name"}},
	"io.k8s.api.core.v1.ResourceStatus.resources":          {listMapKeys: []string{"resourceID"}},
	"io.k8s.api.core.v1.PodStatus.volumeHealth":            {listMapKeys: []string{"name"}},
	"io.k8s.api.core.v1.VolumeHealthStatus.healthConditions": {
		listMapKeys: []string{"status", "reason"},
	},
	"io.k8s.api.core.v1.PodVolumeHealth.healthConditions": {listMapKeys: []string{"status", "reason"}},
	"io.k8s.api.certificates.v1.CertificateSigningRequestStatus.conditions": {
		listMapKeys: []string{"type"},
	},
	"io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus.conditions": {
		listMapKeys: []string{"type"},
	},
	"io.k8s.api.resource.v1.ResourceClaimStatus.devices": {
		listMapKeys: []string{"driver", "device", "pool", "shareID"},
	},
	"io.k8s.api.resource.v1.AllocatedDeviceStatus.conditions": {listMapKeys: []string{"type"}},

	"io.k8s.api.batch.v1.JobStatus.conditions": {listAtomic: true},
	"io.k8s.api.core.v1.PodStatus.hostIPs":     {listAtomic: true},

	"io.k8s.api.core.v1.PodSpec.nodeSelector":               {mapAtomic: true},
	"io.k8s.api.core.v1.ServiceSpec.selector":               {mapAtomic: true},
	"io.k8s.api.core.v1.ReplicationControllerSpec.selector": {mapAtomic: true},
	"io.k8s.api.node.v1.Scheduling.nodeSelector":            {mapAtomic: true},
}

// atomicStructs are the struct types marked +structType=atomic: server-side
// apply treats each as a single value owned by one manager.
var atomicStructs = map[string]bool{
	"io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector":          true,
	"io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference":         true,
	"io.k8s.api.core.v1.SecretReference":                          true,
	"io.k8s.api.core.v1.FileKeySelector":                          true,
	"io.k8s.api.core.v1.ObjectFieldSelector":                      true,
	"io.k8s.api.core.v1.ResourceFieldSelector":                    true,
	"io.k8s.api.core.v1.ConfigMapKeySelector":                     true,
	"io.k8s.api.core.v1.SecretKeySelector":                        true,
	"io.k8s.api.core.v1.NodeSelector":                             true,
	"io.k8s.api.core.v1.NodeSelectorTerm":                         true,
	"io.k8s.api.core.v1.TopologySelectorTerm":                     true,
	"io.k8s.api.core.v1.EvictionResponder":                        true,
	"io.k8s.api.core.v1.EndpointAddress":                          true,
	"io.k8s.api.core.v1.EndpointPort":                             true,
	"io.k8s.api.core.v1.ObjectReference":                          true,
	"io.k8s.api.core.v1.LocalObjectReference":                     true,
	"io.k8s.api.core.v1.TypedLocalObjectReference":                true,
	"io.k8s.api.core.v1.ScopeSelector":                            true,
	"io.k8s.api.networking.v1.ServiceBackendPort":                 true,
	"io.k8s.api.discovery.v1.EndpointPort":                        true,
	"io.k8s.api.rbac.v1.Subject":                                  true,
	"io.k8s.api.rbac.v1.RoleRef":                                  true,
	"io.k8s.api.autoscaling.v1.CrossVersionObjectReference":       true,
	"io.k8s.api.admissionregistration.v1.ParamKind":               true,
	"io.k8s.api.admissionregistration.v1.Variable":                true,
	"io.k8s.api.admissionregistration.v1.ParamRef":                true,
	"io.k8s.api.admissionregistration.v1.MatchResources":          true,
	"io.k8s.api.admissionregistration.v1.NamedRuleWithOperations": true,
}
