package endpointslice

import (
	"fmt"
	"maps"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controller/controllerutil"
)

const (
	// maxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
	maxEndpointsPerSlice = 100
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the slices this controller owns.
	ManagedBy = "endpointslice-controller.k8s.io"
	// labelHeadless marks slices and Endpoints of headless Services (clusterIP None), as upstream.
	labelHeadless = "service.kubernetes.io/headless"
)

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service")

// hasSelector: the controllers manage endpoints only for Services with a selector (and not ExternalName).
func hasSelector(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// findPort resolves a service port's targetPort in a pod: a number as is (the service port when unset), a
// name through the pod's container ports of the same protocol (containers and sidecar init containers).
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	tp := sp.TargetPort
	if tp.Type == intstr.String && tp.StrVal != "" {
		containers := pod.Spec.Containers
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				containers = append(containers[:len(containers):len(containers)], c)
			}
		}
		for _, c := range containers {
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && pp == proto {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if tp.Type == intstr.Int && tp.IntVal != 0 {
		return tp.IntVal, true
	}
	return sp.Port, true
}

// shouldSetHostname: the pod names itself under this Service (spec.hostname with spec.subdomain = the
// Service's name).
func shouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

func familyOf(ip string) (discoveryv1.AddressType, bool) {
	p := net.ParseIP(ip)
	switch {
	case p == nil:
		return "", false
	case p.To4() != nil:
		return discoveryv1.AddressTypeIPv4, true
	}
	return discoveryv1.AddressTypeIPv6, true
}

// podAddresses returns the pod's IP per address type: for the Service's IP families when it has them,
// otherwise for the family of the pod's primary IP.
func podAddresses(pod *corev1.Pod, svc *corev1.Service) map[discoveryv1.AddressType]string {
	ips := []string{pod.Status.PodIP}
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	out := map[discoveryv1.AddressType]string{}
	if len(svc.Spec.IPFamilies) == 0 {
		if t, ok := familyOf(pod.Status.PodIP); ok {
			out[t] = pod.Status.PodIP
		} else if len(pod.Status.PodIPs) > 0 {
			if t, ok := familyOf(pod.Status.PodIPs[0].IP); ok {
				out[t] = pod.Status.PodIPs[0].IP
			}
		}
		return out
	}
	for _, fam := range svc.Spec.IPFamilies {
		want := discoveryv1.AddressType(fam)
		for _, ip := range ips {
			if t, ok := familyOf(ip); ok && t == want {
				out[t] = ip
				break
			}
		}
	}
	return out
}

// group is the endpoints that share an address type and a port set: the slices of one group carry the
// same ports.
type group struct {
	addrType discoveryv1.AddressType
	ports    []discoveryv1.EndpointPort
	eps      map[string]discoveryv1.Endpoint
}

func portsKey(addrType discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		var name, proto, app string
		var num int32
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		} else {
			proto = string(corev1.ProtocolTCP)
		}
		if p.AppProtocol != nil {
			app = *p.AppProtocol
		}
		if p.Port != nil {
			num = *p.Port
		}
		parts = append(parts, fmt.Sprintf("%s/%s/%d/%s", name, proto, num, app))
	}
	sort.Strings(parts)
	return string(addrType) + "|" + strings.Join(parts, ",")
}

// endpointKey identifies an endpoint across syncs: the pod (UID) and its address.
func endpointKey(ep *discoveryv1.Endpoint) string {
	k := ""
	if ep.TargetRef != nil {
		k = string(ep.TargetRef.UID)
	}
	if len(ep.Addresses) > 0 {
		k += "/" + ep.Addresses[0]
	}
	return k
}

// podEndpoint is the endpoint of one pod, with upstream's conditions: serving is the pod's readiness,
// terminating is its deletion, and ready is serving and not terminating (always true when the Service
// publishes not-ready addresses).
func podEndpoint(pod *corev1.Pod, svc *corev1.Service, addr, zone string) discoveryv1.Endpoint {
	serving := controllerutil.PodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{addr},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	if zone != "" {
		ep.Zone = &zone
	}
	if shouldSetHostname(pod, svc) {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// podPorts resolves the Service's ports for one pod, in the Service's order; ports whose named targetPort
// the pod does not have are left out.
func podPorts(pod *corev1.Pod, svc *corev1.Service) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, ok := findPort(pod, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

// desiredGroups builds the endpoints the Service should have, grouped by address type and port set, from
// the pods its selector matches: pods with an IP that have not finished (terminating ones included, with
// their conditions saying so). zoneOf gives a node's topology.kubernetes.io/zone.
func desiredGroups(svc *corev1.Service, pods []*corev1.Pod, zoneOf func(node string) string) map[string]*group {
	groups := map[string]*group{}
	for _, pod := range pods {
		if controllerutil.PodFinished(pod) || pod.Namespace != svc.Namespace {
			continue
		}
		addrs := podAddresses(pod, svc)
		if len(addrs) == 0 {
			continue
		}
		ports := podPorts(pod, svc)
		zone := ""
		if pod.Spec.NodeName != "" && zoneOf != nil {
			zone = zoneOf(pod.Spec.NodeName)
		}
		for t, addr := range addrs {
			k := portsKey(t, ports)
			g := groups[k]
			if g == nil {
				g = &group{addrType: t, ports: ports, eps: map[string]discoveryv1.Endpoint{}}
				groups[k] = g
			}
			ep := podEndpoint(pod, svc, addr, zone)
			g.eps[endpointKey(&ep)] = ep
		}
	}
	return groups
}

// sliceLabels are the Service's labels plus the slice's service-name and managed-by labels (and the
// headless label for a headless Service), as upstream.
func sliceLabels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, labelHeadless)
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[labelHeadless] = ""
	}
	return l
}

func ownedBy(es *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, r := range es.OwnerReferences {
		if r.UID == svc.UID && r.Kind == "Service" && r.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// plan is what a sync writes: creates first, then updates, then deletes, so a Service does not lose its
// endpoints in between.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// sliceState is one existing slice during reconciliation.
type sliceState struct {
	slice   *discoveryv1.EndpointSlice
	eps     []discoveryv1.Endpoint
	changed bool
}

// reconcile works out the writes that bring the existing slices to the desired groups with little churn:
// endpoints stay in the slice they are in (changed ones are rewritten there), slices whose endpoints are
// all unchanged are not written, new endpoints first fill slices that are written anyway, then new slices
// of at most maxEndpointsPerSlice, the last of which goes into an untouched slice with room instead when
// one has it. Slices left empty are deleted, or reused for slices that would otherwise be created. A
// Service without endpoints keeps one placeholder slice without ports or endpoints, as upstream.
func reconcile(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, desired map[string]*group) plan {
	var p plan
	byKey := map[string][]*discoveryv1.EndpointSlice{}
	var spare []*discoveryv1.EndpointSlice // slices to delete, unless reused
	for _, es := range existing {
		if es.DeletionTimestamp != nil {
			continue
		}
		if !ownedBy(es, svc) || (es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6) {
			p.delete = append(p.delete, es)
			continue
		}
		k := portsKey(es.AddressType, es.Ports)
		byKey[k] = append(byKey[k], es)
	}
	total := 0
	for _, g := range desired {
		total += len(g.eps)
	}
	if total == 0 {
		// The placeholder: keep one existing empty slice of the right kind, or make one.
		t := discoveryv1.AddressTypeIPv4
		if len(svc.Spec.IPFamilies) > 0 {
			t = discoveryv1.AddressType(svc.Spec.IPFamilies[0])
		}
		desired = map[string]*group{portsKey(t, nil): {addrType: t}}
	}
	var unchanged []*sliceState
	var creates []*discoveryv1.EndpointSlice
	for _, k := range sortedKeys(desired) {
		g := desired[k]
		remaining := maps.Clone(g.eps)
		if remaining == nil {
			remaining = map[string]discoveryv1.Endpoint{}
		}
		var states []*sliceState
		var empty []*discoveryv1.EndpointSlice
		slices := byKey[k]
		delete(byKey, k)
		sort.Slice(slices, func(i, j int) bool { return slices[i].Name < slices[j].Name })
		for _, es := range slices {
			st := &sliceState{slice: es}
			for _, ep := range es.Endpoints {
				ek := endpointKey(&ep)
				d, ok := remaining[ek]
				if !ok {
					st.changed = true
					continue
				}
				delete(remaining, ek)
				if !apiequality.Semantic.DeepEqual(d, ep) {
					st.changed = true
				}
				st.eps = append(st.eps, d)
			}
			if len(st.eps) == 0 && !(total == 0 && len(es.Endpoints) == 0 && len(empty) == 0 && len(states) == 0) {
				empty = append(empty, es)
				continue
			}
			states = append(states, st)
		}
		toAdd := make([]discoveryv1.Endpoint, 0, len(remaining))
		for _, ek := range sortedKeys(remaining) {
			toAdd = append(toAdd, remaining[ek])
		}
		// Fill the slices that are written anyway.
		for _, st := range states {
			if !st.changed || len(toAdd) == 0 {
				continue
			}
			n := min(maxEndpointsPerSlice-len(st.eps), len(toAdd))
			if n > 0 {
				st.eps = append(st.eps, toAdd[:n]...)
				toAdd = toAdd[n:]
			}
		}
		// New slices, the last partial one into the fullest untouched slice that has room for it.
		for len(toAdd) > 0 {
			n := min(maxEndpointsPerSlice, len(toAdd))
			chunk := toAdd[:n]
			toAdd = toAdd[n:]
			if n < maxEndpointsPerSlice {
				var best *sliceState
				for _, st := range states {
					if !st.changed && len(st.eps)+n <= maxEndpointsPerSlice && (best == nil || len(st.eps) > len(best.eps)) {
						best = st
					}
				}
				if best != nil {
					best.eps = append(best.eps, chunk...)
					best.changed = true
					continue
				}
			}
			if len(empty) > 0 {
				states = append(states, &sliceState{slice: empty[0], eps: chunk, changed: true})
				empty = empty[1:]
				continue
			}
			es := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace},
				AddressType: g.addrType, Ports: g.ports, Endpoints: chunk,
			}
			creates = append(creates, es)
		}
		if total == 0 && len(states) == 0 {
			creates = append(creates, &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace},
				AddressType: g.addrType,
			})
		}
		spare = append(spare, empty...)
		for _, st := range states {
			if st.changed {
				es := st.slice.DeepCopy()
				es.Endpoints = st.eps
				p.update = append(p.update, es)
			} else {
				unchanged = append(unchanged, st)
			}
		}
	}
	for _, k := range sortedKeys(byKey) {
		spare = append(spare, byKey[k]...)
	}
	// Creates reuse slices that would be deleted (same address type), as updates.
	for _, es := range creates {
		reused := false
		for i, old := range spare {
			if old.AddressType == es.AddressType {
				u := old.DeepCopy()
				u.Ports, u.Endpoints = es.Ports, es.Endpoints
				p.update = append(p.update, u)
				spare = append(spare[:i], spare[i+1:]...)
				reused = true
				break
			}
		}
		if !reused {
			p.create = append(p.create, es)
		}
	}
	p.delete = append(p.delete, spare...)
	// Labels and the owner reference: set on what is written, and a reason to write an untouched slice.
	want := sliceLabels(svc)
	ref := *metav1.NewControllerRef(svc, serviceKind)
	for _, es := range append(p.create, p.update...) {
		es.Labels = maps.Clone(want)
		es.OwnerReferences = []metav1.OwnerReference{ref}
	}
	for _, st := range unchanged {
		if !maps.Equal(st.slice.Labels, want) {
			es := st.slice.DeepCopy()
			es.Labels = maps.Clone(want)
			p.update = append(p.update, es)
		}
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
