package rbac

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Reconcile makes sure the default ClusterRoles and ClusterRoleBindings (then Roles and RoleBindings) exist, as upstream's API server does at
// every start: missing ones are created; existing ones whose autoupdate annotation is not "false" get back the
// rules, aggregation selectors, labels, annotations and subjects they lack (nothing is removed); a binding whose
// roleRef changed is recreated.
func Reconcile(ctx context.Context, client kubernetes.Interface) error {
	roles := client.RbacV1().ClusterRoles()
	// One list each, rather than a GET per default object: restarts cost two requests.
	roleList, err := roles.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	haveRoles := map[string]*rbacv1.ClusterRole{}
	for i := range roleList.Items {
		haveRoles[roleList.Items[i].Name] = &roleList.Items[i]
	}
	for _, want := range DefaultClusterRoles() {
		cur := haveRoles[want.Name]
		if cur == nil {
			if _, err := roles.Create(ctx, &want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("clusterrole %s: %w", want.Name, err)
			}
			continue
		}
		if cur.Annotations[AutoUpdateAnnotation] == "false" {
			continue
		}
		next := cur.DeepCopy()
		next.Labels = mergeMap(next.Labels, want.Labels)
		next.Annotations = mergeMap(next.Annotations, want.Annotations)
		if want.AggregationRule != nil {
			if next.AggregationRule == nil {
				next.AggregationRule = &rbacv1.AggregationRule{}
			}
			for _, sel := range want.AggregationRule.ClusterRoleSelectors {
				if !slices.ContainsFunc(next.AggregationRule.ClusterRoleSelectors, func(s metav1.LabelSelector) bool {
					return apiequality.Semantic.DeepEqual(s, sel)
				}) {
					next.AggregationRule.ClusterRoleSelectors = append(next.AggregationRule.ClusterRoleSelectors, sel)
				}
			}
		}
		if ok, missing := Covers(cur.Rules, want.Rules); !ok {
			next.Rules = append(next.Rules, missing...)
		}
		if apiequality.Semantic.DeepEqual(next, cur) {
			continue
		}
		slog.Info("reconciling default clusterrole", "name", want.Name)
		if _, err := roles.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("clusterrole %s: %w", want.Name, err)
		}
	}
	bindings := client.RbacV1().ClusterRoleBindings()
	bindingList, err := bindings.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	haveBindings := map[string]*rbacv1.ClusterRoleBinding{}
	for i := range bindingList.Items {
		haveBindings[bindingList.Items[i].Name] = &bindingList.Items[i]
	}
	for _, want := range DefaultClusterRoleBindings() {
		cur := haveBindings[want.Name]
		if cur == nil {
			if _, err := bindings.Create(ctx, &want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("clusterrolebinding %s: %w", want.Name, err)
			}
			continue
		}
		if cur.Annotations[AutoUpdateAnnotation] == "false" {
			continue
		}
		next := cur.DeepCopy()
		next.Labels = mergeMap(next.Labels, want.Labels)
		next.Annotations = mergeMap(next.Annotations, want.Annotations)
		for _, s := range want.Subjects {
			if !slices.Contains(next.Subjects, s) {
				next.Subjects = append(next.Subjects, s)
			}
		}
		if next.RoleRef != want.RoleRef {
			// roleRef is immutable: replace the binding.
			slog.Info("recreating default clusterrolebinding", "name", want.Name)
			next.RoleRef, next.ResourceVersion, next.UID = want.RoleRef, "", ""
			if err := bindings.Delete(ctx, want.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("clusterrolebinding %s: %w", want.Name, err)
			}
			if _, err := bindings.Create(ctx, next, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("clusterrolebinding %s: %w", want.Name, err)
			}
			continue
		}
		if apiequality.Semantic.DeepEqual(next, cur) {
			continue
		}
		slog.Info("reconciling default clusterrolebinding", "name", want.Name)
		if _, err := bindings.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("clusterrolebinding %s: %w", want.Name, err)
		}
	}
	return reconcileNamespaced(ctx, client)
}

// reconcileNamespaced does the same for the default Roles and RoleBindings (a binding's roleRef is never
// changed: the defaults' never do).
func reconcileNamespaced(ctx context.Context, client kubernetes.Interface) error {
	for _, want := range DefaultRoles() {
		roles := client.RbacV1().Roles(want.Namespace)
		cur, err := roles.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := roles.Create(ctx, &want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("role %s/%s: %w", want.Namespace, want.Name, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("role %s/%s: %w", want.Namespace, want.Name, err)
		}
		if cur.Annotations[AutoUpdateAnnotation] == "false" {
			continue
		}
		if ok, missing := Covers(cur.Rules, want.Rules); !ok {
			cur.Rules = append(cur.Rules, missing...)
			if _, err := roles.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("role %s/%s: %w", want.Namespace, want.Name, err)
			}
		}
	}
	for _, want := range DefaultRoleBindings() {
		bindings := client.RbacV1().RoleBindings(want.Namespace)
		cur, err := bindings.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := bindings.Create(ctx, &want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("rolebinding %s/%s: %w", want.Namespace, want.Name, err)
			}
			continue
		case err != nil:
			return fmt.Errorf("rolebinding %s/%s: %w", want.Namespace, want.Name, err)
		}
		if cur.Annotations[AutoUpdateAnnotation] == "false" {
			continue
		}
		changed := false
		for _, s := range want.Subjects {
			if !slices.Contains(cur.Subjects, s) {
				cur.Subjects, changed = append(cur.Subjects, s), true
			}
		}
		if changed {
			if _, err := bindings.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("rolebinding %s/%s: %w", want.Namespace, want.Name, err)
			}
		}
	}
	return nil
}

// mergeMap adds to m the keys of add it lacks.
func mergeMap(m, add map[string]string) map[string]string {
	for k, v := range add {
		if _, ok := m[k]; !ok {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	}
	return m
}
