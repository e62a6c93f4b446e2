package nodeaffinity

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file compiles node selector terms once per scheduling cycle so that matching a node allocates
// nothing. Semantics are those of the API (and of upstream's helpers): terms are ORed; within a term the
// matchExpressions and matchFields are ANDed; a term with neither selects no node; a term that fails to parse
// selects no node while the other terms still count.

// fieldRequirement is one matchFields entry. Only metadata.name has a value on a node; any other key reads
// as "".
type fieldRequirement struct {
	key, value string
	notIn      bool
}

func (r *fieldRequirement) matches(node *corev1.Node) bool {
	var v string
	if r.key == metav1.ObjectNameField {
		v = node.Name
	}
	if r.notIn {
		return v != r.value
	}
	return v == r.value
}

// nodeSelectorTerm is a compiled NodeSelectorTerm.
type nodeSelectorTerm struct {
	// labels is nil when the term has no matchExpressions.
	labels labels.Selector
	// fields is nil when the term has no matchFields.
	fields    []fieldRequirement
	parseErrs []error
}

func isEmptyTerm(t *corev1.NodeSelectorTerm) bool {
	return len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0
}

func newNodeSelectorTerm(t *corev1.NodeSelectorTerm, path *field.Path) nodeSelectorTerm {
	var out nodeSelectorTerm
	if len(t.MatchExpressions) != 0 {
		p := path.Child("matchExpressions")
		sel := labels.NewSelector()
		var reqs []labels.Requirement
		for i, expr := range t.MatchExpressions {
			var op selection.Operator
			switch expr.Operator {
			case corev1.NodeSelectorOpIn:
				op = selection.In
			case corev1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case corev1.NodeSelectorOpExists:
				op = selection.Exists
			case corev1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case corev1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case corev1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				out.parseErrs = append(out.parseErrs, field.NotSupported[string](p.Index(i).Child("operator"), expr.Operator, nil))
				continue
			}
			r, err := labels.NewRequirement(expr.Key, op, expr.Values, field.WithPath(p.Index(i)))
			if err != nil {
				out.parseErrs = append(out.parseErrs, err)
				continue
			}
			reqs = append(reqs, *r)
		}
		if len(out.parseErrs) == 0 {
			out.labels = sel.Add(reqs...)
		}
	}
	if len(t.MatchFields) != 0 {
		p := path.Child("matchFields")
		for i, req := range t.MatchFields {
			if len(req.Values) != 1 {
				out.parseErrs = append(out.parseErrs, field.Invalid(p.Index(i).Child("values"), req.Values, "must have one element"))
				continue
			}
			switch req.Operator {
			case corev1.NodeSelectorOpIn:
				out.fields = append(out.fields, fieldRequirement{key: req.Key, value: req.Values[0]})
			case corev1.NodeSelectorOpNotIn:
				out.fields = append(out.fields, fieldRequirement{key: req.Key, value: req.Values[0], notIn: true})
			default:
				out.parseErrs = append(out.parseErrs, field.NotSupported(p.Index(i).Child("operator"), req.Operator,
					[]string{string(corev1.NodeSelectorOpIn), string(corev1.NodeSelectorOpNotIn)}))
			}
		}
	}
	return out
}

// matches reports whether the node satisfies the term. Field requirements are only checked for a node with
// a name, as upstream.
func (t *nodeSelectorTerm) matches(node *corev1.Node) bool {
	if len(t.parseErrs) > 0 {
		return false
	}
	if t.labels == nil && t.fields == nil {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	if node.Name != "" {
		for i := range t.fields {
			if !t.fields[i].matches(node) {
				return false
			}
		}
	}
	return true
}

// nodeSelector is a compiled NodeSelector: it matches when any of its terms does.
type nodeSelector struct {
	terms []nodeSelectorTerm
}

// newLazyNodeSelector compiles a selector keeping parse errors inside their terms (a pod's required
// affinity: a broken term just never matches).
func newLazyNodeSelector(ns *corev1.NodeSelector, path *field.Path) *nodeSelector {
	out := &nodeSelector{terms: make([]nodeSelectorTerm, 0, len(ns.NodeSelectorTerms))}
	p := path.Child("nodeSelectorTerms")
	for i := range ns.NodeSelectorTerms {
		t := &ns.NodeSelectorTerms[i]
		if isEmptyTerm(t) {
			continue
		}
		out.terms = append(out.terms, newNodeSelectorTerm(t, p.Index(i)))
	}
	return out
}

// newNodeSelector compiles a selector and fails on any parse error (configuration: AddedAffinity).
func newNodeSelector(ns *corev1.NodeSelector, path *field.Path) (*nodeSelector, error) {
	s := newLazyNodeSelector(ns, path)
	var errs []error
	for i := range s.terms {
		errs = append(errs, s.terms[i].parseErrs...)
	}
	if len(errs) != 0 {
		return nil, utilerrors.Flatten(utilerrors.NewAggregate(errs))
	}
	return s, nil
}

func (s *nodeSelector) matches(node *corev1.Node) bool {
	for i := range s.terms {
		if s.terms[i].matches(node) {
			return true
		}
	}
	return false
}

// preferredTerms are compiled PreferredSchedulingTerms.
type preferredTerms struct {
	terms   []nodeSelectorTerm
	weights []int64
}

// newPreferredTerms compiles preferred terms, dropping those with weight 0 or an empty preference. Any parse
// error fails the whole list, as upstream.
func newPreferredTerms(terms []corev1.PreferredSchedulingTerm, path *field.Path) (*preferredTerms, error) {
	out := &preferredTerms{}
	var errs []error
	for i := range terms {
		t := &terms[i]
		if t.Weight == 0 || isEmptyTerm(&t.Preference) {
			continue
		}
		parsed := newNodeSelectorTerm(&t.Preference, path.Index(i).Child("preference"))
		if len(parsed.parseErrs) > 0 {
			errs = append(errs, parsed.parseErrs...)
			continue
		}
		out.terms = append(out.terms, parsed)
		out.weights = append(out.weights, int64(t.Weight))
	}
	if len(errs) != 0 {
		return nil, utilerrors.Flatten(utilerrors.NewAggregate(errs))
	}
	return out, nil
}

// score sums the weights of the terms the node matches.
func (p *preferredTerms) score(node *corev1.Node) int64 {
	var s int64
	for i := range p.terms {
		if p.terms[i].matches(node) {
			s += p.weights[i]
		}
	}
	return s
}

// requiredNodeAffinity is a pod's spec.nodeSelector and required node affinity; both must match.
type requiredNodeAffinity struct {
	nodeSelector map[string]string
	affinity     *nodeSelector
}

func getRequiredNodeAffinity(pod *corev1.Pod) requiredNodeAffinity {
	r := requiredNodeAffinity{nodeSelector: pod.Spec.NodeSelector}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		r.affinity = newLazyNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			field.NewPath("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"))
	}
	return r
}

// Match reports whether the node has every nodeSelector label and satisfies the required affinity.
func (r *requiredNodeAffinity) Match(node *corev1.Node) bool {
	for k, v := range r.nodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	if r.affinity != nil {
		return r.affinity.matches(node)
	}
	return true
}

// getPodPreferredNodeAffinity compiles the pod's preferred node affinity; nil when it has none.
func getPodPreferredNodeAffinity(pod *corev1.Pod) (*preferredTerms, error) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, nil
	}
	return newPreferredTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		field.NewPath("spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"))
}
