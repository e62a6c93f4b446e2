package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Core (legacy group) kinds other than Pod, PV, PVC and Event, which have
// their own files. LimitRange deliberately has no printer: upstream serves
// it with the generic Name/Created At table.

func init() {
	register(nodeColumns, nodeCells)
	register(namespaceColumns, func(ns *corev1.Namespace, now time.Time) []any {
		return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
	})
	register(serviceColumns, serviceCells)
	register(endpointsColumns, func(ep *corev1.Endpoints, now time.Time) []any {
		return []any{ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp, now)}
	})
	register(configMapColumns, func(cm *corev1.ConfigMap, now time.Time) []any {
		// Binary keys are data too.
		return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
	})
	register(secretColumns, func(s *corev1.Secret, now time.Time) []any {
		return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}
	})
	register(serviceAccountColumns, func(sa *corev1.ServiceAccount, now time.Time) []any {
		return []any{sa.Name, age(sa.CreationTimestamp, now)}
	})
	register(replicationControllerColumns, replicationControllerCells)
	register(podTemplateColumns, func(pt *corev1.PodTemplate, _ time.Time) []any {
		names, images := containerCells(pt.Template.Spec.Containers)
		return []any{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}
	})
	register(resourceQuotaColumns, resourceQuotaCells)
	register(componentStatusColumns, componentStatusCells)
}

var nodeColumns = cols(
	nameColumn(),
	column("Status", "string", "The status of the node"),
	column("Roles", "string", "The roles of the node"),
	ageColumn(),
	column("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
	wideColumn("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
	wideColumn("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
	wideColumn("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
	wideColumn("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
	wideColumn("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
)

// Node role labels: node-role.kubernetes.io/<role>="" and the older
// kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	nodeRoleLabel       = "kubernetes.io/role"
)

func nodeCells(n *corev1.Node, now time.Time) []any {
	// Only the Ready condition makes it into STATUS; the pressure conditions
	// are for describe.
	var status []string
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			status = []string{string(c.Type)}
		} else {
			status = []string{"Not" + string(c.Type)}
		}
		// The last Ready condition wins, matching upstream's map of
		// conditions by type.
	}
	if len(status) == 0 {
		status = []string{"Unknown"}
	}
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	info := n.Status.NodeInfo
	unknownIfEmpty := func(s string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	return []any{
		n.Name,
		strings.Join(status, ","),
		orNone(strings.Join(nodeRoles(n), ",")),
		age(n.CreationTimestamp, now),
		info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP),
		nodeAddress(n, corev1.NodeExternalIP),
		unknownIfEmpty(info.OSImage),
		unknownIfEmpty(info.KernelVersion),
		unknownIfEmpty(info.ContainerRuntimeVersion),
	}
}

// nodeRoles returns the sorted, distinct roles from the role labels.
func nodeRoles(n *corev1.Node) []string {
	set := map[string]struct{}{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				set[role] = struct{}{}
			}
		case k == nodeRoleLabel && v != "":
			set[v] = struct{}{}
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the first address of the given type.
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

var namespaceColumns = cols(
	nameColumn(),
	column("Status", "string", "The status of the namespace"),
	ageColumn(),
)

var serviceColumns = cols(
	nameColumn(),
	column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
	column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
	column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
	column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
	ageColumn(),
	wideColumn("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
)

func serviceCells(svc *corev1.Service, now time.Time) []any {
	svcType := svc.Spec.Type
	if svcType == "" {
		svcType = corev1.ServiceTypeClusterIP // the apiserver default
	}
	clusterIP := none
	switch {
	case len(svc.Spec.ClusterIPs) > 0:
		clusterIP = svc.Spec.ClusterIPs[0]
	case svc.Spec.ClusterIP != "":
		// Single-stack writers may fill only clusterIP; upstream's
		// conversion mirrors it into clusterIPs.
		clusterIP = svc.Spec.ClusterIP
	}
	return []any{
		svc.Name,
		string(svcType),
		clusterIP,
		serviceExternalIP(svc, svcType),
		orNone(servicePorts(svc.Spec.Ports)),
		age(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP fills EXTERNAL-IP: the configured external IPs, for load
// balancers the provisioned addresses (or <pending> until there are any),
// for ExternalName services the DNS name.
func serviceExternalIP(svc *corev1.Service, svcType corev1.ServiceType) string {
	switch svcType {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return none
	case corev1.ServiceTypeLoadBalancer:
		lb := loadBalancerAddresses(svc.Status.LoadBalancer.Ingress)
		if len(svc.Spec.ExternalIPs) > 0 {
			var all []string
			if lb != "" {
				all = append(all, strings.Split(lb, ",")...)
			}
			return strings.Join(append(all, svc.Spec.ExternalIPs...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

// loadBalancerAddresses lists each ingress point once (IP preferred over
// hostname), sorted. Server-side printing always renders the wide form, so
// unlike kubectl's old client-side printer nothing is truncated here.
func loadBalancerAddresses(ingress []corev1.LoadBalancerIngress) string {
	addrs := make([]string, 0, len(ingress))
	for _, in := range ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else {
			addrs = append(addrs, in.Hostname)
		}
	}
	return sortedSetString(addrs)
}

// servicePorts renders "80/TCP,443:30443/TCP" (port:nodePort/protocol).
func servicePorts(ports []corev1.ServicePort) string {
	var b strings.Builder
	for i := range ports {
		p := &ports[i]
		if i > 0 {
			b.WriteByte(',')
		}
		protocol := p.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP // the apiserver default
		}
		b.WriteString(strconv.Itoa(int(p.Port)))
		if p.NodePort > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(int(p.NodePort)))
		}
		b.WriteByte('/')
		b.WriteString(string(protocol))
	}
	return b.String()
}

var endpointsColumns = cols(
	nameColumn(),
	column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
	ageColumn(),
)

// formatEndpoints shows up to three ip:port pairs (bare IPs for subsets
// without ports, i.e. headless services) and counts the rest.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	list := newTruncatedList(3)
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		if len(ss.Ports) == 0 {
			for j := range ss.Addresses {
				list.add(ss.Addresses[j].IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			for j := range ss.Addresses {
				list.add(net.JoinHostPort(ss.Addresses[j].IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	return list.String()
}

var configMapColumns = cols(
	nameColumn(),
	column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
	ageColumn(),
)

var secretColumns = cols(
	nameColumn(),
	column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
	column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
	ageColumn(),
)

var serviceAccountColumns = nameAgeColumns

var replicationControllerColumns = cols(
	nameColumn(),
	column("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
	column("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
	column("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	templateColumns(corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
)

func replicationControllerCells(rc *corev1.ReplicationController, now time.Time) []any {
	var containers []corev1.Container
	if rc.Spec.Template != nil {
		containers = rc.Spec.Template.Spec.Containers
	}
	names, images := containerCells(containers)
	return []any{
		rc.Name,
		int64(int32Or(rc.Spec.Replicas, 1)), // replicas defaults to 1
		int64(rc.Status.Replicas),
		int64(rc.Status.ReadyReplicas),
		age(rc.CreationTimestamp, now),
		names, images, labels.FormatLabels(rc.Spec.Selector),
	}
}

var podTemplateColumns = cols(
	nameColumn(),
	column("Containers", "string", containersDoc),
	column("Images", "string", imagesDoc),
	column("Pod Labels", "string", "The labels for the pod template."),
)

var resourceQuotaColumns = cols(
	nameColumn(),
	column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
	column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
	ageColumn(),
)

// resourceQuotaCells renders "used/hard" per resource, sorted by name, with
// limits.* resources in the LIMIT column and everything else in REQUEST.
func resourceQuotaCells(q *corev1.ResourceQuota, now time.Time) []any {
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)

	var requests, limits []string
	for _, name := range names {
		used := q.Status.Used[corev1.ResourceName(name)]
		hard := q.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if prefix, _, found := strings.Cut(name, "."); found && prefix == "limits" {
			limits = append(limits, entry)
		} else {
			requests = append(requests, entry)
		}
	}
	return []any{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(q.CreationTimestamp, now)}
}

var componentStatusColumns = cols(
	nameColumn(),
	column("Status", "string", "Status of the component conditions"),
	column("Message", "string", "Message of the component conditions"),
	column("Error", "string", "Error of the component conditions"),
)

func componentStatusCells(cs *corev1.ComponentStatus, _ time.Time) []any {
	status, message, errText := "Unknown", "", ""
	for _, c := range cs.Conditions {
		if c.Type != corev1.ComponentHealthy {
			continue
		}
		status = "Unhealthy"
		if c.Status == corev1.ConditionTrue {
			status = "Healthy"
		}
		message, errText = c.Message, c.Error
		break
	}
	return []any{cs.Name, status, message, errText}
}
