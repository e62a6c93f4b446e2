package certificates

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
)

// Approver auto-approves node client certificate requests (upstream's csrapproving): a
// kubernetes.io/kube-apiserver-client-kubelet request shaped as a node client certificate is approved when
// its requester may create certificatesigningrequests/selfnodeclient (a node renewing its own certificate) or
// certificatesigningrequests/nodeclient (e.g. a bootstrap token). kubernetes.io/kubelet-serving requests are
// approved by skiff's own rule (servingapproval.go). Nothing else is approved or denied.
type Approver struct {
	Client kubernetes.Interface
	// Allowed answers whether the request's requester may do attrs; nil asks the API (SubjectAccessReview).
	Allowed func(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, attrs authorizationv1.ResourceAttributes) (bool, error)
	// Node returns a Node by name; nil reads it from the API.
	Node func(ctx context.Context, name string) (*corev1.Node, error)
	// ApproveKubeletServing turns on skiff's kubelet-serving rule (servingapproval.go). Off by default, as
	// upstream never auto-approves serving certificates: the rule trusts the addresses a node reports itself.
	ApproveKubeletServing bool
}

// StartApprover runs the approving controller until ctx ends.
func StartApprover(ctx context.Context, inf certinformers.CertificateSigningRequestInformer, a *Approver) error {
	if a.Allowed == nil {
		a.Allowed = a.subjectAccessReview
	}
	return startQueue(ctx, "csrapproving", inf, a.handle)
}

type recognizer struct {
	recognize  func(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool
	permission authorizationv1.ResourceAttributes
	message    string
}

var recognizers = []recognizer{
	{recognize: isSelfNodeClient,
		permission: authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Verb: "create", Subresource: "selfnodeclient"},
		message:    "Auto approving self kubelet client certificate after SubjectAccessReview."},
	{recognize: isNodeClient,
		permission: authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Verb: "create", Subresource: "nodeclient"},
		message:    "Auto approving kubelet client certificate after SubjectAccessReview."},
}

func isNodeClient(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && IsKubeletClient(req, csr.Spec.Usages)
}

func isSelfNodeClient(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return isNodeClient(csr, req) && csr.Spec.Username == req.Subject.CommonName
}

// decide returns the approval message for csr, "" when it is not approved; tried lists the permissions
// checked that were not granted.
func (a *Approver) decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (message string, tried []string, err error) {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return "", nil, fmt.Errorf("unable to parse csr %q: %w", csr.Name, err)
	}
	if csr.Spec.SignerName == certificatesv1.KubeletServingSignerName {
		if !a.ApproveKubeletServing {
			return "", nil, nil // for an administrator: kubectl certificate approve
		}
		msg, err := a.decideServing(ctx, csr, req)
		if err != nil && !errors.Is(err, errNodeNotRegistered) {
			// Refused by the rule: left pending for an administrator, not retried.
			slog.Info("kubelet serving certificate request left for an administrator", "err", err)
			return "", nil, nil
		}
		return msg, nil, err
	}
	for _, r := range recognizers {
		if !r.recognize(csr, req) {
			continue
		}
		tried = append(tried, r.permission.Subresource)
		ok, err := a.Allowed(ctx, csr, r.permission)
		if err != nil {
			return "", tried, err
		}
		if ok {
			return r.message, tried, nil
		}
	}
	return "", tried, nil
}

func (a *Approver) handle(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	if len(csr.Status.Certificate) > 0 {
		return nil
	}
	if approved, denied := approvalState(csr); approved || denied {
		return nil
	}
	msg, tried, err := a.decide(ctx, csr)
	if err != nil {
		return err
	}
	if msg == "" {
		if len(tried) > 0 {
			// Retried with backoff: the requester may be granted the permission later.
			return fmt.Errorf("recognized csr %q as %v but subject access review was not approved", csr.Name, tried)
		}
		return nil
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved", Message: msg,
		LastUpdateTime: metav1.Now()})
	if _, err := a.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("error updating approval for csr: %w", err)
	}
	return nil
}

func (a *Approver) subjectAccessReview(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, attrs authorizationv1.ResourceAttributes) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra, ResourceAttributes: &attrs}}
	out, err := a.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}
