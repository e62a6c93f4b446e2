package rbac

import (
	"context"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/admission"
	"skiff/internal/auth"
)

// fixture builds a resolver over in-memory indexers.
func fixture(objs ...any) *Resolver {
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	roles, croles, rbs, crbs := idx(), idx(), idx(), idx()
	for _, o := range objs {
		switch o.(type) {
		case *rbacv1.Role:
			_ = roles.Add(o)
		case *rbacv1.ClusterRole:
			_ = croles.Add(o)
		case *rbacv1.RoleBinding:
			_ = rbs.Add(o)
		case *rbacv1.ClusterRoleBinding:
			_ = crbs.Add(o)
		}
	}
	return &Resolver{Roles: rbaclisters.NewRoleLister(roles), ClusterRoles: rbaclisters.NewClusterRoleLister(croles),
		RoleBindings: rbaclisters.NewRoleBindingLister(rbs), ClusterRoleBindings: rbaclisters.NewClusterRoleBindingLister(crbs)}
}

func rule(verbs, groups, resources string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Split(verbs, ","), APIGroups: strings.Split(groups, ","), Resources: strings.Split(resources, ",")}
}

func TestRuleAllows(t *testing.T) {
	pods := auth.Attributes{Verb: "get", Resource: "pods", Name: "p", ResourceRequest: true}
	podLog := auth.Attributes{Verb: "get", Resource: "pods", Subresource: "log", Name: "p", ResourceRequest: true}
	scale := auth.Attributes{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", ResourceRequest: true}
	for _, tc := range []struct {
		name string
		r    rbacv1.PolicyRule
		a    auth.Attributes
		want bool
	}{
		{"exact", rule("get", "", "pods"), pods, true},
		{"verb star", rule("*", "", "pods"), pods, true},
		{"wrong verb", rule("list", "", "pods"), pods, false},
		{"wrong group", rule("get", "apps", "pods"), pods, false},
		{"group star", rule("get", "*", "pods"), pods, true},
		{"resource star", rule("get", "", "*"), podLog, true},
		{"resource does not cover subresource", rule("get", "", "pods"), podLog, false},
		{"subresource", rule("get", "", "pods/log"), podLog, true},
		{"star subresource", rule("update", "apps", "*/scale"), scale, true},
		{"names", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"p"}}, pods, true},
		{"other name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"q"}}, pods, false},
		{"url", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, auth.Attributes{Verb: "get", Path: "/healthz"}, true},
		{"url prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz*"}}, auth.Attributes{Verb: "get", Path: "/healthz/etcd"}, true},
		{"url other", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, auth.Attributes{Verb: "get", Path: "/healthz/etcd"}, false},
		{"url rule on resource", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, pods, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RuleAllows(tc.a, &tc.r); got != tc.want {
				t.Fatalf("RuleAllows = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAuthorizer(t *testing.T) {
	view := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}, Rules: []rbacv1.PolicyRule{rule("get,list,watch", "", "pods")}}
	secrets := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secrets", Namespace: "b"}, Rules: []rbacv1.PolicyRule{rule("get", "", "secrets")}}
	z := NewAuthorizer()
	z.SetResolver(fixture(view, secrets,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-view", Namespace: "a"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "b"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "secrets"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}, {Kind: "Group", Name: "system:serviceaccounts:c"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "b"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "gone"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ops"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "ops"}}},
	))
	alice := &auth.User{Name: "alice", Groups: []string{"system:authenticated"}}
	bob := &auth.User{Name: "bob", Groups: []string{"ops"}}
	builder := &auth.User{Name: "system:serviceaccount:b:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:b"}}
	other := &auth.User{Name: "system:serviceaccount:c:x", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:c"}}
	list := func(u *auth.User, ns, res string) auth.Attributes {
		return auth.Attributes{User: u, Verb: "list", Namespace: ns, Resource: res, ResourceRequest: true}
	}
	for _, tc := range []struct {
		name   string
		a      auth.Attributes
		want   auth.Decision
		reason string
	}{
		{"rolebinding to clusterrole", list(alice, "a", "pods"), auth.DecisionAllow, `RBAC: allowed by RoleBinding "alice-view/a" of ClusterRole "view" to User "alice"`},
		{"scoped to its namespace", list(alice, "b", "pods"), auth.DecisionNoOpinion, `RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found`},
		{"not cluster-wide", list(alice, "", "pods"), auth.DecisionNoOpinion, ""},
		{"group clusterrolebinding", list(bob, "", "pods"), auth.DecisionAllow, `RBAC: allowed by ClusterRoleBinding "ops" of ClusterRole "view" to Group "ops"`},
		{"service account", auth.Attributes{User: builder, Verb: "get", Namespace: "b", Resource: "secrets", ResourceRequest: true}, auth.DecisionAllow, `RBAC: allowed by RoleBinding "sa/b" of Role "secrets" to ServiceAccount "builder/b"`},
		{"service account group", auth.Attributes{User: other, Verb: "get", Namespace: "b", Resource: "secrets", ResourceRequest: true}, auth.DecisionAllow, `RBAC: allowed by RoleBinding "sa/b" of Role "secrets" to Group "system:serviceaccounts:c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tc.a)
			if err != nil || d != tc.want || reason != tc.reason {
				t.Fatalf("got %v %q %v, want %v %q", d, reason, err, tc.want, tc.reason)
			}
		})
	}
	if d, _, _ := NewAuthorizer().Authorize(context.Background(), list(alice, "a", "pods")); d != auth.DecisionNoOpinion {
		t.Fatal("an authorizer whose listers have not synced must have no opinion")
	}
}

func TestCovers(t *testing.T) {
	owner := []rbacv1.PolicyRule{rule("get,list", "", "pods,secrets"), rule("*", "apps", "deployments"), {Verbs: []string{"get"}, NonResourceURLs: []string{"/api*"}}}
	for _, tc := range []struct {
		name string
		req  []rbacv1.PolicyRule
		want bool
	}{
		{"subset", []rbacv1.PolicyRule{rule("get", "", "pods")}, true},
		{"more verbs", []rbacv1.PolicyRule{rule("get,delete", "", "secrets")}, false},
		{"star verb", []rbacv1.PolicyRule{rule("update,patch", "apps", "deployments")}, true},
		{"named", []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"x"}}}, true},
		{"url", []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis"}}}, true},
		{"star resource", []rbacv1.PolicyRule{rule("get", "", "*")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := Covers(owner, tc.req); got != tc.want {
				t.Fatalf("Covers = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(
		// A default role that lost a rule and a label: both come back.
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:basic-user"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews"}}}},
		// An operator opted out: left alone.
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:discovery", Annotations: map[string]string{AutoUpdateAnnotation: "false"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "root"}}},
	)
	if err := Reconcile(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := Reconcile(ctx, cs); err != nil { // idempotent
		t.Fatal(err)
	}
	basic, _ := cs.RbacV1().ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if ok, missing := Covers(basic.Rules, DefaultClusterRoles()[slices.IndexFunc(DefaultClusterRoles(), func(r rbacv1.ClusterRole) bool { return r.Name == "system:basic-user" })].Rules); !ok {
		t.Fatalf("system:basic-user still lacks %v", missing)
	}
	if basic.Labels[bootstrapLabel] != "rbac-defaults" {
		t.Fatalf("labels not restored: %v", basic.Labels)
	}
	disc, _ := cs.RbacV1().ClusterRoles().Get(ctx, "system:discovery", metav1.GetOptions{})
	if len(disc.Rules) != 0 {
		t.Fatalf("autoupdate=false role was changed: %v", disc.Rules)
	}
	view, err := cs.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
	if err != nil || view.AggregationRule == nil || view.Labels[aggregateToEdit] != "true" {
		t.Fatalf("view: %v %+v", err, view)
	}
	ca, _ := cs.RbacV1().ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{})
	if len(ca.Subjects) != 2 || ca.Subjects[1].Name != "system:masters" {
		t.Fatalf("cluster-admin subjects: %v", ca.Subjects)
	}
	all, _ := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if len(all.Items) != len(DefaultClusterRoles()) {
		t.Fatalf("%d roles, want %d", len(all.Items), len(DefaultClusterRoles()))
	}
	// Namespaced defaults: created, and a role that lost its rules gets them back.
	tc, err := cs.RbacV1().Roles("kube-system").Get(ctx, "system:controller:token-cleaner", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tc.Rules = nil
	if _, err := cs.RbacV1().Roles("kube-system").Update(ctx, tc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Reconcile(ctx, cs); err != nil {
		t.Fatal(err)
	}
	tc, _ = cs.RbacV1().Roles("kube-system").Get(ctx, "system:controller:token-cleaner", metav1.GetOptions{})
	var want []rbacv1.PolicyRule
	for _, r := range DefaultRoles() {
		if r.Namespace == "kube-system" && r.Name == "system:controller:token-cleaner" {
			want = r.Rules
		}
	}
	if ok, missing := Covers(tc.Rules, want); !ok || len(want) == 0 {
		t.Fatalf("token-cleaner role lacks %v", missing)
	}
	rb, err := cs.RbacV1().RoleBindings("kube-system").Get(ctx, "system:controller:token-cleaner", metav1.GetOptions{})
	if err != nil || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "token-cleaner" {
		t.Fatalf("token-cleaner binding: %v %+v", err, rb)
	}
}

func TestEscalation(t *testing.T) {
	edit := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "edit"}, Rules: []rbacv1.PolicyRule{
		rule("get,list,create,update,delete", "", "pods,configmaps"), rule("get", "", "secrets")}}
	admin := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, Rules: []rbacv1.PolicyRule{rule("*", "*", "*")}}
	binder := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "binder"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"admin"}}}}
	z := NewAuthorizer()
	z.SetResolver(fixture(edit, admin, binder,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: "a"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob", Namespace: "a"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "binder"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}},
	))
	e := &Escalation{Authorizer: z, RBAC: z}
	alice := &auth.User{Name: "alice", Groups: []string{"system:authenticated"}}
	bob := &auth.User{Name: "bob", Groups: []string{"system:authenticated"}}
	roles := rbacv1.SchemeGroupVersion.WithResource("roles")
	rbs := rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	role := func(rs ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "a"}, Rules: rs}
	}
	bindTo := func(kind, name string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "a"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}}
	}
	for _, tc := range []struct {
		name string
		u    *auth.User
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		err  string
	}{
		{"role within own rules", alice, roles, role(rule("get,list", "", "pods")), ""},
		{"role beyond own rules", alice, roles, role(rule("get,delete", "", "secrets")), `roles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["secrets"], Verbs:["delete"]}`},
		{"binding to a held role", alice, rbs, bindTo("ClusterRole", "edit"), ""},
		{"binding to a role not held", alice, rbs, bindTo("ClusterRole", "admin"), `is attempting to grant RBAC permissions not currently held:
{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`},
		{"bind verb", bob, rbs, bindTo("ClusterRole", "admin"), ""},
		{"binding to a missing role", alice, rbs, bindTo("Role", "gone"), `role.rbac.authorization.k8s.io "gone" not found`},
		{"masters", &auth.User{Name: "root", Groups: []string{auth.GroupMasters}}, roles, role(rule("*", "*", "*")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Validate(context.Background(), &admission.Attributes{Operation: admission.Create, Resource: tc.gvr,
				Namespace: "a", Name: "r", Object: tc.obj, User: tc.u})
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want 403 containing %q", err, tc.err)
			}
		})
	}
}

// TestNamespacedDefaults: the namespaced Roles and RoleBindings are upstream's bootstrap namespace policy (plus
// skiff's DNS endpoints writer), each binding naming an existing default Role.
func TestNamespacedDefaults(t *testing.T) {
	names := func(kind string) []string {
		var out []string
		if kind == "role" {
			for _, r := range DefaultRoles() {
				out = append(out, r.Namespace+"/"+r.Name)
			}
		} else {
			for _, b := range DefaultRoleBindings() {
				out = append(out, b.Namespace+"/"+b.Name+"->"+b.RoleRef.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	wantRoles := []string{
		"kube-public/kubeadm:bootstrap-signer-clusterinfo",
		"kube-public/system:controller:bootstrap-signer",
		"kube-system/extension-apiserver-authentication-reader",
		"kube-system/system::leader-locking-kube-controller-manager",
		"kube-system/system::leader-locking-kube-scheduler",
		"kube-system/system:controller:bootstrap-signer",
		"kube-system/system:controller:cloud-provider",
		"kube-system/system:controller:token-cleaner",
		"kube-system/system:skiff:dns-endpoints",
	}
	wantBindings := []string{
		"kube-public/kubeadm:bootstrap-signer-clusterinfo->kubeadm:bootstrap-signer-clusterinfo",
		"kube-public/system:controller:bootstrap-signer->system:controller:bootstrap-signer",
		"kube-system/system::extension-apiserver-authentication-reader->extension-apiserver-authentication-reader",
		"kube-system/system::leader-locking-kube-controller-manager->system::leader-locking-kube-controller-manager",
		"kube-system/system::leader-locking-kube-scheduler->system::leader-locking-kube-scheduler",
		"kube-system/system:controller:bootstrap-signer->system:controller:bootstrap-signer",
		"kube-system/system:controller:cloud-provider->system:controller:cloud-provider",
		"kube-system/system:controller:token-cleaner->system:controller:token-cleaner",
		"kube-system/system:skiff:dns-endpoints->system:skiff:dns-endpoints",
	}
	if got := names("role"); !slices.Equal(got, wantRoles) {
		t.Errorf("roles\n got %v\nwant %v", got, wantRoles)
	}
	if got := names("binding"); !slices.Equal(got, wantBindings) {
		t.Errorf("bindings\n got %v\nwant %v", got, wantBindings)
	}
	roles := map[string]bool{}
	for _, r := range DefaultRoles() {
		roles[r.Namespace+"/"+r.Name] = true
	}
	for _, b := range DefaultRoleBindings() {
		if b.RoleRef.Kind != "Role" || !roles[b.Namespace+"/"+b.RoleRef.Name] || len(b.Subjects) == 0 {
			t.Errorf("binding %s/%s: %+v", b.Namespace, b.Name, b)
		}
	}
}
