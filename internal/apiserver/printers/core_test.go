package printers

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// cellsCase is one object and the complete row it must print as.
type cellsCase struct {
	name string
	obj  runtime.Object
	want []any
}

func runCellsCases(t *testing.T, cases []cellsCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := mustTable(t, tt.obj).Rows[0].Cells
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cells =\n  %#v\nwant\n  %#v", got, tt.want)
			}
		})
	}
}

type svcOpt func(*corev1.Service)

func newService(name string, typ corev1.ServiceType, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: objectMeta(name),
		Spec: corev1.ServiceSpec{
			Type:       typ,
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:   map[string]string{"app": "web"},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func TestServiceColumns(t *testing.T) {
	got := columnNames(Columns(&corev1.Service{}))
	want := []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns = %q, want %q", got, want)
	}
}

func TestServiceCells(t *testing.T) {
	lbIngress := func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{
			{Hostname: "lb.example.com"}, {IP: "203.0.113.9"}, {IP: "203.0.113.9"},
		}
	}
	runCellsCases(t, []cellsCase{
		{"cluster ip", newService("web", corev1.ServiceTypeClusterIP),
			[]any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"}},
		{"cluster ip with external ips", newService("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"198.51.100.1", "198.51.100.2"}
		}), []any{"web", "ClusterIP", "10.96.0.10", "198.51.100.1,198.51.100.2", "80/TCP", "60m", "app=web"}},
		{"node port, several ports", newService("web", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
				{Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP},
			}
		}), []any{"web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53:30053/UDP", "60m", "app=web"}},
		{"load balancer pending", newService("web", corev1.ServiceTypeLoadBalancer),
			[]any{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80/TCP", "60m", "app=web"}},
		{"load balancer provisioned, sorted and deduplicated", newService("web", corev1.ServiceTypeLoadBalancer, lbIngress),
			[]any{"web", "LoadBalancer", "10.96.0.10", "203.0.113.9,lb.example.com", "80/TCP", "60m", "app=web"}},
		{"load balancer plus external ips", newService("web", corev1.ServiceTypeLoadBalancer, lbIngress, func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
		}), []any{"web", "LoadBalancer", "10.96.0.10", "203.0.113.9,lb.example.com,198.51.100.1", "80/TCP", "60m", "app=web"}},
		{"external name", newService("db", corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ExternalName = "db.example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.Ports, s.Spec.Selector = "", nil, nil, nil
		}), []any{"db", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"}},
		{"headless", newService("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
		}), []any{"web", "ClusterIP", "None", "<none>", "80/TCP", "60m", "app=web"}},
		{"undefaulted: no type, no protocol, only clusterIP", newService("web", "", func(s *corev1.Service) {
			s.Spec.ClusterIPs = nil
			s.Spec.Ports[0].Protocol = ""
		}), []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"}},
		{"dual stack shows the primary family", newService("web", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00::10"}
		}), []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web"}},
	})
}

func TestNodeCells(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "cp-1", CreationTimestamp: ago(50 * time.Hour), Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "",
			"node-role.kubernetes.io/etcd":          "",
			"kubernetes.io/role":                    "master",
		}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "cp-1"},
				{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
		},
	}
	notReady := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "w-1", CreationTimestamp: ago(3 * time.Minute)},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}},
	}
	fresh := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w-2", CreationTimestamp: ago(time.Second)}}
	runCellsCases(t, []cellsCase{
		{"ready control plane, cordoned", node, []any{"cp-1", "Ready,SchedulingDisabled", "control-plane,etcd,master", "2d2h", "v1.37.2",
			"192.168.1.10", "<none>", "Debian GNU/Linux 13", "6.12.0", "containerd://2.1.0"}},
		{"not ready worker", notReady, []any{"w-1", "NotReady", "<none>", "3m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"no conditions yet", fresh, []any{"w-2", "Unknown", "<none>", "1s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	})
}

func TestCoreSimpleKinds(t *testing.T) {
	runCellsCases(t, []cellsCase{
		{"namespace", &corev1.Namespace{ObjectMeta: objectMeta("kube-system"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]any{"kube-system", "Active", "60m"}},
		{"configmap counts binary data", &corev1.ConfigMap{ObjectMeta: objectMeta("cfg"), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": nil}},
			[]any{"cfg", int64(3), "60m"}},
		{"secret", &corev1.Secret{ObjectMeta: objectMeta("tls"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			[]any{"tls", "kubernetes.io/tls", int64(2), "60m"}},
		{"service account", &corev1.ServiceAccount{ObjectMeta: objectMeta("default")}, []any{"default", "60m"}},
		{"pod template", &corev1.PodTemplate{ObjectMeta: objectMeta("tpl"), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "ia"}, {Name: "b", Image: "ib"}}},
		}}, []any{"tpl", "a,b", "ia,ib", "app=web"}},
		{"replication controller, replicas defaulted", &corev1.ReplicationController{ObjectMeta: objectMeta("rc"),
			Spec:   corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "x"}, Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "ix"}}}}},
			Status: corev1.ReplicationControllerStatus{Replicas: 1, ReadyReplicas: 1},
		}, []any{"rc", int64(1), int64(1), int64(1), "60m", "x", "ix", "app=x"}},
		{"resource quota splits requests and limits", &corev1.ResourceQuota{ObjectMeta: objectMeta("q"), Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"requests.cpu": resource.MustParse("1"), "limits.memory": resource.MustParse("2Gi"), "pods": resource.MustParse("10")},
			Used: corev1.ResourceList{"requests.cpu": resource.MustParse("500m"), "pods": resource.MustParse("3")},
		}}, []any{"q", "pods: 3/10, requests.cpu: 500m/1", "limits.memory: 0/2Gi", "60m"}},
	})
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i] = corev1.EndpointAddress{IP: ip}
		}
		return out
	}
	runCellsCases(t, []cellsCase{
		{"no subsets", &corev1.Endpoints{ObjectMeta: objectMeta("e")}, []any{"e", "<none>", "60m"}},
		{"ip:port pairs", &corev1.Endpoints{ObjectMeta: objectMeta("e"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "fd00::1"), Ports: []corev1.EndpointPort{{Port: 8080}},
		}}}, []any{"e", "10.0.0.1:8080,[fd00::1]:8080", "60m"}},
		{"truncated after three", &corev1.Endpoints{ObjectMeta: objectMeta("e"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}},
		}}}, []any{"e", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...", "60m"}},
		{"headless without ports", &corev1.Endpoints{ObjectMeta: objectMeta("e"), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.0.0.1"),
		}}}, []any{"e", "10.0.0.1", "60m"}},
	})
}

func TestEventCells(t *testing.T) {
	core := &corev1.Event{
		ObjectMeta:     objectMeta("web-0.17f"),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{app}"},
		Reason:         "BackOff",
		Message:        "Back-off restarting failed container\n",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: ago(10 * time.Minute),
		LastTimestamp:  ago(30 * time.Second),
		Count:          5,
		Type:           corev1.EventTypeWarning,
	}
	series := &eventsv1.Event{
		ObjectMeta:          objectMeta("deploy.18a"),
		EventTime:           metav1.NewMicroTime(now.Add(-20 * time.Minute)),
		Series:              &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-2 * time.Minute))},
		ReportingController: "deployment-controller",
		Regarding:           corev1.ObjectReference{Kind: "Deployment", Name: "web"},
		Reason:              "ScalingReplicaSet",
		Note:                "Scaled up replica set web-5d to 3",
		Type:                corev1.EventTypeNormal,
	}
	singleton := &eventsv1.Event{
		ObjectMeta:          objectMeta("node.1"),
		EventTime:           metav1.NewMicroTime(now.Add(-45 * time.Second)),
		ReportingController: "kubelet",
		ReportingInstance:   "node-1",
		Regarding:           corev1.ObjectReference{Kind: "Node"},
		Reason:              "Starting",
		Type:                corev1.EventTypeNormal,
	}
	runCellsCases(t, []cellsCase{
		{"core event", core, []any{"30s", "Warning", "BackOff", "pod/web-0", "spec.containers{app}", "kubelet, node-1",
			"Back-off restarting failed container", "10m", int64(5), "web-0.17f"}},
		{"events.k8s.io series", series, []any{"2m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
			"Scaled up replica set web-5d to 3", "20m", int64(4), "deploy.18a"}},
		{"events.k8s.io singleton", singleton, []any{"45s", "Normal", "Starting", "node", "", "kubelet, node-1", "", "45s", int64(1), "node.1"}},
	})
	want := []string{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"}
	for _, obj := range []runtime.Object{&corev1.Event{}, &eventsv1.Event{}} {
		if got := columnNames(Columns(obj)); !reflect.DeepEqual(got, want) {
			t.Errorf("%T columns = %q, want %q", obj, got, want)
		}
	}
}

func TestVolumeCells(t *testing.T) {
	fs := corev1.PersistentVolumeFilesystem
	pv := &corev1.PersistentVolume{
		ObjectMeta: objectMeta("pv-1"),
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
			StorageClassName:              "standard",
			VolumeMode:                    &fs,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	bound := &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta("data"),
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: ptr("standard")},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
	}
	pending := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "new", CreationTimestamp: ago(time.Minute), Annotations: map[string]string{"volume.beta.kubernetes.io/storage-class": "fast"}},
		Spec:       corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("standard")},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	runCellsCases(t, []cellsCase{
		{"bound pv", pv, []any{"pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "60m", "Filesystem"}},
		{"bound pvc", bound, []any{"data", "Bound", "pv-1", "10Gi", "RWO", "standard", "<unset>", "60m", "<unset>"}},
		{"pending pvc, beta class annotation wins", pending, []any{"new", "Pending", "", "", "", "fast", "<unset>", "60s", "<unset>"}},
	})
}
