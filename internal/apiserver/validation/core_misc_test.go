package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateConfigMap(t *testing.T) {
	yes := true
	cases := []struct {
		name string
		cm   *corev1.ConfigMap
		old  *corev1.ConfigMap
		want []wantErr
	}{
		{"valid", &corev1.ConfigMap{Data: map[string]string{"app.conf": "x", "KEY_1": "y"}}, nil, nil},
		{"bad key", &corev1.ConfigMap{Data: map[string]string{"bad key": "x"}}, nil,
			[]wantErr{{inv, "data[bad key]", "a valid config key must consist of alphanumeric characters"}}},
		{"bad binary key", &corev1.ConfigMap{BinaryData: map[string][]byte{"../x": nil}}, nil, []wantErr{{inv, "binaryData[../x]", ""}}},
		{"duplicate across maps", &corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": nil}}, nil,
			[]wantErr{{inv, "data[k]", "duplicate of key present in binaryData"}}},
		{"too large", &corev1.ConfigMap{Data: map[string]string{"big": strings.Repeat("x", 1024*1024+1)}}, nil,
			[]wantErr{{long, "[]", "may not be more than 1048576 bytes"}}},
		{"immutable data", &corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"k": "new"}},
			&corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"k": "old"}},
			[]wantErr{{forb, "data", "field is immutable when `immutable` is set"}}},
		{"immutable flag", &corev1.ConfigMap{Data: map[string]string{"k": "v"}}, &corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"k": "v"}},
			[]wantErr{{forb, "immutable", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var old *corev1.ConfigMap
			if c.old != nil {
				old = c.old
				check(t, c.cm, old, c.want...)
				return
			}
			check(t, c.cm, nil, c.want...)
		})
	}
}

func TestValidateSecret(t *testing.T) {
	yes := true
	check(t, &corev1.Secret{Data: map[string][]byte{"password": []byte("x")}}, nil)
	check(t, &corev1.Secret{Data: map[string][]byte{"a/b": nil}}, nil, wantErr{inv, "data[a/b]", ""})
	check(t, &corev1.Secret{Data: map[string][]byte{"big": make([]byte, 1024*1024+1)}}, nil, wantErr{long, "data", ""})
	check(t, &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}, nil,
		wantErr{req, "data[tls.key]", ""})
	check(t, &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, nil,
		wantErr{inv, "data[.dockerconfigjson]", ""})
	check(t, &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken}, nil,
		wantErr{req, "metadata.annotations[kubernetes.io/service-account.name]", ""})
	check(t, &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
		&corev1.Secret{Data: map[string][]byte{}}, wantErr{inv, "type", "field is immutable"})
	check(t, &corev1.Secret{Immutable: &yes, Data: map[string][]byte{"k": []byte("2")}},
		&corev1.Secret{Immutable: &yes, Data: map[string][]byte{"k": []byte("1")}}, wantErr{forb, "data", "field is immutable when `immutable` is set"})
}

func TestValidateNamespaceAndNode(t *testing.T) {
	check(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, nil)
	check(t, &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"mine"}}}, nil,
		wantErr{inv, "spec.finalizers", "name is neither a standard finalizer name nor is it fully qualified"})
	check(t, &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/cleanup"}}}, nil)

	check(t, &corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: "Maybe"}}}}, nil,
		wantErr{unsup, "metadata.taints[0].effect", ""})
	check(t, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.0.0.0/33"}}}, nil, wantErr{inv, "spec.podCIDRs[0]", ""})
	check(t, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.0.1.0/24"}}}, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.0.0.0/24"}}},
		wantErr{forb, "spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"})
	check(t, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.0.1.0/24"}}}, &corev1.Node{})
}

func TestValidateEndpointsAndEvents(t *testing.T) {
	check(t, &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}, nil)
	check(t, &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}, nil,
		wantErr{req, "subsets[0]", "must specify `addresses` or `notReadyAddresses`"})
	check(t, &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "169.254.1.1"}}}}}, nil,
		wantErr{inv, "subsets[0].addresses[0].ip", "link-local"})

	ev := func(ns, involvedNS string) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: ns}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: involvedNS}}
	}
	check(t, ev("default", "default"), nil)
	check(t, ev("default", ""), nil)
	check(t, ev("a", "b"), nil, wantErr{inv, "involvedObject.namespace", "does not match event.namespace"})
	withTime := ev("default", "default")
	withTime.EventTime = metav1.NowMicro()
	check(t, withTime, nil, wantErr{req, "reportingComponent", ""}, wantErr{req, "action", ""}, wantErr{req, "reason", ""})
}

func TestValidatePersistentVolumes(t *testing.T) {
	pvc := func() *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}}
	}
	check(t, pvc(), nil)
	noModes := pvc()
	noModes.Spec.AccessModes = nil
	check(t, noModes, nil, wantErr{req, "spec.accessModes", "at least 1 access mode is required"})
	noSize := pvc()
	noSize.Spec.Resources.Requests = nil
	check(t, noSize, nil, wantErr{req, "spec.resources[storage]", ""})
	mixed := pvc()
	mixed.Spec.AccessModes = append(mixed.Spec.AccessModes, corev1.ReadWriteOncePod)
	check(t, mixed, nil, wantErr{forb, "spec.accessModes", "may not use ReadWriteOncePod with other access modes"})

	bound := func(size string) *corev1.PersistentVolumeClaim {
		c := pvc()
		c.Spec.VolumeName = "pv-1"
		c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(size)
		c.Status.Phase = corev1.ClaimBound
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
		return c
	}
	check(t, bound("2Gi"), bound("1Gi"))
	check(t, bound("512Mi"), bound("1Gi"), wantErr{forb, "spec.resources.requests.storage", "field can not be less than status.capacity"})
	classChange := bound("1Gi")
	other := "fast"
	classChange.Spec.StorageClassName = &other
	old := bound("1Gi")
	slow := "slow"
	old.Spec.StorageClassName = &slow
	check(t, classChange, old, wantErr{forb, "spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"})
	// The binder may fill volumeName once.
	unbound := pvc()
	withName := pvc()
	withName.Spec.VolumeName = "pv-1"
	check(t, withName, unbound)

	pv := func(path string) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}},
		}}
	}
	check(t, pv("/data"), nil)
	check(t, &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}, nil, wantErr{req, "spec", "must specify a volume type"})
	check(t, pv("/other"), pv("/data"), wantErr{forb, "spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"})
}

func TestValidateReplicationControllerAndTemplates(t *testing.T) {
	rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}}}
	check(t, rc, nil)
	bad := rc.DeepCopy()
	bad.Spec.Selector = map[string]string{"app": "b"}
	check(t, bad, nil, wantErr{inv, "spec.template.metadata.labels", "`selector` does not match template `labels`"})

	pt := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}}
	check(t, pt, nil, wantErr{req, "template.spec.containers[0].image", ""})
}

func TestValidateLimitRangeAndQuota(t *testing.T) {
	q := resource.MustParse
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Min:  corev1.ResourceList{corev1.ResourceCPU: q("1")},
		Max:  corev1.ResourceList{corev1.ResourceCPU: q("500m")},
	}}}}
	check(t, lr, nil, wantErr{inv, "spec.limits[0].min[cpu]", "min value 1 is greater than max value 500m"})

	rq := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: q("1.5")}}}
	check(t, rq, nil, wantErr{inv, "spec.hard[pods]", "must be an integer"})
	scopes := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort}}}
	check(t, scopes, nil, wantErr{inv, "spec.scopes", "conflicting scopes"})
}
