package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Probes and lifecycle handlers.

func validateProbe(pr *corev1.Probe, grace *int64, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	h := pr.ProbeHandler
	errs := validateHandler(h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil, grace, p)
	errs = append(errs, nonNegative(int64(pr.InitialDelaySeconds), p.Child("initialDelaySeconds"))...)
	errs = append(errs, nonNegative(int64(pr.TimeoutSeconds), p.Child("timeoutSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.PeriodSeconds), p.Child("periodSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.SuccessThreshold), p.Child("successThreshold"))...)
	errs = append(errs, nonNegative(int64(pr.FailureThreshold), p.Child("failureThreshold"))...)
	if t := pr.TerminationGracePeriodSeconds; t != nil && *t <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *t, "must be greater than 0"))
	}
	return errs
}

// Liveness and startup probes decide restarts, so a single success must
// count; readiness may demand several.
func validateLivenessProbe(pr *corev1.Probe, grace *int64, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validateProbe(pr, grace, p)
	if pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validateReadinessProbe(pr *corev1.Probe, grace *int64, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validateProbe(pr, grace, p)
	if pr.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), pr.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
	}
	return errs
}

func validateLifecycle(l *corev1.Lifecycle, grace *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, h := range []struct {
		name string
		h    *corev1.LifecycleHandler
	}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
		if h.h != nil {
			errs = append(errs, validateHandler(h.h.Exec, h.h.HTTPGet, h.h.TCPSocket, nil, h.h.Sleep, grace, p.Child(h.name))...)
		}
	}
	if l.StopSignal != nil {
		// Which signals are valid depends on spec.os; only emptiness is
		// checked here.
		if *l.StopSignal == "" {
			errs = append(errs, field.Required(p.Child("stopSignal"), ""))
		}
	}
	return errs
}

// validateHandler requires exactly one action; later ones are Forbidden.
func validateHandler(exec *corev1.ExecAction, hg *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, grpc *corev1.GRPCAction, sleep *corev1.SleepAction, grace *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	one := func(name string, present bool, check func() field.ErrorList) {
		if !present {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		errs = append(errs, check()...)
	}
	one("exec", exec != nil, func() field.ErrorList {
		if len(exec.Command) == 0 {
			return field.ErrorList{field.Required(p.Child("exec", "command"), "")}
		}
		return nil
	})
	one("httpGet", hg != nil, func() field.ErrorList { return validateHTTPGet(hg, p.Child("httpGet")) })
	one("tcpSocket", tcp != nil, func() field.ErrorList { return validatePortNumOrName(tcp.Port, p.Child("tcpSocket", "port")) })
	one("grpc", grpc != nil, func() field.ErrorList {
		return validatePortNumOrName(intstr.FromInt32(grpc.Port), p.Child("grpc", "port"))
	})
	one("sleep", sleep != nil, func() field.ErrorList {
		// Zero-second sleeps are allowed (PodLifecycleSleepActionAllowZero).
		if grace != nil && (sleep.Seconds < 0 || sleep.Seconds > *grace) {
			return field.ErrorList{field.Invalid(p.Child("sleep"), sleep.Seconds,
				fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", *grace))}
		}
		return nil
	})
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type"))
	}
	return errs
}

func validateHTTPGet(h *corev1.HTTPGetAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if h.Path == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	}
	errs = append(errs, validatePortNumOrName(h.Port, p.Child("port"))...)
	errs = append(errs, oneOf(h.Scheme, p.Child("scheme"), corev1.URISchemeHTTP, corev1.URISchemeHTTPS)...)
	for _, hdr := range h.HTTPHeaders {
		errs = append(errs, msgs(validation.IsHTTPHeaderName(hdr.Name), hdr.Name, p.Child("httpHeaders"))...)
	}
	return errs
}

func validatePortNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return msgs(validation.IsValidPortNum(port.IntValue()), port.IntValue(), p)
	case intstr.String:
		return msgs(validation.IsValidPortName(port.StrVal), port.StrVal, p)
	default:
		return field.ErrorList{field.InternalError(p, fmt.Errorf("unknown type: %v", port.Type))}
	}
}
