// Package audit writes the API server's audit log: upstream's audit.k8s.io/v1 Policy decides, per request,
// a level (None, Metadata, Request, RequestResponse) and the stages to leave out; events are audit.k8s.io/v1
// Event JSON lines in a file (rotated) or on stdout.
//
//	recovery ─▶ Filter (Audit-ID header, wraps the body and the ResponseWriter)
//	            ─▶ authentication ── SetUser: evaluate the policy, emit RequestReceived
//	            ─▶ [impersonation ── LogImpersonatedUser]
//	            ─▶ authorization ── LogDecision: annotations authorization.k8s.io/decision, reason
//	            ─▶ handler ── first write of a long-running request (watch, exec, ...): ResponseStarted
//	Filter returns: ResponseComplete (or Panic); a request that never authenticated (401) is evaluated
//	without a user and logged then.
//
// Glossary: level = how much of a request is logged (Metadata: who, what, result; Request: plus the request
// body; RequestResponse: plus the response body). Stage = when an event is written.
//
// The package knows nothing of routing or storage: the API server hands it each request's attributes.
package audit
