package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scaleOf reads the Scale view of a workload: spec.replicas, status.replicas and the selector.
func scaleOf(obj runtime.Object) *autoscalingv1.Scale {
	acc, _ := meta.Accessor(obj)
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), CreationTimestamp: acc.GetCreationTimestamp()},
	}
	v := reflect.ValueOf(obj).Elem()
	if rp, ok := v.FieldByName("Spec").FieldByName("Replicas").Interface().(*int32); ok && rp != nil {
		sc.Spec.Replicas = *rp
	}
	sc.Status.Replicas = int32(v.FieldByName("Status").FieldByName("Replicas").Int())
	switch sel := v.FieldByName("Spec").FieldByName("Selector").Interface().(type) {
	case *metav1.LabelSelector:
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
			sc.Status.Selector = s.String()
		}
	case map[string]string:
		sc.Status.Selector = labels.SelectorFromSet(sel).String()
	}
	return sc
}

func setReplicas(obj runtime.Object, n int32) {
	f := reflect.ValueOf(obj).Elem().FieldByName("Spec").FieldByName("Replicas")
	f.Set(reflect.ValueOf(&n))
}

func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	out, err := negotiate(s.codecs, r)
	if err != nil {
		s.writeError(w, r, notAcceptable(r))
		return
	}
	if ri.Verb == "get" {
		obj, err := s.getObject(r.Context(), res, ri.Namespace, ri.Name, r.URL.Query().Get("resourceVersion"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeObject(w, r, http.StatusOK, out, scaleOf(obj))
		return
	}
	opts, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	mode, err := fieldValidation(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	newScale := func() runtime.Object { return &autoscalingv1.Scale{} }
	var wanted func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error)
	if ri.Verb == "update" {
		obj, _, err := s.decodeObject(r, body, scaleGVK, newScale)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		wanted = func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return obj.(*autoscalingv1.Scale), nil }
	} else {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		wanted = func(cur *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			curJSON, _ := json.Marshal(cur)
			var patched []byte
			var err error
			switch types.PatchType(mt) {
			case types.JSONPatchType:
				var p jsonpatch.Patch
				if p, err = jsonpatch.DecodePatch(body); err == nil {
					patched, err = p.Apply(curJSON)
				}
			case types.MergePatchType:
				patched, err = jsonpatch.MergePatch(curJSON, body)
			case types.StrategicMergePatchType:
				patched, err = strategicpatch.StrategicMergePatch(curJSON, body, &autoscalingv1.Scale{})
			default:
				return nil, unsupportedMediaType(mt)
			}
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("the patch could not be applied: %v", err))
			}
			obj, _, err := decodeJSON(patched, scaleGVK, newScale, mode)
			if err != nil {
				return nil, err
			}
			return obj.(*autoscalingv1.Scale), nil
		}
	}
	updated, err := s.updateObject(r.Context(), res, ri.Namespace, ri.Name, "", opts, func(cur runtime.Object) (runtime.Object, error) {
		sc, err := wanted(scaleOf(cur))
		if err != nil {
			return nil, err
		}
		acc, _ := meta.Accessor(cur)
		if sc.ResourceVersion != "" && sc.ResourceVersion != acc.GetResourceVersion() {
			return nil, conflict(res, ri.Name)
		}
		if sc.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), ri.Name, fieldErr("spec.replicas", sc.Spec.Replicas, "must be greater than or equal to 0"))
		}
		next := cur.DeepCopyObject()
		setReplicas(next, sc.Spec.Replicas)
		return next, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, out, scaleOf(updated))
}

// bind sets a pod's node, once: POST pods/<name>/binding with a Binding naming the target node.
func (s *Server) bind(w http.ResponseWriter, r *http.Request, ri *RequestInfo, res *resource) {
	body, err := readBody(w, r, s.cfg.MaxRequestBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeObject(r, body, corev1.SchemeGroupVersion.WithKind("Binding"), func() runtime.Object { return &corev1.Binding{} })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := obj.(*corev1.Binding)
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		s.writeError(w, r, apierrors.NewInvalid(b.GroupVersionKind().GroupKind(), b.Name, fieldErr("target.kind", b.Target.Kind, "must be empty or 'Node'")))
		return
	}
	if b.Target.Name == "" {
		s.writeError(w, r, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name, fieldErr("target.name", "", "must not be empty")))
		return
	}
	opts, err := parseWriteOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opts.untracked = true
	_, err = s.updateObject(r.Context(), res, ri.Namespace, ri.Name, "binding", opts, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(res.GroupResource(), pod.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(res.GroupResource(), pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(res.GroupResource(), pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		next := pod.DeepCopy()
		next.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if next.Annotations == nil {
				next.Annotations = map[string]string{}
			}
			next.Annotations[k] = v
		}
		setPodCondition(&next.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: s.metaNow()})
		return next, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st := emptyStatus("")
	s.writeJSON(w, r, http.StatusCreated, st)
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}
