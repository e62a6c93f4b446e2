package apiserver

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/auth"
)

func TestCSRSubresourceOwnership(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	earlier := metav1.NewTime(now.Add(-time.Hour))
	old := &certificatesv1.CertificateSigningRequest{
		Spec: certificatesv1.CertificateSigningRequestSpec{Username: "alice", SignerName: "example.com/x"},
		Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
			{Type: certificatesv1.CertificateApproved, Status: "True", LastUpdateTime: earlier, LastTransitionTime: earlier}}}}
	cond := func(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: "True"}
	}
	// /status may not touch approval conditions nor the spec, but sets the certificate and Failed.
	upd := old.DeepCopy()
	upd.Spec.Username = "mallory"
	upd.Status.Certificate = []byte("cert")
	upd.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied), cond(certificatesv1.CertificateFailed)}
	prepareCSRUpdate(upd, old, "status", now)
	if upd.Spec.Username != "alice" || string(upd.Status.Certificate) != "cert" || len(upd.Status.Conditions) != 2 ||
		upd.Status.Conditions[0].Type != certificatesv1.CertificateApproved || upd.Status.Conditions[1].Type != certificatesv1.CertificateFailed {
		t.Fatalf("status update: %+v %+v", upd.Spec, upd.Status)
	}
	if !upd.Status.Conditions[1].LastUpdateTime.Time.Equal(now) || !upd.Status.Conditions[0].LastTransitionTime.Equal(&earlier) {
		t.Fatalf("timestamps: %+v", upd.Status.Conditions)
	}
	// /approval may not set the certificate.
	upd = old.DeepCopy()
	upd.Status.Certificate = []byte("cert")
	upd.Status.Conditions = append(upd.Status.Conditions, cond(certificatesv1.CertificateFailed))
	prepareCSRUpdate(upd, old, "approval", now)
	if len(upd.Status.Certificate) != 0 || len(upd.Status.Conditions) != 1 {
		t.Fatalf("approval update: %+v", upd.Status)
	}
	// The requester comes from the request's user, never the body.
	csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Username: "root", Groups: []string{"system:masters"}}}
	setCSRRequester(csr, &auth.User{Name: "bob", UID: "u", Groups: []string{"dev"}, Extra: map[string][]string{"k": {"v"}}})
	if csr.Spec.Username != "bob" || csr.Spec.UID != "u" || len(csr.Spec.Groups) != 1 || csr.Spec.Extra["k"][0] != "v" {
		t.Fatalf("requester %+v", csr.Spec)
	}
}
