package pods

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// serviceEnv returns the environment variables upstream's kubelet gives a pod for Services: those of the
// pod's namespace when enableServiceLinks is on (the default), and always the default namespace's
// "kubernetes" Service. Only Services with a cluster IP count. For each Service FOO_BAR (from foo-bar):
// FOO_BAR_SERVICE_HOST, FOO_BAR_SERVICE_PORT (first port), FOO_BAR_SERVICE_PORT_<NAME> per named port, and
// the Docker link variables FOO_BAR_PORT and FOO_BAR_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
func serviceEnv(pod *corev1.Pod, services []*corev1.Service) map[string]string {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	for _, s := range services {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		switch {
		case s.Namespace == pod.Namespace && links:
			chosen[s.Name] = s
		case s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes":
			if _, ok := chosen[s.Name]; !ok {
				chosen[s.Name] = s
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	env := map[string]string{}
	for _, n := range names {
		s := chosen[n]
		prefix := envName(s.Name)
		ip := s.Spec.ClusterIP
		env[prefix+"_SERVICE_HOST"] = ip
		if len(s.Spec.Ports) == 0 {
			continue
		}
		env[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				env[prefix+"_SERVICE_PORT_"+envName(p.Name)] = strconv.Itoa(int(p.Port))
			}
		}
		first := s.Spec.Ports[0]
		env[prefix+"_PORT"] = linkURL(first, ip)
		for _, p := range s.Spec.Ports {
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(corev1.ProtocolTCP)
			}
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			env[base] = linkURL(p, ip)
			env[base+"_PROTO"] = strings.ToLower(proto)
			env[base+"_PORT"] = strconv.Itoa(int(p.Port))
			env[base+"_ADDR"] = ip
		}
	}
	return env
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

func linkURL(p corev1.ServicePort, ip string) string {
	proto := strings.ToLower(string(p.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%s://%s", proto, net.JoinHostPort(ip, strconv.Itoa(int(p.Port))))
}
