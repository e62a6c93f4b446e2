package validation

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/apiserver/defaults"
)

// FuzzValidatePod feeds arbitrary JSON through the server's path for a Pod:
// decode, Default, Validate, and ValidateUpdate against itself and against a
// minimal pod. None of it may panic, whatever the input.
func FuzzValidatePod(f *testing.F) {
	seeds := []string{
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
		`{"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80,"hostPort":80}],"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['x']"}}}]}],"hostNetwork":true}}`,
		`{"spec":{"volumes":[{"name":"v"},{"name":"e","ephemeral":{"volumeClaimTemplate":{"spec":{}}}},{"name":"p","projected":{"sources":[{"serviceAccountToken":{"path":"t"}},{}]}}],"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"v","mountPath":"/v","subPathExpr":"$(X)"}],"volumeDevices":[{"name":"e","devicePath":"/dev/x"}]}]}}`,
		`{"spec":{"initContainers":[{"name":"i","restartPolicy":"Always","lifecycle":{"preStop":{"sleep":{"seconds":5}}}}],"containers":[{"name":"c","resources":{"limits":{"hugepages-2Mi":"3Mi"},"requests":{"example.com/gpu":"1"}},"livenessProbe":{"grpc":{"port":0}}}]}}`,
		`{"spec":{"os":{"name":"windows"},"securityContext":{"sysctls":[{"name":"net.ipv4.ip_forward"}],"seccompProfile":{"type":"Localhost"}},"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In"}]}]}},"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"matchLabelKeys":["a"]}}]}},"topologySpreadConstraints":[{"maxSkew":1,"minDomains":0}],"dnsPolicy":"None","dnsConfig":{"searches":["."]}}}`,
		`{"spec":{"ephemeralContainers":[{"name":"d","targetContainerName":"nope","ports":[{}]}],"schedulingGates":[{"name":""}],"tolerations":[{"operator":"Exists","tolerationSeconds":1}],"resourceClaims":[{"name":"r"}],"resources":{"claims":[{"name":"r"}]}}}`,
		`{}`, `null`, `{"spec":{"containers":[null]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	minimal := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	defaults.Default(minimal)
	f.Fuzz(func(t *testing.T, data []byte) {
		pod := &corev1.Pod{}
		if err := json.Unmarshal(data, pod); err != nil {
			return
		}
		defaults.Default(pod)
		_ = Validate(pod)
		_ = ValidateUpdate(pod, pod.DeepCopy())
		_ = ValidateUpdate(pod, minimal)
		_ = ValidateUpdate(minimal, pod)
		// Templates take the same spec through the workload paths.
		tmpl := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}}
		defaults.Default(tmpl)
		_ = Validate(tmpl)
	})
}

// FuzzValidateObjects does the same for the other kinds with intricate
// rules, decoding one input into each.
func FuzzValidateObjects(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`{"spec":{"type":"LoadBalancer","clusterIP":"None","clusterIPs":["None","10.0.0.1"],"ports":[{"port":80,"nodePort":1}],"externalTrafficPolicy":"Local","ipFamilies":["IPv6","IPv6"]}}`,
		`{"spec":{"schedule":"TZ=","jobTemplate":{"spec":{"completionMode":"Indexed","successPolicy":{"rules":[{}]},"podFailurePolicy":{"rules":[{"onExitCodes":{"values":[0,0]}}]}}}}}`,
		`{"spec":{"rules":[{"host":"*","http":{"paths":[{"pathType":"Exact","backend":{}}]}}],"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["x"]}}]}]}}`,
		`{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"0%","maxSurge":"x"}},"strategy":{"rollingUpdate":{}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newObj := range fuzzKinds {
			obj := newObj()
			if err := json.Unmarshal(data, obj); err != nil {
				continue
			}
			defaults.Default(obj)
			_ = Validate(obj)
			old := newObj()
			defaults.Default(old)
			_ = ValidateUpdate(obj, old)
			_ = ValidateUpdate(old, obj)
		}
	})
}
