package controllerutil

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestSlowStart(t *testing.T) {
	var calls atomic.Int32
	n, err := SlowStart(10, func(int) error { calls.Add(1); return nil })
	if n != 10 || err != nil || calls.Load() != 10 {
		t.Fatalf("all succeed: %d %v %d", n, err, calls.Load())
	}
	calls.Store(0)
	n, err = SlowStart(100, func(int) error {
		if calls.Add(1) > 4 {
			return errors.New("forbidden")
		}
		return nil
	})
	// Batches 1, 2, 4: the third batch has a failure, so no batch of 8 is tried.
	if err == nil || calls.Load() != 7 || n != 4 {
		t.Fatalf("failing creates: %d succeeded, %d calls, err %v", n, calls.Load(), err)
	}
}

func TestExpectations(t *testing.T) {
	e := NewExpectations()
	if !e.Satisfied("k") {
		t.Fatal("fresh key not satisfied")
	}
	e.Expect("k", 2, nil)
	e.CreationObserved("k")
	if e.Satisfied("k") {
		t.Fatal("satisfied with a creation outstanding")
	}
	e.CreationObserved("k")
	e.Expect("k", 0, []types.UID{"u1"})
	if e.Satisfied("k") {
		t.Fatal("satisfied with a deletion outstanding")
	}
	e.DeletionObserved("k", "u1")
	if !e.Satisfied("k") {
		t.Fatal("not satisfied after everything was observed")
	}
}

func TestAvailableAndHash(t *testing.T) {
	now := time.Now()
	p := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(now.Add(-5 * time.Second))}}}}
	if !Available(p, 0, now) || !Available(p, 5, now) || Available(p, 6, now) {
		t.Fatal("availability by minReadySeconds")
	}
	if w, ok := AvailableIn(p, 10, now); !ok || w != 5*time.Second {
		t.Fatalf("available in %v %v", w, ok)
	}
	zero := int32(0)
	if Hash([]byte("x"), nil) == Hash([]byte("x"), &zero) {
		t.Fatal("a given zero collision count is hashed")
	}
	if n := RevisionName(strings.Repeat("a", 300), "h"); len(n) != 225 {
		t.Fatalf("revision name length %d", len(n))
	}
}
