package nodeaffinity

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	configv1 "k8s.io/kube-scheduler/config/v1"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

func req(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func exprTerm(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: reqs}
}

func fieldTerm(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchFields: reqs}
}

func required(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
}

func preferred(terms ...corev1.PreferredSchedulingTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}}
}

func pref(weight int32, t corev1.NodeSelectorTerm) corev1.PreferredSchedulingTerm {
	return corev1.PreferredSchedulingTerm{Weight: weight, Preference: t}
}

func TestFilter(t *testing.T) {
	const name = metav1.ObjectNameField
	tests := []struct {
		name       string
		pod        *corev1.Pod
		labels     map[string]string
		nodeName   string
		args       *configv1.NodeAffinityArgs
		wantPreRes *framework.PreFilterResult
		wantPreSt  framework.Code
		wantCode   framework.Code
		wantMsg    string
	}{
		{name: "no selector, no affinity: PreFilter skips", pod: st.MakePod().Obj(), wantPreSt: framework.Skip},
		{name: "nodeSelector matches", pod: st.MakePod().NodeSelector(map[string]string{"foo": "bar"}).Obj(),
			labels: map[string]string{"foo": "bar", "x": "y"}},
		{name: "nodeSelector value differs", pod: st.MakePod().NodeSelector(map[string]string{"foo": "bar"}).Obj(),
			labels: map[string]string{"foo": "baz"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "nodeSelector label missing", pod: st.MakePod().NodeSelector(map[string]string{"foo": ""}).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "In matches", pod: st.MakePod().Affinity(required(exprTerm(req("zone", corev1.NodeSelectorOpIn, "a", "b")))).Obj(),
			labels: map[string]string{"zone": "b"}},
		{name: "In does not match", pod: st.MakePod().Affinity(required(exprTerm(req("zone", corev1.NodeSelectorOpIn, "a", "b")))).Obj(),
			labels: map[string]string{"zone": "c"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "NotIn matches a missing label", pod: st.MakePod().Affinity(required(exprTerm(req("zone", corev1.NodeSelectorOpNotIn, "a")))).Obj()},
		{name: "NotIn rejects", pod: st.MakePod().Affinity(required(exprTerm(req("zone", corev1.NodeSelectorOpNotIn, "a")))).Obj(),
			labels: map[string]string{"zone": "a"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "Exists", pod: st.MakePod().Affinity(required(exprTerm(req("gpu", corev1.NodeSelectorOpExists)))).Obj(),
			labels: map[string]string{"gpu": ""}},
		{name: "Exists rejects", pod: st.MakePod().Affinity(required(exprTerm(req("gpu", corev1.NodeSelectorOpExists)))).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "DoesNotExist", pod: st.MakePod().Affinity(required(exprTerm(req("gpu", corev1.NodeSelectorOpDoesNotExist)))).Obj()},
		{name: "DoesNotExist rejects", pod: st.MakePod().Affinity(required(exprTerm(req("gpu", corev1.NodeSelectorOpDoesNotExist)))).Obj(),
			labels: map[string]string{"gpu": "1"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "Gt", pod: st.MakePod().Affinity(required(exprTerm(req("cores", corev1.NodeSelectorOpGt, "8")))).Obj(),
			labels: map[string]string{"cores": "16"}},
		{name: "Gt is strict", pod: st.MakePod().Affinity(required(exprTerm(req("cores", corev1.NodeSelectorOpGt, "8")))).Obj(),
			labels: map[string]string{"cores": "8"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "Gt on a non-integer label", pod: st.MakePod().Affinity(required(exprTerm(req("cores", corev1.NodeSelectorOpGt, "8")))).Obj(),
			labels: map[string]string{"cores": "many"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "Lt", pod: st.MakePod().Affinity(required(exprTerm(req("cores", corev1.NodeSelectorOpLt, "8")))).Obj(),
			labels: map[string]string{"cores": "-3"}},
		{name: "Lt rejects", pod: st.MakePod().Affinity(required(exprTerm(req("cores", corev1.NodeSelectorOpLt, "8")))).Obj(),
			labels: map[string]string{"cores": "9"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "expressions in a term are ANDed",
			pod:    st.MakePod().Affinity(required(exprTerm(req("a", corev1.NodeSelectorOpExists), req("b", corev1.NodeSelectorOpIn, "1")))).Obj(),
			labels: map[string]string{"a": "x", "b": "2"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "terms are ORed",
			pod:    st.MakePod().Affinity(required(exprTerm(req("a", corev1.NodeSelectorOpExists)), exprTerm(req("b", corev1.NodeSelectorOpIn, "2")))).Obj(),
			labels: map[string]string{"b": "2"}},
		{name: "an empty term matches nothing", pod: st.MakePod().Affinity(required(corev1.NodeSelectorTerm{})).Obj(),
			labels: map[string]string{"a": "b"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "no terms matches nothing", pod: st.MakePod().Affinity(required()).Obj(),
			wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "a broken term matches nothing but others still count",
			pod:    st.MakePod().Affinity(required(exprTerm(req("a", corev1.NodeSelectorOpIn)), exprTerm(req("b", corev1.NodeSelectorOpExists)))).Obj(),
			labels: map[string]string{"a": "x", "b": "y"}},
		{name: "Gt with two values is broken",
			pod:    st.MakePod().Affinity(required(exprTerm(req("n", corev1.NodeSelectorOpGt, "1", "2")))).Obj(),
			labels: map[string]string{"n": "5"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "nodeSelector and affinity must both match",
			pod:    st.MakePod().NodeSelector(map[string]string{"foo": "bar"}).Affinity(required(exprTerm(req("a", corev1.NodeSelectorOpExists)))).Obj(),
			labels: map[string]string{"a": "1"}, wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "matchFields In narrows candidates",
			pod:        st.MakePod().Affinity(required(fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1")))).Obj(),
			nodeName:   "node1",
			wantPreRes: &framework.PreFilterResult{NodeNames: sets.New("node1")}},
		{name: "matchFields In on another node",
			pod:        st.MakePod().Affinity(required(fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1")))).Obj(),
			nodeName:   "node2",
			wantPreRes: &framework.PreFilterResult{NodeNames: sets.New("node1")},
			wantCode:   framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "matchFields NotIn",
			pod:      st.MakePod().Affinity(required(fieldTerm(req(name, corev1.NodeSelectorOpNotIn, "node1")))).Obj(),
			nodeName: "node1", wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "matchFields and matchExpressions are ANDed",
			pod: st.MakePod().Affinity(required(corev1.NodeSelectorTerm{
				MatchFields:      []corev1.NodeSelectorRequirement{req(name, corev1.NodeSelectorOpIn, "node1")},
				MatchExpressions: []corev1.NodeSelectorRequirement{req("a", corev1.NodeSelectorOpExists)}})).Obj(),
			nodeName: "node1", wantPreRes: &framework.PreFilterResult{NodeNames: sets.New("node1")},
			wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "candidates are the union over terms",
			pod: st.MakePod().Affinity(required(
				fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1")),
				fieldTerm(req(name, corev1.NodeSelectorOpIn, "node2")))).Obj(),
			nodeName:   "node2",
			wantPreRes: &framework.PreFilterResult{NodeNames: sets.New("node1", "node2")}},
		{name: "a term without a name requirement lets every node in",
			pod: st.MakePod().Affinity(required(
				fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1")),
				exprTerm(req("a", corev1.NodeSelectorOpExists)))).Obj(),
			nodeName: "node3", labels: map[string]string{"a": ""}},
		{name: "conflicting name requirements in one term",
			pod: st.MakePod().Affinity(required(fieldTerm(
				req(name, corev1.NodeSelectorOpIn, "node1"),
				req(name, corev1.NodeSelectorOpIn, "node2")))).Obj(),
			nodeName:  "node2",
			wantPreSt: framework.UnschedulableAndUnresolvable,
			wantCode:  framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonPod},
		{name: "added affinity matches together with the pod's",
			pod:    st.MakePod().Affinity(required(exprTerm(req("zone", corev1.NodeSelectorOpIn, "foo")))).Obj(),
			labels: map[string]string{"zone": "foo"}, nodeName: "node1",
			args: &configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1"))}}}}},
		{name: "added affinity rejects",
			pod:    st.MakePod().Obj(),
			labels: map[string]string{"zone": "foo"}, nodeName: "node2",
			args: &configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{fieldTerm(req(name, corev1.NodeSelectorOpIn, "node1"))}}}},
			wantCode: framework.UnschedulableAndUnresolvable, wantMsg: ErrReasonEnforced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var args *configv1.NodeAffinityArgs
			if tc.args != nil {
				args = tc.args
			}
			p, err := New(args, nil)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.(*NodeAffinity)
			nodeName := tc.nodeName
			if nodeName == "" {
				nodeName = "node1"
			}
			node := st.MakeNode().Name(nodeName).Obj()
			node.Labels = tc.labels
			ni := framework.NewNodeInfo()
			ni.SetNode(node)

			state := framework.NewCycleState()
			res, s := pl.PreFilter(context.Background(), state, tc.pod)
			if s.Code() != tc.wantPreSt {
				t.Fatalf("PreFilter code %v (%q), want %v", s.Code(), s.Message(), tc.wantPreSt)
			}
			if tc.wantPreSt == framework.UnschedulableAndUnresolvable && s.Message() != ErrReasonConflict {
				t.Errorf("PreFilter message %q", s.Message())
			}
			if diff := cmp.Diff(tc.wantPreRes, res); diff != "" {
				t.Errorf("PreFilter result (-want +got):\n%s", diff)
			}
			if s.IsSkip() {
				return
			}
			// Filter also works when PreFilter did not run or was rejected.
			for _, cs := range []*framework.CycleState{state, framework.NewCycleState()} {
				fs := pl.Filter(context.Background(), cs, tc.pod, ni)
				if fs.Code() != tc.wantCode || fs.Message() != tc.wantMsg {
					t.Errorf("Filter got %v %q, want %v %q", fs.Code(), fs.Message(), tc.wantCode, tc.wantMsg)
				}
			}
		})
	}
}

func TestPreFilterAddedAffinityDisablesSkip(t *testing.T) {
	p, err := New(&configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{exprTerm(req("a", corev1.NodeSelectorOpExists))}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, s := p.(*NodeAffinity).PreFilter(context.Background(), framework.NewCycleState(), st.MakePod().Obj()); !s.IsSuccess() {
		t.Errorf("want Success, got %v", s.Code())
	}
}

func TestNewArgs(t *testing.T) {
	if _, err := New(&configv1.NodeResourcesFitArgs{}, nil); err == nil {
		t.Error("wrong args type accepted")
	}
	if _, err := New((*configv1.NodeAffinityArgs)(nil), nil); err != nil {
		t.Errorf("typed nil args: %v", err)
	}
	_, err := New(&configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			exprTerm(req("a", corev1.NodeSelectorOpIn))}},
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			pref(1, fieldTerm(req(metav1.ObjectNameField, "Exists", "x")))},
	}}, nil)
	if err == nil || !strings.Contains(err.Error(), "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution") ||
		!strings.Contains(err.Error(), "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchFields[0].operator") {
		t.Errorf("unexpected error %v", err)
	}
}

func TestScore(t *testing.T) {
	affinity1 := preferred(pref(2, exprTerm(req("foo", corev1.NodeSelectorOpIn, "bar"))))
	affinity2 := preferred(
		pref(2, exprTerm(req("foo", corev1.NodeSelectorOpIn, "bar"))),
		pref(4, exprTerm(req("key", corev1.NodeSelectorOpIn, "value"))),
		pref(5, exprTerm(req("foo", corev1.NodeSelectorOpIn, "bar"), req("key", corev1.NodeSelectorOpIn, "value"), req("az", corev1.NodeSelectorOpIn, "az1"))),
	)
	label1 := map[string]string{"foo": "bar"}
	label2 := map[string]string{"key": "value"}
	label5 := map[string]string{"foo": "bar", "key": "value", "az": "az1"}
	tests := []struct {
		name         string
		pod          *corev1.Pod
		labels       []map[string]string
		args         *configv1.NodeAffinityArgs
		want         []int64
		wantPreScore framework.Code
	}{
		{name: "no preferred terms: PreScore skips", pod: st.MakePod().Obj(),
			labels: []map[string]string{label1, label2}, wantPreScore: framework.Skip},
		{name: "no node matches", pod: st.MakePod().Affinity(affinity1).Obj(),
			labels: []map[string]string{label2, {}}, want: []int64{0, 0}},
		{name: "one node matches", pod: st.MakePod().Affinity(affinity1).Obj(),
			labels: []map[string]string{label1, label2, {}}, want: []int64{100, 0, 0}},
		{name: "weights are summed and normalized", pod: st.MakePod().Affinity(affinity2).Obj(),
			labels: []map[string]string{label1, label5, label2}, want: []int64{18, 100, 36}},
		{name: "weight 0 and empty preferences are ignored",
			pod:    st.MakePod().Affinity(preferred(pref(0, exprTerm(req("foo", corev1.NodeSelectorOpExists))), pref(3, corev1.NodeSelectorTerm{}), pref(1, exprTerm(req("key", corev1.NodeSelectorOpExists))))).Obj(),
			labels: []map[string]string{label1, label2}, want: []int64{0, 100}},
		{name: "added preferred terms count",
			pod:    st.MakePod().Obj(),
			labels: []map[string]string{label1, label2},
			args: &configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				pref(5, exprTerm(req("key", corev1.NodeSelectorOpExists)))}}},
			want: []int64{0, 100}},
		{name: "added and pod preferred terms are summed",
			pod:    st.MakePod().Affinity(affinity1).Obj(),
			labels: []map[string]string{label1, label2, label5},
			args: &configv1.NodeAffinityArgs{AddedAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				pref(3, exprTerm(req("key", corev1.NodeSelectorOpExists)))}}},
			want: []int64{40, 60, 100}},
		{name: "a broken preferred term is an error",
			pod:    st.MakePod().Affinity(preferred(pref(1, exprTerm(req("foo", corev1.NodeSelectorOpIn))))).Obj(),
			labels: []map[string]string{label1}, wantPreScore: framework.Error},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var args *configv1.NodeAffinityArgs
			if tc.args != nil {
				args = tc.args
			}
			p, err := New(args, nil)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.(*NodeAffinity)
			var infos []*framework.NodeInfo
			for i, l := range tc.labels {
				n := st.MakeNode().Name("node" + string(rune('1'+i))).Obj()
				n.Labels = l
				ni := framework.NewNodeInfo()
				ni.SetNode(n)
				infos = append(infos, ni)
			}
			state := framework.NewCycleState()
			s := pl.PreScore(context.Background(), state, tc.pod, infos)
			if s.Code() != tc.wantPreScore {
				t.Fatalf("PreScore %v (%q), want %v", s.Code(), s.Message(), tc.wantPreScore)
			}
			if !s.IsSuccess() {
				return
			}
			var scores framework.NodeScoreList
			for _, ni := range infos {
				sc, s := pl.Score(context.Background(), state, tc.pod, ni)
				if !s.IsSuccess() {
					t.Fatal(s.AsError())
				}
				scores = append(scores, framework.NodeScore{Name: ni.NodeName(), Score: sc})
			}
			pl.ScoreExtensions().NormalizeScore(context.Background(), state, tc.pod, scores)
			var got []int64
			for _, s := range scores {
				got = append(got, s.Score)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	ev := (&NodeAffinity{}).EventsToRegister()
	if len(ev) != 1 || ev[0].ActionType&framework.UpdateNodeLabel == 0 || ev[0].ActionType&framework.Add == 0 {
		t.Errorf("unexpected events %+v", ev)
	}
}

func BenchmarkFilter(b *testing.B) {
	pod := st.MakePod().NodeSelector(map[string]string{"pool": "a"}).Affinity(required(
		exprTerm(req("zone", corev1.NodeSelectorOpIn, "z1", "z2", "z3"), req("cores", corev1.NodeSelectorOpGt, "4")))).Obj()
	pl := &NodeAffinity{}
	state := framework.NewCycleState()
	pl.PreFilter(context.Background(), state, pod)
	ni := framework.NewNodeInfo()
	ni.SetNode(st.MakeNode().Name("n").Label("pool", "a").Label("zone", "z3").Label("cores", "8").Obj())
	b.ReportAllocs()
	for b.Loop() {
		if s := pl.Filter(context.Background(), state, pod, ni); s != nil {
			b.Fatal(s.Message())
		}
	}
}
