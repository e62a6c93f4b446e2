package printers

import (
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClusterKinds(t *testing.T) {
	defaultSC := objectMeta("standard")
	defaultSC.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	waitForConsumer := storagev1.VolumeBindingWaitForFirstConsumer

	runCellsCases(t, []cellsCase{
		{"endpointslice", &discoveryv1.EndpointSlice{ObjectMeta: objectMeta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.1.0.1"}}, {Addresses: []string{"10.1.0.2"}}, {Addresses: []string{"10.1.0.3"}}, {Addresses: []string{"10.1.0.4"}},
			}}, []any{"web-abc", "IPv4", "80,metrics,*", "10.1.0.1,10.1.0.2,10.1.0.3 + 1 more...", "60m"}},
		{"empty endpointslice", &discoveryv1.EndpointSlice{ObjectMeta: objectMeta("e"), AddressType: discoveryv1.AddressTypeIPv6},
			[]any{"e", "IPv6", "<unset>", "<unset>", "60m"}},
		{"ingressclass", &networkingv1.IngressClass{ObjectMeta: objectMeta("nginx"), Spec: networkingv1.IngressClassSpec{
			Controller: "k8s.io/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"},
		}}, []any{"nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "60m"}},
		{"networkpolicy", &networkingv1.NetworkPolicy{ObjectMeta: objectMeta("deny")}, []any{"deny", "<none>", "60m"}},
		{"default storageclass", &storagev1.StorageClass{ObjectMeta: defaultSC, Provisioner: "rancher.io/local-path", VolumeBindingMode: &waitForConsumer},
			[]any{"standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "60m"}},
		{"csidriver defaults", &storagev1.CSIDriver{ObjectMeta: objectMeta("csi.example.com")},
			[]any{"csi.example.com", true, false, false, "<unset>", false, "<none>", "60m"}},
		{"csidriver", &storagev1.CSIDriver{ObjectMeta: objectMeta("d"), Spec: storagev1.CSIDriverSpec{
			AttachRequired: ptr(false), TokenRequests: []storagev1.TokenRequest{{Audience: "a"}, {Audience: "b"}},
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral},
		}}, []any{"d", false, false, false, "a,b", false, "Persistent,Ephemeral", "60m"}},
		{"volumeattachment", &storagev1.VolumeAttachment{ObjectMeta: objectMeta("csi-123"), Spec: storagev1.VolumeAttachmentSpec{
			Attacher: "csi.example.com", NodeName: "node-1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr("pv-1")},
		}, Status: storagev1.VolumeAttachmentStatus{Attached: true}}, []any{"csi-123", "csi.example.com", "pv-1", "node-1", true, "60m"}},
		{"csinode", &storagev1.CSINode{ObjectMeta: objectMeta("node-1"), Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "x"}}}},
			[]any{"node-1", int64(1), "60m"}},
		{"lease", &coordinationv1.Lease{ObjectMeta: objectMeta("kube-scheduler"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("cp-1_abc")}},
			[]any{"kube-scheduler", "cp-1_abc", "60m"}},
		{"priorityclass", &schedulingv1.PriorityClass{ObjectMeta: objectMeta("system-node-critical"), Value: 2000001000,
			PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
			[]any{"system-node-critical", int64(2000001000), false, "60m", "PreemptLowerPriority"}},
		{"runtimeclass", &nodev1.RuntimeClass{ObjectMeta: objectMeta("gvisor"), Handler: "runsc"}, []any{"gvisor", "runsc", "60m"}},
		{"webhooks", &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: objectMeta("v"),
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{}, {}}}, []any{"v", int64(2), "60m"}},
		{"csr", &certificatesv1.CertificateSigningRequest{ObjectMeta: objectMeta("csr-1"),
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client-kubelet",
				Username: "system:node:node-1", ExpirationSeconds: ptr(int32(86400))},
			Status: certificatesv1.CertificateSigningRequestStatus{Certificate: []byte("x"),
				Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}}},
			[]any{"csr-1", "60m", "kubernetes.io/kube-apiserver-client-kubelet", "system:node:node-1", "24h", "Approved,Issued"}},
		{"pending csr", &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: ago(5 * time.Second)}},
			[]any{"c", "5s", "<none>", "", "<none>", "Pending"}},
	})
}
