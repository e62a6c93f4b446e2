package framework

import (
	"errors"
	"strings"
)

// Code is a plugin's verdict.
type Code int

// Codes, as upstream's.
const (
	// Success: the node passes (or the plugin has nothing to say).
	Success Code = iota
	// Error: something broke; the pod is retried with backoff.
	Error
	// Unschedulable: the node does not fit now, but preemption might help.
	Unschedulable
	// UnschedulableAndUnresolvable: the node does not fit and preempting pods on it would not help.
	UnschedulableAndUnresolvable
	// Skip: a PreFilter/PreScore plugin has nothing to do for this pod; its Filter/Score are skipped.
	Skip
	// Pending: waiting for something outside the scheduler.
	Pending
)

var codeNames = []string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Skip", "Pending"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Unknown"
}

// Status is a plugin's answer. A nil *Status means Success.
type Status struct {
	code    Code
	reasons []string
	err     error
	plugin  string
}

// NewStatus makes a status with human-readable reasons (they end up in FailedScheduling events).
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps an error as an Error status.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code returns the code; nil is Success.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports a nil or Success status.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip reports Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// IsRejected reports a node that does not fit (Unschedulable or UnschedulableAndUnresolvable).
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons returns the reasons.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	if s.err != nil && len(s.reasons) == 0 {
		return []string{s.err.Error()}
	}
	return s.reasons
}

// Message joins the reasons.
func (s *Status) Message() string { return strings.Join(s.Reasons(), ", ") }

// AsError returns the status as an error (nil for Success and Skip).
func (s *Status) AsError() error {
	if s.IsSuccess() || s.IsSkip() {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}

// WithPlugin records which plugin answered.
func (s *Status) WithPlugin(name string) *Status {
	if s != nil {
		s.plugin = name
	}
	return s
}

// Plugin returns the plugin that answered.
func (s *Status) Plugin() string {
	if s == nil {
		return ""
	}
	return s.plugin
}
