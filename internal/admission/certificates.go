package admission

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"skiff/internal/auth"
)

// The CertificateSigningRequest plugins, as upstream's CertificateApproval, CertificateSigning and
// CertificateSubjectRestriction. Approving or denying (the /approval subresource) needs the verb approve, and
// issuing or failing a request (status.certificate or the conditions through /status) the verb sign, on the
// resource signers of certificates.k8s.io named by the request's signerName, or by its domain with "/*"
// (e.g. kubernetes.io/*). Requests to the kube-apiserver-client signer may not ask for the system:masters
// group.

// CertificateApproval checks approve on the request's signer.
type CertificateApproval struct{ Authorizer auth.Authorizer }

// CertificateSigning checks sign on the request's signer.
type CertificateSigning struct{ Authorizer auth.Authorizer }

// CertificateSubjectRestriction refuses kube-apiserver-client requests for O=system:masters.
type CertificateSubjectRestriction struct{}

func isCSR(a *Attributes) bool {
	return a.Resource.Group == certificatesv1.GroupName && a.Resource.Resource == "certificatesigningrequests"
}

// Validate implements Validator.
func (p CertificateApproval) Validate(ctx context.Context, a *Attributes) error {
	if !isCSR(a) || a.Subresource != "approval" || a.Operation != Update {
		return nil
	}
	// The stored request's signer: the write cannot change it.
	old, ok := a.OldObject.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.OldObject))
	}
	if !AuthorizedForSigner(ctx, p.Authorizer, a.User, "approve", old.Spec.SignerName) {
		return forbiddenBy(a, fmt.Errorf("user not permitted to approve requests with signerName %q", old.Spec.SignerName))
	}
	return nil
}

// Validate implements Validator.
func (p CertificateSigning) Validate(ctx context.Context, a *Attributes) error {
	if !isCSR(a) || a.Subresource != "status" || a.Operation != Update {
		return nil
	}
	old, ok := a.OldObject.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.OldObject))
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.Object))
	}
	if bytes.Equal(old.Status.Certificate, csr.Status.Certificate) &&
		apiequality.Semantic.DeepEqual(old.Status.Conditions, csr.Status.Conditions) {
		return nil
	}
	if !AuthorizedForSigner(ctx, p.Authorizer, a.User, "sign", old.Spec.SignerName) {
		return forbiddenBy(a, fmt.Errorf("user not permitted to sign requests with signerName %q", old.Spec.SignerName))
	}
	return nil
}

// Validate implements Validator.
func (CertificateSubjectRestriction) Validate(_ context.Context, a *Attributes) error {
	if !isCSR(a) || a.Subresource != "" || a.Operation != Create {
		return nil
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return forbiddenBy(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.Object))
	}
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	req, err := parseCSR(csr.Spec.Request)
	if err != nil {
		return forbiddenBy(a, fmt.Errorf("failed to parse CSR: %v", err))
	}
	if slices.Contains(req.Subject.Organization, auth.GroupMasters) {
		return forbiddenBy(a, fmt.Errorf("use of %s signer with %s group is not allowed", csr.Spec.SignerName, auth.GroupMasters))
	}
	return nil
}

// AuthorizedForSigner says whether u may verb the signers resource named signerName, or named by its
// domain with "/*".
func AuthorizedForSigner(ctx context.Context, z auth.Authorizer, u *auth.User, verb, signerName string) bool {
	if z == nil || u == nil {
		return false
	}
	names := []string{signerName}
	if domain, _, ok := strings.Cut(signerName, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, name := range names {
		d, _, err := z.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: certificatesv1.GroupName, APIVersion: "*",
			Resource: "signers", Name: name, ResourceRequest: true})
		if err == nil && d == auth.DecisionAllow {
			return true
		}
	}
	return false
}
