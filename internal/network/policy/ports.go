package policy

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// resolvePorts turns policy ports into port ranges; named ports resolve on containerPorts (those of the
// pod the port belongs to) and are left out where that pod has no such port. any is true for no ports.
func resolvePorts(ports []networkingv1.NetworkPolicyPort, containerPorts []corev1.ContainerPort) (out []Port, any bool) {
	if len(ports) == 0 {
		return nil, true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		switch {
		case p.Port == nil:
			out = append(out, Port{Protocol: proto})
		case p.Port.Type == intstr.Int:
			end := p.Port.IntVal
			if p.EndPort != nil && *p.EndPort > end {
				end = *p.EndPort
			}
			out = append(out, Port{proto, p.Port.IntVal, end})
		default:
			for _, cp := range containerPorts {
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				if cp.Name == p.Port.StrVal && cpProto == proto {
					out = append(out, Port{proto, cp.ContainerPort, cp.ContainerPort})
					break
				}
			}
		}
	}
	return out, false
}

// allowsPort says whether the policy ports admit proto/port, known by name too.
func allowsPort(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int32, name string) bool {
	resolved, any := resolvePorts(ports, []corev1.ContainerPort{{Name: name, Protocol: proto, ContainerPort: port}})
	if any {
		return true
	}
	for _, p := range resolved {
		if p.Protocol == proto && (p.From == 0 || p.From <= port && port <= p.To) {
			return true
		}
	}
	return false
}
