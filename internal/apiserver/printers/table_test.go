package printers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	kubectlprinters "k8s.io/cli-runtime/pkg/printers"
)

func TestFallbackTable(t *testing.T) {
	created := metav1.NewTime(time.Date(2024, 12, 31, 23, 15, 0, 0, time.FixedZone("CET", 3600)))
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("example.com/v1")
	crd.SetKind("Widget")
	crd.SetName("w1")
	crd.SetCreationTimestamp(created)

	for _, obj := range []runtime.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "w1", CreationTimestamp: created}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "w1", CreationTimestamp: created}},
		&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "w1", CreationTimestamp: created}},
		crd,
	} {
		table := mustTable(t, obj)
		want := []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		}
		if !reflect.DeepEqual(table.ColumnDefinitions, want) {
			t.Errorf("%T columns = %+v", obj, table.ColumnDefinitions)
		}
		// Always UTC, RFC 3339, whatever the stored zone.
		if got, wantCells := table.Rows[0].Cells, []any{"w1", "2024-12-31T22:15:00Z"}; !reflect.DeepEqual(got, wantCells) {
			t.Errorf("%T cells = %q, want %q", obj, got, wantCells)
		}
		if !reflect.DeepEqual(Columns(obj), want) {
			t.Errorf("Columns(%T) differs from the table's", obj)
		}
	}
	if got := columnNames(Columns(nil)); !reflect.DeepEqual(got, []string{"Name", "Created At"}) {
		t.Errorf("Columns(nil) = %q", got)
	}
}

func TestTableEdgeCases(t *testing.T) {
	empty, err := Table(nil, now)
	if err != nil || empty.Rows == nil || len(empty.Rows) != 0 || len(empty.ColumnDefinitions) != 2 {
		t.Errorf("empty table = %+v, %v", empty, err)
	}
	if empty.Kind != "Table" || empty.APIVersion != "meta.k8s.io/v1" {
		t.Errorf("type meta = %+v", empty.TypeMeta)
	}
	if _, err := Table([]runtime.Object{newPod("a"), &corev1.Service{}}, now); err == nil {
		t.Error("mixed kinds: want an error")
	}
	if _, err := Table([]runtime.Object{newPod("a"), nil}, now); err == nil {
		t.Error("nil object: want an error")
	}
	status := mustTable(t, &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Message: "gone"})
	if got := status.Rows[0].Cells; !reflect.DeepEqual(got, []any{"Failure", "NotFound", "gone"}) {
		t.Errorf("status cells = %q", got)
	}
	bad := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "x", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "a/b/c", Kind: "X", Name: "y", Controller: ptr(true)},
	}}}
	if _, err := Table([]runtime.Object{bad}, now); err == nil {
		t.Error("unparseable controller apiVersion: want an error, as upstream")
	}

	// Callers may mutate what they get without affecting later calls.
	c := Columns(&corev1.Pod{})
	c[0].Name = "mutated"
	if Columns(&corev1.Pod{})[0].Name != "Name" {
		t.Error("Columns shares its backing array")
	}
	// Rows keep the given order.
	table := mustTable(t, newPod("b"), newPod("a"), newPod("c"))
	var names []any
	for _, r := range table.Rows {
		names = append(names, r.Cells[0])
	}
	if !reflect.DeepEqual(names, []any{"b", "a", "c"}) {
		t.Errorf("row order = %q", names)
	}
}

// TestEveryPrinter checks invariants for every registered kind on a zero
// object: one cell per column, cells of JSON-friendly Go types that agree
// with integer/boolean column types, the name cell holding the name, and
// descriptions present. It also makes sure no printer panics on an empty
// object.
func TestEveryPrinter(t *testing.T) {
	if len(handlers) < 45 {
		t.Errorf("only %d kinds registered", len(handlers))
	}
	for typ := range handlers {
		obj := reflect.New(typ.Elem()).Interface().(runtime.Object)
		t.Run(typ.Elem().Name()+"/"+typ.Elem().PkgPath(), func(t *testing.T) {
			if m, err := meta.Accessor(obj); err == nil {
				m.SetName("obj-name")
			}
			table := mustTable(t, obj)
			cols, cells := table.ColumnDefinitions, table.Rows[0].Cells
			if len(cols) != len(cells) {
				t.Fatalf("%d columns, %d cells", len(cols), len(cells))
			}
			seen := map[string]bool{}
			for i, c := range cols {
				if seen[c.Name] {
					t.Errorf("duplicate column %q", c.Name)
				}
				seen[c.Name] = true
				// Two upstream quirks look descriptions up under keys that
				// do not exist; everything else must be described.
				quirk := (c.Name == "Handler" && typ.Elem().Name() == "RuntimeClass") || (c.Name == "Message" && typ.Elem().Name() == "Status")
				if c.Description == "" && !quirk {
					t.Errorf("column %q has no description", c.Name)
				}
				if c.Priority != 0 && c.Priority != 1 {
					t.Errorf("column %q priority %d", c.Name, c.Priority)
				}
				switch v := cells[i].(type) {
				case string:
					if c.Type == "integer" {
						t.Errorf("integer column %q holds string %q", c.Name, v)
					}
				case int64:
					if c.Type == "boolean" || c.Type == "date" {
						t.Errorf("%s column %q holds int64", c.Type, c.Name)
					}
				case bool:
					// StorageClass declares AllowVolumeExpansion a string.
					if c.Type != "boolean" && c.Name != "AllowVolumeExpansion" {
						t.Errorf("%s column %q holds bool", c.Type, c.Name)
					}
				default:
					t.Errorf("column %q holds %T", c.Name, v)
				}
				if c.Name == "Name" && cells[i] != "obj-name" && typ.Elem().Name() != "Status" {
					t.Errorf("name cell = %v", cells[i])
				}
			}
			if _, err := json.Marshal(table); err != nil {
				t.Errorf("marshal: %v", err)
			}
			if !reflect.DeepEqual(Columns(obj), cols) {
				t.Error("Columns differs from Table's columns")
			}
		})
	}
}

// kubectlView renders a table the way kubectl get does: the JSON goes over
// the wire, is decoded, and printed by cli-runtime's table printer. Lines
// are split into cells on runs of two or more spaces.
func kubectlView(t *testing.T, tables []*metav1.Table, wide bool) [][]string {
	t.Helper()
	printer := kubectlprinters.NewTablePrinter(kubectlprinters.PrintOptions{Wide: wide})
	var out bytes.Buffer
	for _, table := range tables {
		data, err := json.Marshal(table)
		if err != nil {
			t.Fatal(err)
		}
		var decoded metav1.Table
		if err := utiljson.Unmarshal(data, &decoded); err != nil {
			t.Fatal(err)
		}
		if err := printer.PrintObj(&decoded, &out); err != nil {
			t.Fatal(err)
		}
	}
	var lines [][]string
	split := regexp.MustCompile(` {2,}`)
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		lines = append(lines, split.Split(strings.TrimSpace(l), -1))
	}
	return lines
}

func TestKubectlGetPods(t *testing.T) {
	pods := []runtime.Object{
		newPod("web-0", phase(corev1.PodRunning), containers(running(true)), func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.7"}}
		}),
		newPod("crash", phase(corev1.PodRunning), containers(restarted(waiting("CrashLoopBackOff"), 3, 5*time.Minute))),
		newPod("init", initContainers(running(false))),
	}
	table := mustTable(t, pods...)

	got := kubectlView(t, []*metav1.Table{table}, false)
	want := [][]string{
		{"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
		{"web-0", "1/1", "Running", "0", "60m"},
		{"crash", "0/1", "CrashLoopBackOff", "3 (5m ago)", "60m"},
		{"init", "0/1", "Init:0/1", "0", "60m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get pods:\n%q\nwant\n%q", got, want)
	}

	got = kubectlView(t, []*metav1.Table{mustTable(t, pods[0])}, true)
	want = [][]string{
		{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
		{"web-0", "1/1", "Running", "0", "60m", "10.1.0.7", "node-1", "<none>", "<none>"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get pods -o wide:\n%q\nwant\n%q", got, want)
	}
}

// TestKubectlWatch mimics "kubectl get -w": the first table carries the
// columns, later watch events are sent without them (NoHeaders) and
// kubectl reuses the columns it remembered.
func TestKubectlWatch(t *testing.T) {
	first := mustTable(t, newPod("web-0"))
	if !reflect.DeepEqual(first.ColumnDefinitions, Columns(&corev1.Pod{})) {
		t.Fatal("Columns must equal the table's columns, or kubectl reprints headers")
	}
	update := mustTable(t, newPod("web-0", phase(corev1.PodRunning), containers(running(true))))
	update.ColumnDefinitions = nil
	got := kubectlView(t, []*metav1.Table{first, update}, false)
	want := [][]string{
		{"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
		{"web-0", "0/1", "Pending", "0", "60m"},
		{"web-0", "1/1", "Running", "0", "60m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get -w:\n%q\nwant\n%q", got, want)
	}
}

func TestKubectlGetServicesAndRoles(t *testing.T) {
	got := kubectlView(t, []*metav1.Table{mustTable(t,
		newService("kubernetes", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.1", []string{"10.96.0.1"}
			s.Spec.Ports = []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}
		}),
		newService("lb", corev1.ServiceTypeLoadBalancer),
	)}, false)
	want := [][]string{
		{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"},
		{"kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "60m"},
		{"lb", "LoadBalancer", "10.96.0.10", "<pending>", "80/TCP", "60m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get svc:\n%q\nwant\n%q", got, want)
	}

	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}
	got = kubectlView(t, []*metav1.Table{mustTable(t, role)}, false)
	want = [][]string{{"NAME", "CREATED AT"}, {"reader", "2025-06-01T11:00:00Z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl get roles:\n%q\nwant\n%q", got, want)
	}
}
