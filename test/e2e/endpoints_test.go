package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// TestEndpoints runs a Deployment of test servers with a readiness probe behind a Service: the EndpointSlice
// and Endpoints controllers publish the pods, follow their readiness (a pod whose /healthz fails becomes
// not ready, and comes back), and scaling down; a Service without a selector gets no managed slices.
func TestEndpoints(t *testing.T) {
	framework.NeedRoot(t)
	imgDir := framework.TestImages(t)
	c := framework.Start(t, framework.Options{Agent: true, Images: []string{filepath.Join(imgDir, "testserver.tar")}})
	ctx := context.Background()
	kubectlIn(t, c, webDeployment("", 3)+`---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata:
  name: manual
spec:
  ports:
  - {port: 80}
`, "apply", "-f", "-")

	type state struct {
		slices             []discoveryv1.EndpointSlice
		ready, notReady    map[string]bool // pod name → serving, from the slices
		addrs, notReadyEps []string        // Endpoints addresses / notReadyAddresses (pod names)
	}
	get := func() (state, error) {
		var s state
		l, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return s, err
		}
		s.slices, s.ready, s.notReady = l.Items, map[string]bool{}, map[string]bool{}
		for _, es := range l.Items {
			for _, ep := range es.Endpoints {
				if *ep.Conditions.Ready {
					s.ready[ep.TargetRef.Name] = *ep.Conditions.Serving
				} else {
					s.notReady[ep.TargetRef.Name] = *ep.Conditions.Serving
				}
			}
		}
		ep, err := c.Client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return s, err
		}
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				s.addrs = append(s.addrs, a.TargetRef.Name)
			}
			for _, a := range ss.NotReadyAddresses {
				s.notReadyEps = append(s.notReadyEps, a.TargetRef.Name)
			}
		}
		sort.Strings(s.addrs)
		sort.Strings(s.notReadyEps)
		return s, nil
	}
	wait := func(what string, ok func(s state) bool) state {
		t.Helper()
		var s state
		eventually(t, 90*time.Second, func() error {
			var err error
			if s, err = get(); err != nil {
				return err
			}
			if !ok(s) {
				return fmt.Errorf("%s: %d slices, ready %v, not ready %v, addresses %v, notReadyAddresses %v",
					what, len(s.slices), s.ready, s.notReady, s.addrs, s.notReadyEps)
			}
			return nil
		})
		return s
	}

	s := wait("3 ready endpoints", func(s state) bool {
		return len(s.slices) == 1 && len(s.ready) == 3 && len(s.notReady) == 0 && len(s.addrs) == 3 && len(s.notReadyEps) == 0
	})
	es := s.slices[0]
	if es.AddressType != discoveryv1.AddressTypeIPv4 || es.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" ||
		!strings.HasPrefix(es.Name, "web-") || len(es.OwnerReferences) != 1 || es.OwnerReferences[0].Kind != "Service" {
		t.Fatalf("slice %+v", es.ObjectMeta)
	}
	if len(es.Ports) != 1 || *es.Ports[0].Name != "http" || *es.Ports[0].Port != 8080 {
		t.Fatalf("ports %+v", es.Ports)
	}
	for _, ep := range es.Endpoints {
		if ep.NodeName == nil || *ep.NodeName != "skiff-e2e" || ep.TargetRef.Kind != "Pod" || *ep.Conditions.Terminating {
			t.Fatalf("endpoint %+v", ep)
		}
	}
	sliceName := es.Name

	// Fail one pod's readiness: it becomes not ready (and not serving) in the slice and moves to the
	// Endpoints' notReadyAddresses; recovering brings it back.
	victim := es.Endpoints[0]
	post := func(path string) {
		t.Helper()
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+victim.Addresses[0]+":8080"+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("/healthz/fail")
	s = wait("victim not ready", func(s state) bool {
		serving, ok := s.notReady[victim.TargetRef.Name]
		return ok && !serving && len(s.ready) == 2 && len(s.addrs) == 2 &&
			len(s.notReadyEps) == 1 && s.notReadyEps[0] == victim.TargetRef.Name
	})
	if len(s.slices) != 1 || s.slices[0].Name != sliceName {
		t.Fatalf("slice replaced instead of updated: %d slices", len(s.slices))
	}
	post("/healthz/ok")
	wait("victim ready again", func(s state) bool {
		return s.ready[victim.TargetRef.Name] && len(s.ready) == 3 && len(s.addrs) == 3 && len(s.notReadyEps) == 0
	})

	out := kubectl(t, c, "get", "endpointslices", "-l", "kubernetes.io/service-name=web")
	mustContain(t, out, sliceName, "IPv4", "8080", victim.Addresses[0])
	out = kubectl(t, c, "get", "endpoints", "web")
	mustContain(t, out, victim.Addresses[0]+":8080")

	// Scale to 1: one endpoint left, in the same slice.
	kubectl(t, c, "scale", "deployment/web", "--replicas=1")
	s = wait("1 endpoint", func(s state) bool {
		return len(s.ready)+len(s.notReady) == 1 && len(s.addrs) == 1 && len(s.notReadyEps) == 0
	})
	if len(s.slices) != 1 || s.slices[0].Name != sliceName {
		t.Fatalf("after scale down: %d slices", len(s.slices))
	}

	// The Service without a selector has no managed slices and no Endpoints from the controller.
	l, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=manual"})
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("manual service slices: %v %v", l, err)
	}
	if _, err := c.Client.CoreV1().Endpoints("default").Get(ctx, "manual", metav1.GetOptions{}); err == nil {
		t.Fatal("Endpoints made for a Service without a selector")
	}

	// Deleting the Service removes its Endpoints (the controller) and its slices (garbage collector).
	kubectl(t, c, "delete", "service", "web")
	eventually(t, 60*time.Second, func() error {
		l, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		if len(l.Items) != 0 {
			return fmt.Errorf("%d slices left", len(l.Items))
		}
		if _, err := c.Client.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("endpoints left")
		}
		return nil
	})
}
