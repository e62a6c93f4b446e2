package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// apps/v1 workloads. Column descriptions come from the same (older) API
// versions upstream takes them from, so the served text matches.

func init() {
	register(deploymentColumns, deploymentCells)
	register(replicaSetColumns, replicaSetCells)
	register(statefulSetColumns, statefulSetCells)
	register(daemonSetColumns, daemonSetCells)
	registerRow(controllerRevisionColumns, controllerRevisionRow)
}

// replicasOrDefault: apps/v1 defaults spec.replicas to 1 before storing.
func replicasOrDefault(r *int32) int64 { return int64(int32Or(r, 1)) }

var deploymentColumns = cols(
	nameColumn(),
	column("Ready", "string", "Number of the pod with ready state"),
	column("Up-to-date", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
	column("Available", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
	ageColumn(),
	templateColumns(extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
)

func deploymentCells(d *appsv1.Deployment, now time.Time) []any {
	// Unlike the other workloads, an empty selector prints as "" here and a
	// broken one as <invalid>.
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []any{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOrDefault(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		age(d.CreationTimestamp, now),
		names, images, selector,
	}
}

var replicaSetColumns = cols(
	nameColumn(),
	column("Desired", "integer", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
	column("Current", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
	column("Ready", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	templateColumns(extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
)

func replicaSetCells(rs *appsv1.ReplicaSet, now time.Time) []any {
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		rs.Name,
		replicasOrDefault(rs.Spec.Replicas),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		age(rs.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

var statefulSetColumns = cols(
	nameColumn(),
	column("Ready", "string", "Number of the pod with ready state"),
	ageColumn(),
	wideColumn("Containers", "string", containersDoc),
	wideColumn("Images", "string", imagesDoc),
)

func statefulSetCells(ss *appsv1.StatefulSet, now time.Time) []any {
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []any{
		ss.Name,
		fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicasOrDefault(ss.Spec.Replicas)),
		age(ss.CreationTimestamp, now),
		names, images,
	}
}

var daemonSetColumns = cols(
	nameColumn(),
	column("Desired", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
	column("Current", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
	column("Ready", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
	column("Up-to-date", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
	column("Available", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
	column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
	ageColumn(),
	templateColumns(extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
)

func daemonSetCells(ds *appsv1.DaemonSet, now time.Time) []any {
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []any{
		ds.Name,
		int64(st.DesiredNumberScheduled),
		int64(st.CurrentNumberScheduled),
		int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled),
		int64(st.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		age(ds.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
	}
}

var controllerRevisionColumns = cols(
	nameColumn(),
	column("Controller", "string", "Controller of the object"),
	column("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]),
	ageColumn(),
)

// controllerRevisionRow names the owning controller as
// "<kind>.<group>/<name>" (lower-cased kind and group), e.g.
// "daemonset.apps/fluentd".
func controllerRevisionRow(cr *appsv1.ControllerRevision, now time.Time) (metav1.TableRow, error) {
	controller := none
	if ref := metav1.GetControllerOf(cr); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return metav1.TableRow{}, err
		}
		gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
		controller = ref.Name
		if !gk.Empty() {
			controller = strings.ToLower(gk.String()) + "/" + ref.Name
		}
	}
	return metav1.TableRow{Cells: []any{cr.Name, controller, cr.Revision, age(cr.CreationTimestamp, now)}}, nil
}
