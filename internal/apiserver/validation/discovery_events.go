package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, requiredOneOf(es.AddressType, field.NewPath("addressType"),
		discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6)...)
	ep := field.NewPath("endpoints")
	if len(es.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(es.Endpoints), maxSliceEndpoints))
	} else {
		for i, e := range es.Endpoints {
			ip := ep.Index(i)
			ap := ip.Child("addresses")
			if len(e.Addresses) == 0 {
				errs = append(errs, field.Required(ap, "must contain at least 1 address"))
			} else if len(e.Addresses) > maxSliceAddresses {
				errs = append(errs, field.TooMany(ap, len(e.Addresses), maxSliceAddresses))
			}
			for j, a := range e.Addresses {
				errs = append(errs, validateSliceAddress(es.AddressType, a, ap.Index(j))...)
			}
			if e.NodeName != nil {
				errs = append(errs, name(apimachineryvalidation.NameIsDNSSubdomain, *e.NodeName, ip.Child("nodeName"))...)
			}
			if e.Hostname != nil {
				errs = append(errs, dns1123Label(*e.Hostname, ip.Child("hostname"))...)
			}
		}
	}
	pp := field.NewPath("ports")
	if len(es.Ports) > maxSlicePorts {
		return append(errs, field.TooMany(pp, len(es.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		ip := pp.Index(i)
		n := ""
		if port.Name != nil {
			n = *port.Name
		}
		if n != "" {
			errs = append(errs, dns1123Label(n, ip.Child("name"))...)
		}
		if names.Has(n) {
			errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
		}
		names.Insert(n)
		if port.Protocol == nil {
			errs = append(errs, field.Required(ip.Child("protocol"), ""))
		} else {
			errs = append(errs, oneOf(*port.Protocol, ip.Child("protocol"), supportedPortProtocols...)...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, ip.Child("appProtocol"))...)
		}
	}
	return errs
}

// validateSliceAddress validates the known address types; unknown ones are
// already reported on addressType.
func validateSliceAddress(t discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		errs := validation.IsValidIP(p, a)
		if len(errs) == 0 {
			ip4 := isIPv4(a)
			if t == discoveryv1.AddressTypeIPv4 && !ip4 {
				errs = append(errs, field.Invalid(p, a, "must be a valid IPv4 address"))
			} else if t == discoveryv1.AddressTypeIPv6 && ip4 {
				errs = append(errs, field.Invalid(p, a, "must be a valid IPv6 address"))
			}
		}
		if len(errs) > 0 {
			return errs
		}
		return validateNonSpecialIP(a, p)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

func isIPv4(a string) bool {
	for _, c := range a {
		if c == ':' {
			return false
		}
	}
	return true
}

// Limits on event text; events are high volume and stored for an hour.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// eventFields is the internal shape both Event APIs convert to; upstream
// validates that shape, so its field names appear in errors for both APIs.
type eventFields struct {
	namespace           string
	involvedNamespace   string
	eventTime           metav1.MicroTime
	reportingController string
	reportingInstance   string
	action, reason      string
	message, typ        string
	series              *eventsv1.EventSeries
	firstTimestamp      metav1.Time
	lastTimestamp       metav1.Time
	count               int32
	source              corev1.EventSource
}

// validateLegacyEvent is all a core/v1 Event gets: old clients send loosely
// filled events and must keep working.
func validateLegacyEvent(e eventFields, controllerField string) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.eventTime.IsZero() {
		if e.involvedNamespace == "" {
			// Cluster-scoped objects' events go to "default".
			if e.namespace != metav1.NamespaceNone && e.namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.involvedNamespace, "does not match event.namespace"))
			}
		} else if e.namespace != e.involvedNamespace {
			errs = append(errs, field.Invalid(nsPath, e.involvedNamespace, "does not match event.namespace"))
		}
	} else {
		if e.involvedNamespace == "" && e.namespace != metav1.NamespaceDefault && e.namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.involvedNamespace, "does not match event.namespace"))
		}
		if e.reportingController == "" {
			errs = append(errs, field.Required(field.NewPath(controllerField), ""))
		}
		errs = append(errs, qualifiedName(e.reportingController, field.NewPath(controllerField))...)
		errs = append(errs, requiredAndShort(e.reportingInstance, reportingInstanceLengthLimit, field.NewPath("reportingInstance"))...)
		errs = append(errs, requiredAndShort(e.action, actionLengthLimit, field.NewPath("action"))...)
		errs = append(errs, requiredAndShort(e.reason, reasonLengthLimit, field.NewPath("reason"))...)
		if len(e.message) > noteLengthLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
		}
	}
	return append(errs, msgs(validation.IsDNS1123Subdomain(e.namespace), e.namespace, field.NewPath("namespace"))...)
}

func requiredAndShort(v string, limit int, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(v) > limit {
		errs = append(errs, field.Invalid(p, "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

func coreEventFields(e *corev1.Event) eventFields {
	return eventFields{e.Namespace, e.InvolvedObject.Namespace, e.EventTime, e.ReportingController, e.ReportingInstance,
		e.Action, e.Reason, e.Message, e.Type, nil, e.FirstTimestamp, e.LastTimestamp, e.Count, e.Source}
}

func eventsV1Fields(e *eventsv1.Event) eventFields {
	return eventFields{e.Namespace, e.Regarding.Namespace, e.EventTime, e.ReportingController, e.ReportingInstance,
		e.Action, e.Reason, e.Note, e.Type, e.Series, e.DeprecatedFirstTimestamp, e.DeprecatedLastTimestamp,
		e.DeprecatedCount, e.DeprecatedSource}
}

// validateEventsV1 adds the strict rules of the events.k8s.io API.
func validateEventsV1(e *eventsv1.Event) field.ErrorList {
	f := eventsV1Fields(e)
	errs := validateLegacyEvent(f, "reportingController")
	errs = append(errs, validateEventSeries(e.Series)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	// The deprecated counters belong to the core API's aggregation scheme.
	if !f.firstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !f.lastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if f.count != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if f.source.Component != "" || f.source.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}

func validateEventSeries(s *eventsv1.EventSeries) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if s.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return errs
}

// validateEventsV1Update: an event records what happened; only its series
// (repeat count) moves on.
func validateEventsV1Update(e, old *eventsv1.Event) field.ErrorList {
	errs := validateLegacyEvent(eventsV1Fields(e), "reportingController")
	if !semanticEqual(e.Series, old.Series) {
		errs = append(errs, validateEventSeries(e.Series)...)
	}
	for _, f := range []struct {
		name     string
		new, old any
	}{
		{"involvedObject", e.Regarding, old.Regarding}, {"reason", e.Reason, old.Reason}, {"message", e.Note, old.Note},
		{"source", e.DeprecatedSource, old.DeprecatedSource}, {"firstTimestamp", e.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp},
		{"lastTimestamp", e.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp}, {"count", e.DeprecatedCount, old.DeprecatedCount},
		{"type", e.Type, old.Type}, {"eventTime", e.EventTime, old.EventTime}, {"action", e.Action, old.Action},
		{"related", e.Related, old.Related}, {"reportingController", e.ReportingController, old.ReportingController},
		{"reportingInstance", e.ReportingInstance, old.ReportingInstance},
	} {
		errs = append(errs, immutable(f.new, f.old, field.NewPath(f.name))...)
	}
	return errs
}
