package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The default policy mirrors upstream's bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
// the same role names, rules, labels and bindings, so manifests and habits written for upstream clusters hold.
// The controllers' own roles (system:controller:*) are bound to kube-system ServiceAccounts as upstream does;
// skiff's controllers act as those ServiceAccounts (internal/controller/manager), with a few "skiff:" rules
// added where a controller writes differently from upstream's.

const (
	// AutoUpdateAnnotation, unless "false", lets the server add missing rules and subjects at start.
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	bootstrapLabel       = "kubernetes.io/bootstrapping"
	aggregateToAdmin     = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit      = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView      = "rbac.authorization.k8s.io/aggregate-to-view"
)

var (
	read      = []string{"get", "list", "watch"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	events    = rules(verbs("create", "update", "patch").on("", "events.k8s.io").res("events"))
)

// ruleB builds a policy rule: verbs(...).on(groups...).res(resources...) or verbs(...).urls(...).
type ruleB rbacv1.PolicyRule

func verbs(v ...string) ruleB                 { return ruleB{Verbs: v} }
func (r ruleB) on(groups ...string) ruleB     { r.APIGroups = groups; return r }
func (r ruleB) res(resources ...string) ruleB { r.Resources = resources; return r }
func (r ruleB) names(names ...string) ruleB   { r.ResourceNames = names; return r }
func (r ruleB) urls(urls ...string) ruleB     { r.NonResourceURLs = urls; return r }

func rules(bs ...ruleB) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(bs))
	for i, b := range bs {
		out[i] = rbacv1.PolicyRule(b)
	}
	return out
}

func clusterRole(name string, labels map[string]string, rs ...[]rbacv1.PolicyRule) rbacv1.ClusterRole {
	l := map[string]string{bootstrapLabel: "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	var all []rbacv1.PolicyRule
	for _, r := range rs {
		all = append(all, r...)
	}
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l,
		Annotations: map[string]string{AutoUpdateAnnotation: "true"}}, Rules: all}
}

func aggregated(name string, selectorLabel string, labels map[string]string) rbacv1.ClusterRole {
	r := clusterRole(name, labels)
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{selectorLabel: "true"}}}}
	return r
}

// DefaultClusterRoles returns the ClusterRoles every cluster starts with, the controllers' own roles
// (system:controller:*) last.
func DefaultClusterRoles() []rbacv1.ClusterRole {
	roles := baseClusterRoles()
	for _, c := range controllerRoles() {
		roles = append(roles, clusterRole("system:controller:"+c.name, nil, c.rules))
	}
	return roles
}

func baseClusterRoles() []rbacv1.ClusterRole {
	return []rbacv1.ClusterRole{
		clusterRole("cluster-admin", nil, rules(verbs("*").on("*").res("*"), verbs("*").urls("*"))),
		aggregated("admin", aggregateToAdmin, nil),
		aggregated("edit", aggregateToEdit, map[string]string{aggregateToAdmin: "true"}),
		aggregated("view", aggregateToView, map[string]string{aggregateToEdit: "true"}),
		clusterRole("system:aggregate-to-admin", map[string]string{aggregateToAdmin: "true"}, rules(
			verbs("create").on("authorization.k8s.io").res("localsubjectaccessreviews"),
			verbs(readWrite...).on("rbac.authorization.k8s.io").res("rolebindings", "roles"),
		)),
		clusterRole("system:aggregate-to-edit", map[string]string{aggregateToEdit: "true"}, rules(
			verbs(read...).on("").res("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
			verbs("impersonate").on("").res("serviceaccounts"),
			verbs(write...).on("").res("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
			verbs("create").on("").res("pods/eviction"),
			verbs(write...).on("").res("configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
				"replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
			verbs("create").on("").res("serviceaccounts/token"),
			verbs(write...).on("apps").res("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
				"replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
			verbs(write...).on("autoscaling").res("horizontalpodautoscalers"),
			verbs(write...).on("batch").res("cronjobs", "jobs"),
			verbs(write...).on("extensions").res("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
				"ingresses", "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"),
			verbs(write...).on("policy").res("poddisruptionbudgets"),
			verbs(write...).on("networking.k8s.io").res("ingresses", "networkpolicies"),
			verbs(readWrite...).on("coordination.k8s.io").res("leases"),
		)),
		clusterRole("system:aggregate-to-view", map[string]string{aggregateToView: "true"}, rules(
			verbs(read...).on("").res("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
				"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
			verbs(read...).on("").res("bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
				"replicationcontrollers/status", "resourcequotas", "resourcequotas/status"),
			verbs(read...).on("").res("namespaces"),
			verbs(read...).on("discovery.k8s.io").res("endpointslices"),
			verbs(read...).on("apps").res("controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
				"deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale",
				"statefulsets/status"),
			verbs(read...).on("autoscaling").res("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			verbs(read...).on("batch").res("cronjobs", "cronjobs/status", "jobs", "jobs/status"),
			verbs(read...).on("extensions").res("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
				"deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale",
				"replicasets/status", "replicationcontrollers/scale"),
			verbs(read...).on("policy").res("poddisruptionbudgets", "poddisruptionbudgets/status"),
			verbs(read...).on("networking.k8s.io").res("ingresses", "ingresses/status", "networkpolicies"),
		)),
		clusterRole("system:basic-user", nil, rules(
			verbs("create").on("authorization.k8s.io").res("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			verbs("create").on("authentication.k8s.io").res("selfsubjectreviews"),
		)),
		clusterRole("system:discovery", nil, rules(verbs("get").urls("/api", "/api/*", "/apis", "/apis/*", "/healthz",
			"/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"))),
		clusterRole("system:public-info-viewer", nil, rules(verbs("get").urls("/healthz", "/livez", "/readyz", "/version", "/version/"))),
		clusterRole("system:monitoring", nil, rules(verbs("get").urls("/healthz", "/healthz/*", "/livez", "/livez/*",
			"/metrics", "/metrics/slis", "/readyz", "/readyz/*"))),
		clusterRole("system:auth-delegator", nil, rules(
			verbs("create").on("authentication.k8s.io").res("tokenreviews"),
			verbs("create").on("authorization.k8s.io").res("subjectaccessreviews"),
		)),
		clusterRole("system:service-account-issuer-discovery", nil, rules(verbs("get").urls("/.well-known/openid-configuration", "/openid/v1/jwks"))),
		clusterRole("system:kube-scheduler", nil, events, rules(
			verbs("create").on("coordination.k8s.io").res("leases"),
			verbs("get", "update").on("coordination.k8s.io").res("leases").names("kube-scheduler"),
			verbs(read...).on("").res("nodes"),
			verbs("delete", "get", "list", "watch").on("").res("pods"),
			verbs("create").on("").res("bindings", "pods/binding"),
			verbs("patch", "update").on("").res("pods/status"),
			verbs(read...).on("").res("replicationcontrollers", "services"),
			verbs(read...).on("apps", "extensions").res("replicasets"),
			verbs(read...).on("apps").res("statefulsets"),
			verbs(read...).on("policy").res("poddisruptionbudgets"),
			verbs(read...).on("").res("persistentvolumeclaims", "persistentvolumes"),
			verbs("create").on("authentication.k8s.io").res("tokenreviews"),
			verbs("create").on("authorization.k8s.io").res("subjectaccessreviews"),
			verbs(read...).on("storage.k8s.io").res("csinodes"),
			verbs(read...).on("").res("namespaces"),
			verbs(read...).on("storage.k8s.io").res("csidrivers"),
			verbs(read...).on("storage.k8s.io").res("csistoragecapacities"),
		)),
		clusterRole("system:volume-scheduler", nil, rules(
			verbs("get", "list", "patch", "update", "watch").on("").res("persistentvolumes"),
			verbs(read...).on("storage.k8s.io").res("storageclasses"),
			verbs("get", "list", "patch", "update", "watch").on("").res("persistentvolumeclaims"),
		)),
		clusterRole("system:kube-controller-manager", nil, events, rules(
			verbs("create").on("coordination.k8s.io").res("leases"),
			verbs("get", "update").on("coordination.k8s.io").res("leases").names("kube-controller-manager"),
			verbs("create").on("").res("secrets", "serviceaccounts"),
			verbs("delete").on("").res("secrets"),
			verbs("get").on("").res("configmaps", "namespaces", "secrets", "serviceaccounts"),
			verbs("update").on("").res("secrets", "serviceaccounts"),
			verbs("create").on("authentication.k8s.io").res("tokenreviews"),
			verbs("create").on("authorization.k8s.io").res("subjectaccessreviews"),
			verbs("list", "watch").on("*").res("*"),
			verbs("create").on("").res("serviceaccounts/token"),
		)),
		clusterRole("system:node", nil, rules(
			verbs("create").on("authentication.k8s.io").res("tokenreviews"),
			verbs("create").on("authorization.k8s.io").res("localsubjectaccessreviews", "subjectaccessreviews"),
			verbs(read...).on("").res("services"),
			verbs("create", "get", "list", "watch").on("").res("nodes"),
			verbs("patch", "update").on("").res("nodes/status"),
			verbs("patch", "update").on("").res("nodes"),
			verbs("create", "patch", "update").on("").res("events"),
			verbs(read...).on("").res("pods"),
			verbs("create", "delete").on("").res("pods"),
			verbs("patch", "update").on("").res("pods/status"),
			verbs("create").on("").res("pods/eviction"),
			verbs(read...).on("").res("configmaps", "secrets"),
			verbs("get").on("").res("persistentvolumeclaims", "persistentvolumes"),
			verbs("get").on("").res("endpoints"),
			verbs("create", "get", "list", "watch").on("certificates.k8s.io").res("certificatesigningrequests"),
			verbs("create", "delete", "get", "patch", "update").on("coordination.k8s.io").res("leases"),
			verbs("get").on("storage.k8s.io").res("volumeattachments"),
			verbs("create").on("").res("serviceaccounts/token"),
			verbs("get", "patch", "update").on("").res("persistentvolumeclaims/status"),
			verbs(read...).on("storage.k8s.io").res("csidrivers"),
			verbs("create", "delete", "get", "patch", "update").on("storage.k8s.io").res("csinodes"),
			verbs(read...).on("node.k8s.io").res("runtimeclasses"),
		)),
		clusterRole("system:node-proxier", nil, rules(
			verbs("list", "watch").on("").res("endpoints", "services"),
			verbs(read...).on("").res("nodes"),
		), events, rules(verbs("list", "watch").on("discovery.k8s.io").res("endpointslices"))),
		clusterRole("system:node-bootstrapper", nil, rules(
			verbs("create", "get", "list", "watch").on("certificates.k8s.io").res("certificatesigningrequests"))),
		clusterRole("system:kube-dns", nil, rules(verbs("list", "watch").on("").res("endpoints", "services"),
			verbs("list", "watch").on("discovery.k8s.io").res("endpointslices"))),
		// skiff's own node components (no upstream counterpart), each bound to a user of the same name.
		clusterRole("system:skiff:network-policy", nil, rules(
			verbs("list", "watch").on("networking.k8s.io").res("networkpolicies"),
			verbs("list", "watch").on("").res("pods", "namespaces"))),
		// The overlay reads every Node's pod subnet and writes its own Node's VTEP annotation (RBAC cannot
		// narrow patch to the caller's own Node).
		clusterRole("system:skiff:overlay", nil, rules(verbs("get", "list", "watch", "patch").on("").res("nodes"))),
		// The DNS endpoints writer reads its Node (the owner of the node's kube-dns EndpointSlice); the rest of
		// its rights are a kube-system Role of the same name.
		clusterRole("system:skiff:dns-endpoints", nil, rules(verbs("get", "list", "watch").on("").res("nodes"))),
		clusterRole("system:kubelet-api-admin", nil, rules(
			verbs(read...).on("").res("nodes"),
			verbs("proxy").on("").res("nodes"),
			verbs("*").on("").res("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"),
		)),
		clusterRole("system:persistent-volume-provisioner", nil, rules(
			verbs("create", "delete", "get", "list", "watch").on("").res("persistentvolumes"),
			verbs("get", "list", "update", "watch").on("").res("persistentvolumeclaims"),
			verbs(read...).on("storage.k8s.io").res("storageclasses"),
			verbs("watch").on("").res("events"),
		), events),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", nil, rules(
			verbs("create").on("certificates.k8s.io").res("certificatesigningrequests/nodeclient"))),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", nil, rules(
			verbs("create").on("certificates.k8s.io").res("certificatesigningrequests/selfnodeclient"))),
	}
}

func subject(kind, name string) rbacv1.Subject {
	s := rbacv1.Subject{Kind: kind, Name: name}
	if kind != rbacv1.ServiceAccountKind {
		s.APIGroup = rbacv1.GroupName
	}
	return s
}

// namedClusterBinding is a binding whose name is not its role's.
func namedClusterBinding(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	b := clusterBinding(role, subjects...)
	b.Name = name
	return b
}

func clusterBinding(role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role, Labels: map[string]string{bootstrapLabel: "rbac-defaults"},
			Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: subjects,
	}
}

// DefaultClusterRoleBindings returns the ClusterRoleBindings every cluster starts with.
func DefaultClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bindings := baseClusterRoleBindings()
	for _, c := range controllerRoles() {
		bindings = append(bindings, clusterBinding("system:controller:"+c.name,
			rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: c.name, Namespace: "kube-system"}))
	}
	return bindings
}

func baseClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	kubeDNS := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "kube-dns", Namespace: "kube-system"}
	return []rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", subject("Group", "system:masters")),
		clusterBinding("system:monitoring", subject("Group", "system:monitoring")),
		clusterBinding("system:discovery", subject("Group", "system:authenticated")),
		clusterBinding("system:basic-user", subject("Group", "system:authenticated")),
		clusterBinding("system:public-info-viewer", subject("Group", "system:authenticated"), subject("Group", "system:unauthenticated")),
		clusterBinding("system:service-account-issuer-discovery", subject("Group", "system:serviceaccounts")),
		clusterBinding("system:node-proxier", subject("User", "system:kube-proxy")),
		clusterBinding("system:kube-controller-manager", subject("User", "system:kube-controller-manager")),
		clusterBinding("system:kube-dns", kubeDNS),
		clusterBinding("system:kube-scheduler", subject("User", "system:kube-scheduler")),
		clusterBinding("system:skiff:network-policy", subject("User", "system:skiff:network-policy")),
		clusterBinding("system:skiff:overlay", subject("User", "system:skiff:overlay")),
		clusterBinding("system:skiff:dns-endpoints", subject("User", "system:skiff:dns-endpoints")),
		clusterBinding("system:volume-scheduler", subject("User", "system:kube-scheduler")),
		// The API server's client certificate for node agents (exec, logs, port-forward): the agents ask the API
		// (SubjectAccessReview) whether it may use nodes/proxy, nodes/log, ... (kubeadm and k3s bind it alike).
		namedClusterBinding("skiff:kube-apiserver-kubelet-client", "system:kubelet-api-admin", subject("User", "kube-apiserver-kubelet-client")),
		// Upstream binds system:node to no one: nodes are authorized by the Node authorizer.
		clusterBinding("system:node"),
		// Node TLS bootstrap, bound as kubeadm binds it (upstream's API server binds none of these): bootstrap
		// tokens (group system:bootstrappers) may create CSRs and get node client requests auto-approved; nodes
		// get their own renewals auto-approved.
		namedClusterBinding("skiff:kubelet-bootstrap", "system:node-bootstrapper", subject("Group", "system:bootstrappers")),
		namedClusterBinding("skiff:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
			subject("Group", "system:bootstrappers")),
		namedClusterBinding("skiff:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
			subject("Group", "system:nodes")),
	}
}

// DefaultRoles returns the namespaced Roles every cluster starts with: upstream's (kube-system and
// kube-public, bootstrappolicy's namespace policy) and skiff's DNS endpoints writer (the kube-dns Service and
// each node's EndpointSlice for it).
func DefaultRoles() []rbacv1.Role {
	configmaps := func(vs ...string) ruleB { return verbs(vs...).on("").res("configmaps") }
	return []rbacv1.Role{
		// Authentication configuration for extension API servers (the ConfigMap itself is not published yet).
		role(metav1.NamespaceSystem, "extension-apiserver-authentication-reader",
			rules(configmaps("get", "list", "watch").names("extension-apiserver-authentication"))),
		role(metav1.NamespaceSystem, "system:controller:bootstrap-signer",
			rules(verbs("get", "list", "watch").on("").res("secrets"))),
		// Deprecated upstream since 1.10, still bootstrapped there.
		role(metav1.NamespaceSystem, "system:controller:cloud-provider",
			rules(configmaps("create", "get", "list", "watch"))),
		role(metav1.NamespaceSystem, "system:controller:token-cleaner",
			rules(verbs("delete", "get", "list", "watch").on("").res("secrets"), eventsRW)),
		role(metav1.NamespaceSystem, "system::leader-locking-kube-controller-manager", rules(
			configmaps("watch"),
			configmaps("get", "update").names("kube-controller-manager"),
			verbs("create", "get", "list", "update", "watch").on("coordination.k8s.io").res("leases"))),
		role(metav1.NamespaceSystem, "system::leader-locking-kube-scheduler", rules(
			configmaps("watch"),
			configmaps("get", "update").names("kube-scheduler"))),
		role(metav1.NamespacePublic, "system:controller:bootstrap-signer", rules(
			configmaps("get", "list", "watch"),
			configmaps("update").names("cluster-info"),
			eventsRW)),
		// kubeadm's: joining nodes read cluster-info anonymously (internal/join: the token secret is never sent to
		// a server not yet trusted, so discovery cannot authenticate). It holds only the CA, the server URL and
		// the tokens' HMAC signatures.
		role(metav1.NamespacePublic, "kubeadm:bootstrap-signer-clusterinfo", rules(
			configmaps("get").names("cluster-info"))),
		role(metav1.NamespaceSystem, "system:skiff:dns-endpoints", rules(
			verbs("get", "list", "watch", "create").on("").res("services"),
			verbs("get", "list", "watch", "create", "update").on("discovery.k8s.io").res("endpointslices"))),
	}
}

// DefaultRoleBindings returns the namespaced RoleBindings every cluster starts with, as upstream's.
func DefaultRoleBindings() []rbacv1.RoleBinding {
	sa := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: metav1.NamespaceSystem}
	}
	authReader := roleBinding(metav1.NamespaceSystem, "system::extension-apiserver-authentication-reader",
		subject("User", "system:kube-controller-manager"), subject("User", "system:kube-scheduler"))
	authReader.RoleRef.Name = "extension-apiserver-authentication-reader"
	return []rbacv1.RoleBinding{
		authReader,
		roleBinding(metav1.NamespaceSystem, "system::leader-locking-kube-controller-manager",
			subject("User", "system:kube-controller-manager"), sa("kube-controller-manager"), sa("leader-election-controller")),
		roleBinding(metav1.NamespaceSystem, "system::leader-locking-kube-scheduler",
			subject("User", "system:kube-scheduler"), sa("kube-scheduler")),
		roleBinding(metav1.NamespaceSystem, "system:controller:bootstrap-signer", sa("bootstrap-signer")),
		roleBinding(metav1.NamespaceSystem, "system:controller:cloud-provider", sa("cloud-provider")),
		roleBinding(metav1.NamespaceSystem, "system:controller:token-cleaner", sa("token-cleaner")),
		roleBinding(metav1.NamespacePublic, "system:controller:bootstrap-signer", sa("bootstrap-signer")),
		roleBinding(metav1.NamespaceSystem, "system:skiff:dns-endpoints", subject("User", "system:skiff:dns-endpoints")),
		roleBinding(metav1.NamespacePublic, "kubeadm:bootstrap-signer-clusterinfo", subject("User", "system:anonymous")),
	}
}

func role(namespace, name string, rs []rbacv1.PolicyRule) rbacv1.Role {
	return rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{bootstrapLabel: "rbac-defaults"}, Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		Rules: rs}
}

// roleBinding binds the Role of the same name.
func roleBinding(namespace, name string, subjects ...rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{bootstrapLabel: "rbac-defaults"}, Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: subjects}
}

// NodeRules are the system:node role's rules. Upstream binds the role to no one: the Node authorizer applies
// them to every node for the resources it does not restrict further.
func NodeRules() []rbacv1.PolicyRule {
	for _, r := range baseClusterRoles() {
		if r.Name == "system:node" {
			return r.Rules
		}
	}
	return nil
}
