package server

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff/internal/apiserver"
)

// parseReserved adds up --kube-reserved and --system-reserved (name=quantity for cpu, memory,
// ephemeral-storage and pid).
func parseReserved(lists ...map[string]string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for i, l := range lists {
		flag := []string{"--kube-reserved", "--system-reserved"}[i]
		for k, v := range l {
			switch k {
			case "cpu", "memory", "ephemeral-storage", "pid":
			default:
				return nil, fmt.Errorf("%s: unknown resource %q (want cpu, memory, ephemeral-storage or pid)", flag, k)
			}
			q, err := resource.ParseQuantity(v)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("%s: %s=%q is not a non-negative quantity", flag, k, v)
			}
			sum := out[corev1.ResourceName(k)]
			sum.Add(q)
			out[corev1.ResourceName(k)] = sum
		}
	}
	return out, nil
}

// parseTaints reads --register-with-taints entries: key=value:Effect or key:Effect.
func parseTaints(specs []string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, s := range specs {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q: want key=value:Effect", s)
		}
		k, v, _ := strings.Cut(kv, "=")
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out, nil
}

// parseServiceRanges reads --service-cidr and --service-node-port-range.
func parseServiceRanges(cidr, ports string) (*apiserver.ServiceRanges, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("--service-cidr: %w", err)
	}
	if ones, bits := ipnet.Mask.Size(); bits-ones < 2 {
		return nil, fmt.Errorf("--service-cidr %s is too small", cidr)
	} else if bits-ones > 20 {
		return nil, fmt.Errorf("--service-cidr %s is too large: at most 20 host bits (a /12 for IPv4), as upstream", cidr)
	}
	lo, hi, ok := strings.Cut(ports, "-")
	minP, err1 := strconv.Atoi(lo)
	maxP, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || minP < 1 || maxP > 65535 || minP > maxP {
		return nil, fmt.Errorf("--service-node-port-range %q: want MIN-MAX within 1-65535", ports)
	}
	return &apiserver.ServiceRanges{CIDR: ipnet, NodePortMin: minP, NodePortMax: maxP}, nil
}
