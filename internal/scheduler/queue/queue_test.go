package queue

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"skiff/internal/scheduler/framework"
	st "skiff/internal/scheduler/testing"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestPopOrder(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := New(clk.now, nil)
	q.Add(st.MakePod().Name("low").Priority(1).Obj())
	clk.t = clk.t.Add(time.Second)
	q.Add(st.MakePod().Name("high").Priority(10).Obj())
	clk.t = clk.t.Add(time.Second)
	q.Add(st.MakePod().Name("low-later").Priority(1).Obj())
	for _, want := range []string{"high", "low", "low-later"} {
		if got := q.Pop().Pod.Name; got != want {
			t.Fatalf("popped %s, want %s", got, want)
		}
	}
}

func TestUnschedulableMovesOnRelevantEventOnly(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := New(clk.now, map[string][]framework.ClusterEvent{
		"NodeResourcesFit": {{Resource: framework.EventNode, ActionType: framework.Add | framework.UpdateNodeAllocatable}, {Resource: framework.EventPod, ActionType: framework.Delete}},
	})
	q.Add(st.MakePod().Name("p").Obj())
	qp := q.Pop()
	cycle := q.SchedulingCycle()
	qp.UnschedulablePlugins = sets.New("NodeResourcesFit")
	q.AddUnschedulable(qp, cycle, false)
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("lens %d %d %d", a, b, u)
	}
	q.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventNode, ActionType: framework.UpdateNodeTaint})
	if _, _, u := q.Len(); u != 1 {
		t.Fatal("an irrelevant event moved the pod")
	}
	// Relevant event, but the pod is still backing off (1s after its first attempt): it goes to backoff.
	q.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventPod, ActionType: framework.Delete})
	if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("after a relevant event: lens %d %d %d", a, b, u)
	}
	clk.t = clk.t.Add(1500 * time.Millisecond)
	q.flushBackoff()
	if a, _, _ := q.Len(); a != 1 {
		t.Fatal("backoff did not expire into active")
	}
}

func TestEventDuringCycleGoesToBackoff(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	q := New(clk.now, nil)
	q.Add(st.MakePod().Name("p").Obj())
	qp := q.Pop()
	cycle := q.SchedulingCycle()
	q.MoveOnEvent(framework.ClusterEvent{Resource: framework.EventNode, ActionType: framework.Add})
	q.AddUnschedulable(qp, cycle, false)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("a pod whose cycle saw an event must be retried: backoff %d unschedulable %d", b, u)
	}
}

func TestBackoffDoubles(t *testing.T) {
	q := New(nil, nil)
	qp := &QueuedPodInfo{}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 10 * time.Second, 9: 10 * time.Second} {
		qp.Attempts = attempts
		if got := q.backoffDuration(qp); got != want {
			t.Fatalf("attempts %d: %s, want %s", attempts, got, want)
		}
	}
}

func TestDeleteAndUpdate(t *testing.T) {
	q := New(nil, nil)
	p := st.MakePod().Name("p").Obj()
	q.Add(p)
	q.Delete(p)
	if a, _, _ := q.Len(); a != 0 {
		t.Fatal("delete left the pod")
	}
	q.Add(p)
	p2 := p.DeepCopy()
	p2.Labels = map[string]string{"x": "y"}
	q.Update(p2)
	if got := q.Pop(); got.Pod.Labels["x"] != "y" {
		t.Fatal("update not applied")
	}
	q.Close()
	if q.Pop() != nil {
		t.Fatal("pop after close")
	}
}
