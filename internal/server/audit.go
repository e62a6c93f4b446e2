package server

import (
	"encoding/json"
	"log/slog"

	"k8s.io/client-go/kubernetes/scheme"

	"skiff/internal/apiserver/audit"
)

// newAuditor opens the audit log when both --audit-policy-file and --audit-log-path are given (as upstream,
// no policy means no audit events). A bad policy stops the server at start.
func newAuditor(cfg Config) (*audit.Auditor, error) {
	if cfg.AuditPolicyFile == "" {
		if cfg.AuditLogPath != "" {
			slog.Warn("--audit-log-path without --audit-policy-file: no audit events are written")
		}
		return nil, nil
	}
	policy, err := audit.LoadPolicy(cfg.AuditPolicyFile)
	if err != nil {
		return nil, err
	}
	if cfg.AuditLogPath == "" {
		slog.Warn("--audit-policy-file without --audit-log-path: no audit events are written")
		return nil, nil
	}
	a, err := audit.New(audit.Config{Policy: policy,
		Log:    audit.LogConfig{Path: cfg.AuditLogPath, MaxSizeMB: cfg.AuditLogMaxSizeMB, MaxBackups: cfg.AuditLogMaxBackups, MaxAgeDays: cfg.AuditLogMaxAgeDays},
		ToJSON: protobufToJSON})
	if err != nil {
		return nil, err
	}
	slog.Info("audit log", "policy", cfg.AuditPolicyFile, "path", cfg.AuditLogPath, "rules", len(policy.Rules))
	return a, nil
}

// protobufToJSON turns a Kubernetes protobuf body (what in-process clients send) into JSON for the log.
func protobufToJSON(body []byte) ([]byte, error) {
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return json.Marshal(obj)
}
