package rbac

import rbacv1 "k8s.io/api/rbac/v1"

// controllerRole is one controller's least-privilege ClusterRole, system:controller:<name>, bound (as upstream)
// to the ServiceAccount kube-system/<name> that the controller runs as when the controller manager uses
// --use-service-account-credentials.
type controllerRole struct {
	name  string
	rules []rbacv1.PolicyRule
}

var eventsRW = verbs("create", "update", "patch").on("", "events.k8s.io").res("events")

func controllerRoles() []controllerRole {
	return []controllerRole{
		{"attachdetach-controller", rules(
			verbs("list", "watch").on("").res("persistentvolumeclaims", "persistentvolumes"),
			verbs(read...).on("").res("nodes"),
			verbs("patch", "update").on("").res("nodes/status"),
			verbs("list", "watch").on("").res("pods"),
			eventsRW,
			verbs("create", "delete", "get", "list", "watch").on("storage.k8s.io").res("volumeattachments"),
			verbs(read...).on("storage.k8s.io").res("csidrivers"),
			verbs(read...).on("storage.k8s.io").res("csinodes"),
		)},
		{"certificate-controller", rules(
			verbs("delete", "get", "list", "watch").on("certificates.k8s.io").res("certificatesigningrequests"),
			verbs("update").on("certificates.k8s.io").res("certificatesigningrequests/approval", "certificatesigningrequests/status"),
			// kubelet-serving and get nodes: skiff's serving certificate approval rule (not upstream's).
			verbs("approve").on("certificates.k8s.io").res("signers").names("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"),
			verbs("get").on("").res("nodes"),
			verbs("sign").on("certificates.k8s.io").res("signers").names("kubernetes.io/kube-apiserver-client",
				"kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"),
			verbs("create").on("authorization.k8s.io").res("subjectaccessreviews"),
			eventsRW,
		)},
		{"clusterrole-aggregation-controller", rules(
			verbs("escalate", "get", "list", "patch", "update", "watch").on(rbacv1.GroupName).res("clusterroles"),
		)},
		{"cronjob-controller", rules(
			verbs("get", "list", "update", "watch").on("batch").res("cronjobs"),
			verbs("create", "delete", "get", "list", "patch", "update", "watch").on("batch").res("jobs"),
			verbs("update").on("batch").res("cronjobs/status"),
			verbs("update").on("batch").res("cronjobs/finalizers"),
			verbs("delete", "list", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"daemon-set-controller", rules(
			verbs(read...).on("apps", "extensions").res("daemonsets"),
			verbs("update").on("apps", "extensions").res("daemonsets/status"),
			verbs("update").on("apps", "extensions").res("daemonsets/finalizers"),
			verbs("list", "watch").on("").res("nodes"),
			verbs("create", "delete", "list", "patch", "watch").on("").res("pods"),
			verbs("create").on("").res("pods/binding"),
			verbs("create", "delete", "get", "list", "patch", "update", "watch").on("apps").res("controllerrevisions"),
			eventsRW,
		)},
		{"deployment-controller", rules(
			verbs("get", "list", "update", "watch").on("apps", "extensions").res("deployments"),
			// skiff: the revision annotation is written with a metadata merge patch.
			verbs("patch").on("apps").res("deployments"),
			verbs("update").on("apps", "extensions").res("deployments/status"),
			verbs("update").on("apps", "extensions").res("deployments/finalizers"),
			verbs("create", "delete", "get", "list", "patch", "update", "watch").on("apps", "extensions").res("replicasets"),
			verbs("get", "list", "update", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"disruption-controller", rules(
			verbs(read...).on("apps", "extensions").res("deployments"),
			verbs(read...).on("apps", "extensions").res("replicasets"),
			verbs(read...).on("").res("replicationcontrollers"),
			verbs(read...).on("policy").res("poddisruptionbudgets"),
			verbs(read...).on("apps").res("statefulsets"),
			verbs("update").on("policy").res("poddisruptionbudgets/status"),
			verbs("patch", "update").on("").res("pods/status"),
			verbs("get").on("*").res("*/scale"),
			eventsRW,
		)},
		{"endpoint-controller", rules(
			verbs(read...).on("").res("pods", "services"),
			verbs("create", "delete", "get", "list", "update", "watch").on("").res("endpoints"),
			verbs("create").on("").res("endpoints/restricted"),
			eventsRW,
		)},
		{"endpointslice-controller", rules(
			verbs(read...).on("").res("nodes", "pods", "services"),
			verbs("update").on("").res("services/finalizers"),
			verbs("create", "delete", "get", "list", "update", "watch").on("discovery.k8s.io").res("endpointslices"),
			eventsRW,
		)},
		{"endpointslicemirroring-controller", rules(
			verbs(read...).on("").res("endpoints", "services"),
			verbs("update").on("").res("services/finalizers"),
			verbs("update").on("").res("endpoints/finalizers"),
			verbs("create", "delete", "get", "list", "update", "watch").on("discovery.k8s.io").res("endpointslices"),
			eventsRW,
		)},
		{"ephemeral-volume-controller", rules(
			verbs(read...).on("").res("pods"),
			verbs("update").on("").res("pods/finalizers"),
			verbs("create", "get", "list", "watch").on("").res("persistentvolumeclaims"),
			eventsRW,
		)},
		{"expand-controller", rules(
			verbs("get", "list", "patch", "update", "watch").on("").res("persistentvolumes"),
			verbs("patch", "update").on("").res("persistentvolumeclaims/status"),
			verbs(read...).on("").res("persistentvolumeclaims"),
			eventsRW,
		)},
		{"generic-garbage-collector", rules(
			verbs("delete", "get", "list", "patch", "update", "watch").on("*").res("*"),
			eventsRW,
		)},
		{"horizontal-pod-autoscaler", rules(
			verbs(read...).on("autoscaling").res("horizontalpodautoscalers"),
			verbs("update").on("autoscaling").res("horizontalpodautoscalers/status"),
			verbs("get", "update").on("*").res("*/scale"),
			verbs("list", "watch").on("").res("pods"),
			verbs("list", "watch").on("metrics.k8s.io").res("pods"),
			verbs(read...).on("custom.metrics.k8s.io").res("*"),
			verbs(read...).on("external.metrics.k8s.io").res("*"),
			eventsRW,
		)},
		{"job-controller", rules(
			verbs("get", "list", "patch", "update", "watch").on("batch").res("jobs"),
			verbs("update").on("batch").res("jobs/status"),
			verbs("update").on("batch").res("jobs/finalizers"),
			verbs("create", "delete", "list", "patch", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"legacy-service-account-token-cleaner", rules(
			verbs("get").on("").res("configmaps").names("kube-apiserver-legacy-service-account-token-tracking"),
			verbs("delete", "patch").on("").res("secrets"),
		)},
		{"namespace-controller", rules(
			verbs("delete", "get", "list", "watch").on("").res("namespaces"),
			verbs("update").on("").res("namespaces/finalize", "namespaces/status"),
			verbs("delete", "deletecollection", "get", "list", "watch").on("*").res("*"),
		)},
		{"node-controller", rules(
			verbs("delete", "get", "list", "patch", "update", "watch").on("").res("nodes"),
			verbs("patch", "update").on("").res("nodes/status"),
			verbs("patch", "update").on("").res("pods/status"),
			verbs("delete", "get", "list", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"persistent-volume-binder", rules(
			verbs("create", "delete", "get", "list", "update", "watch").on("").res("persistentvolumes"),
			verbs("update").on("").res("persistentvolumes/status"),
			verbs("get", "list", "update", "watch").on("").res("persistentvolumeclaims"),
			verbs("update").on("").res("persistentvolumeclaims/status"),
			verbs("create", "delete", "get", "list", "watch").on("").res("pods"),
			verbs(read...).on("storage.k8s.io").res("storageclasses"),
			verbs("list", "watch").on("").res("nodes"),
			eventsRW,
			verbs("watch").on("").res("events"),
		)},
		{"pod-garbage-collector", rules(
			verbs("delete", "list", "watch").on("").res("pods"),
			verbs(read...).on("").res("nodes"),
			verbs("patch").on("").res("pods/status"),
			// skiff: the failed phase is written with an update of the status.
			verbs("update").on("").res("pods/status"),
		)},
		{"pv-protection-controller", rules(
			verbs("get", "list", "update", "watch").on("").res("persistentvolumes"),
			eventsRW,
		)},
		{"pvc-protection-controller", rules(
			verbs("get", "list", "update", "watch").on("").res("persistentvolumeclaims"),
			verbs("update").on("").res("persistentvolumeclaims/status"),
			verbs(read...).on("").res("pods"),
			eventsRW,
		)},
		{"replicaset-controller", rules(
			verbs("get", "list", "update", "watch").on("apps", "extensions").res("replicasets"),
			verbs("update").on("apps", "extensions").res("replicasets/status"),
			verbs("update").on("apps", "extensions").res("replicasets/finalizers"),
			verbs("create", "delete", "list", "patch", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"replication-controller", rules(
			verbs("get", "list", "update", "watch").on("").res("replicationcontrollers"),
			verbs("update").on("").res("replicationcontrollers/status"),
			verbs("update").on("").res("replicationcontrollers/finalizers"),
			verbs("create", "delete", "list", "patch", "watch").on("").res("pods"),
			eventsRW,
		)},
		{"resourcequota-controller", rules(
			verbs("list", "watch").on("*").res("*"),
			verbs("update").on("").res("resourcequotas/status"),
			eventsRW,
		)},
		{"root-ca-cert-publisher", rules(
			verbs("create", "update").on("").res("configmaps"),
			eventsRW,
		)},
		{"route-controller", rules(
			verbs("list", "watch").on("").res("nodes"),
			verbs("patch").on("").res("nodes/status"),
			eventsRW,
		)},
		{"service-account-controller", rules(
			verbs("create").on("").res("serviceaccounts"),
			eventsRW,
		)},
		{"service-cidrs-controller", rules(
			verbs("get", "list", "patch", "update", "watch").on("networking.k8s.io").res("servicecidrs"),
			verbs("patch", "update").on("networking.k8s.io").res("servicecidrs/finalizers"),
			verbs("patch", "update").on("networking.k8s.io").res("servicecidrs/status"),
			verbs(read...).on("networking.k8s.io").res("ipaddresses"),
			eventsRW,
		)},
		{"service-controller", rules(
			verbs(read...).on("").res("services"),
			verbs("patch", "update").on("").res("services/status"),
			verbs("list", "watch").on("").res("nodes"),
			eventsRW,
		)},
		// skiff's built-in load balancer (k3s's servicelb): node addresses in LoadBalancer Services' status.
		{"servicelb-controller", rules(
			verbs(read...).on("").res("services"),
			verbs("patch", "update").on("").res("services/status"),
			verbs("list", "watch").on("").res("nodes"),
			eventsRW,
		)},
		{"statefulset-controller", rules(
			verbs("list", "watch").on("").res("pods"),
			verbs(read...).on("apps").res("statefulsets"),
			verbs("update").on("apps").res("statefulsets/status"),
			verbs("update").on("apps").res("statefulsets/finalizers"),
			verbs("create", "delete", "get", "patch", "update").on("").res("pods"),
			verbs("create", "delete", "get", "list", "patch", "update", "watch").on("apps").res("controllerrevisions"),
			verbs("create", "get", "list", "watch").on("").res("persistentvolumeclaims"),
			verbs("delete", "update").on("").res("persistentvolumeclaims"),
			verbs("update").on("").res("pods/finalizers"),
			eventsRW,
		)},
		{"taint-eviction-controller", rules(
			verbs("patch", "update").on("").res("pods/status"),
			verbs("delete", "get", "list").on("").res("pods"),
			eventsRW,
		)},
		// skiff: upstream's tokens controller (serviceaccount-token) runs with the controller manager's root
		// credentials; skiff gives it only what it does: fill and delete Secrets of type
		// kubernetes.io/service-account-token, read their ServiceAccounts.
		{"tokens-controller", rules(
			verbs("delete", "get", "list", "update", "watch").on("").res("secrets"),
			verbs("get").on("").res("serviceaccounts"),
		)},
		{"ttl-after-finished-controller", rules(
			verbs("delete", "get", "list", "watch").on("batch").res("jobs"),
			eventsRW,
		)},
		{"ttl-controller", rules(
			verbs("list", "patch", "update", "watch").on("").res("nodes"),
			eventsRW,
		)},
		{"validatingadmissionpolicy-status-controller", rules(
			verbs(read...).on("admissionregistration.k8s.io").res("validatingadmissionpolicies"),
			verbs("get", "patch", "update").on("admissionregistration.k8s.io").res("validatingadmissionpolicies/status"),
			eventsRW,
		)},
	}
}
