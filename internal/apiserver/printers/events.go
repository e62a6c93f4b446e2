package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Events exist in two API groups backed by the same storage; upstream
// prints both from the same internal object, so events.k8s.io/v1 events
// get the core columns, with their fields mapped back.

var eventColumns = cols(
	column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
	column("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
	column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
	column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
	wideColumn("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
	wideColumn("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
	column("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
	wideColumn("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
	wideColumn("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
	// The name is last and wide: event names are generated and noisy.
	metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: objectMetaDoc["name"]},
)

func init() {
	register(eventColumns, func(e *corev1.Event, now time.Time) []any {
		return eventView{
			name:           e.Name,
			eventType:      e.Type,
			reason:         e.Reason,
			regarding:      e.InvolvedObject,
			message:        e.Message,
			source:         e.Source,
			controller:     e.ReportingController,
			instance:       e.ReportingInstance,
			firstTimestamp: e.FirstTimestamp,
			lastTimestamp:  e.LastTimestamp,
			eventTime:      e.EventTime,
			count:          e.Count,
			series:         e.Series,
		}.cells(now)
	})
	register(eventColumns, func(e *eventsv1.Event, now time.Time) []any {
		v := eventView{
			name:           e.Name,
			eventType:      e.Type,
			reason:         e.Reason,
			regarding:      e.Regarding,
			message:        e.Note,
			controller:     e.ReportingController,
			instance:       e.ReportingInstance,
			firstTimestamp: e.DeprecatedFirstTimestamp,
			lastTimestamp:  e.DeprecatedLastTimestamp,
			eventTime:      e.EventTime,
			count:          e.DeprecatedCount,
			source:         e.DeprecatedSource,
		}
		if e.Series != nil {
			v.series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
		}
		return v.cells(now)
	})
}

// eventView is the common shape of both event types.
type eventView struct {
	name, eventType, reason string
	regarding               corev1.ObjectReference
	message                 string
	source                  corev1.EventSource
	controller, instance    string
	firstTimestamp          metav1.Time
	lastTimestamp           metav1.Time
	eventTime               metav1.MicroTime
	count                   int32
	series                  *corev1.EventSeries
}

func (e eventView) cells(now time.Time) []any {
	// New-style events only carry eventTime (and a series for repeats);
	// fall back through the fields so LAST SEEN is never blank.
	first := age(e.firstTimestamp, now)
	if e.firstTimestamp.IsZero() {
		first = microAge(e.eventTime, now)
	}
	last := age(e.lastTimestamp, now)
	if e.lastTimestamp.IsZero() {
		last = first
	}
	count := e.count
	if e.series != nil {
		last = microAge(e.series.LastObservedTime, now)
		count = e.series.Count
	} else if count == 0 {
		count = 1 // singleton events have no count in the new API
	}

	object := strings.ToLower(e.regarding.Kind)
	if e.regarding.Name != "" {
		object += "/" + e.regarding.Name
	}

	// Source: component (or reporting controller), then host (or reporting
	// instance) when known.
	component := firstNonEmpty(e.source.Component, e.controller)
	source := component
	if host := firstNonEmpty(e.source.Host, e.instance); host != "" {
		source = component + ", " + host
	}

	return []any{
		last,
		e.eventType,
		e.reason,
		object,
		e.regarding.FieldPath,
		source,
		strings.TrimSpace(e.message),
		first,
		int64(count),
		e.name,
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
