package endpointslice

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/controller/controllerutil"
)

const (
	// maxEndpointsAddresses caps an Endpoints object's addresses, as upstream.
	maxEndpointsAddresses = 1000
	// annotationOverCapacity is set to "truncated" on an Endpoints object that hit the cap.
	annotationOverCapacity = "endpoints.kubernetes.io/over-capacity"
	// labelSkipMirror keeps the EndpointSlice mirroring controller off controller-made Endpoints.
	labelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"
)

// endpointsLabels are the Service's labels plus skip-mirror (and headless for a headless Service).
func endpointsLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, labelHeadless)
	l[labelSkipMirror] = "true"
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[labelHeadless] = ""
	}
	return l
}

// endpointsIP is the pod's address in the Service's primary IP family (its primary IP when the Service
// has no families yet).
func endpointsIP(pod *corev1.Pod, svc *corev1.Service) string {
	if len(svc.Spec.IPFamilies) == 0 {
		if pod.Status.PodIP != "" {
			return pod.Status.PodIP
		}
		if len(pod.Status.PodIPs) > 0 {
			return pod.Status.PodIPs[0].IP
		}
		return ""
	}
	primary := &corev1.Service{Spec: corev1.ServiceSpec{IPFamilies: svc.Spec.IPFamilies[:1]}}
	for _, ip := range podAddresses(pod, primary) {
		return ip
	}
	return ""
}

// desiredSubsets builds an Endpoints object's subsets from the pods the Service selects, as upstream:
// ready pods (all of them when the Service publishes not-ready addresses) in addresses, the others in
// notReadyAddresses; terminating pods left out unless not-ready addresses are published; finished pods
// and pods without an IP left out. Addresses sharing the same resolved ports form one subset. Past
// maxEndpointsAddresses addresses the rest is dropped (ready ones kept first) and truncated is true.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) (subsets []corev1.EndpointSubset, truncated bool) {
	type entry struct {
		addr  corev1.EndpointAddress
		ready bool
		ports []corev1.EndpointPort
	}
	var entries []entry
	for _, pod := range pods {
		if controllerutil.PodFinished(pod) || pod.Namespace != svc.Namespace {
			continue
		}
		if pod.DeletionTimestamp != nil && !svc.Spec.PublishNotReadyAddresses {
			continue
		}
		ip := endpointsIP(pod, svc)
		if ip == "" {
			continue
		}
		addr := corev1.EndpointAddress{IP: ip,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
		if pod.Spec.NodeName != "" {
			n := pod.Spec.NodeName
			addr.NodeName = &n
		}
		if shouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		e := entry{addr: addr, ready: svc.Spec.PublishNotReadyAddresses || controllerutil.PodReady(pod)}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, ok := findPort(pod, sp)
			if !ok {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			e.ports = append(e.ports, corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: proto, AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(e.ports) == 0 {
			continue
		}
		sort.Slice(e.ports, func(i, j int) bool { return portString(e.ports[i]) < portString(e.ports[j]) })
		entries = append(entries, e)
	}
	// Cap: ready addresses first, then not-ready ones, in a stable order.
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].ready != entries[j].ready {
			return entries[i].ready
		}
		return addrLess(entries[i].addr, entries[j].addr)
	})
	if len(entries) > maxEndpointsAddresses {
		entries, truncated = entries[:maxEndpointsAddresses], true
	}
	byPorts := map[string]*corev1.EndpointSubset{}
	for _, e := range entries {
		parts := make([]string, len(e.ports))
		for i, p := range e.ports {
			parts[i] = portString(p)
		}
		k := strings.Join(parts, ",")
		ss := byPorts[k]
		if ss == nil {
			ss = &corev1.EndpointSubset{Ports: e.ports}
			byPorts[k] = ss
		}
		if e.ready {
			ss.Addresses = append(ss.Addresses, e.addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, e.addr)
		}
	}
	for _, k := range sortedKeys(byPorts) {
		ss := byPorts[k]
		sort.Slice(ss.Addresses, func(i, j int) bool { return addrLess(ss.Addresses[i], ss.Addresses[j]) })
		sort.Slice(ss.NotReadyAddresses, func(i, j int) bool { return addrLess(ss.NotReadyAddresses[i], ss.NotReadyAddresses[j]) })
		subsets = append(subsets, *ss)
	}
	return subsets, truncated
}

func portString(p corev1.EndpointPort) string {
	app := ""
	if p.AppProtocol != nil {
		app = *p.AppProtocol
	}
	return fmt.Sprintf("%s/%s/%d/%s", p.Name, p.Protocol, p.Port, app)
}

func addrLess(a, b corev1.EndpointAddress) bool {
	if a.IP != b.IP {
		return a.IP < b.IP
	}
	var ua, ub string
	if a.TargetRef != nil {
		ua = string(a.TargetRef.UID)
	}
	if b.TargetRef != nil {
		ub = string(b.TargetRef.UID)
	}
	return ua < ub
}
