package apiserver

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/auth"
)

// CertificateSigningRequest rules of upstream's registry strategy: the requester's identity is recorded at
// creation (signers and approvers trust spec.username/groups, never the client); the spec never changes after;
// the /approval subresource owns the Approved and Denied conditions, /status the certificate and the other
// conditions; conditions get their timestamps from the server.

// setCSRRequester records who creates the request.
func setCSRRequester(csr *certificatesv1.CertificateSigningRequest, u *auth.User) {
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	if u == nil {
		return
	}
	csr.Spec.Username, csr.Spec.UID = u.Name, u.UID
	csr.Spec.Groups = append([]string(nil), u.Groups...)
	if len(u.Extra) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range u.Extra {
			csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
		}
	}
}

func isApprovalCondition(t certificatesv1.RequestConditionType) bool {
	return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
}

// prepareCSRUpdate keeps what the write may not change: the spec always; through /approval the certificate
// and the non-approval conditions; through /status the approval conditions; through the main resource the
// whole status.
func prepareCSRUpdate(o, prev *certificatesv1.CertificateSigningRequest, sub string, now time.Time) {
	o.Spec = prev.Spec
	switch sub {
	case "":
		o.Status = prev.Status
	case "approval":
		o.Status.Certificate = prev.Status.Certificate
		o.Status.Conditions = mergeConditions(o.Status.Conditions, prev.Status.Conditions, isApprovalCondition)
	case "status":
		o.Status.Conditions = mergeConditions(o.Status.Conditions, prev.Status.Conditions,
			func(t certificatesv1.RequestConditionType) bool { return !isApprovalCondition(t) })
	}
	stampConditions(o.Status.Conditions, prev.Status.Conditions, now)
}

// mergeConditions takes the conditions owned (by type) from the new object and the others from the old one,
// old ones first.
func mergeConditions(newConds, oldConds []certificatesv1.CertificateSigningRequestCondition, owned func(certificatesv1.RequestConditionType) bool) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range oldConds {
		if !owned(c.Type) {
			out = append(out, c)
		}
	}
	for _, c := range newConds {
		if owned(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// stampConditions sets a missing lastUpdateTime to now, and a missing lastTransitionTime to the old
// condition's when its status did not change, else to now.
func stampConditions(conds, old []certificatesv1.CertificateSigningRequestCondition, now time.Time) {
	t := metav1.NewTime(now)
	for i := range conds {
		c := &conds[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = t
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = t
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
}
