package certificates

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// How long finished and pending requests are kept, and how often the cleaner looks (upstream's).
const (
	cleanerInterval    = time.Hour
	approvedExpiration = time.Hour
	deniedExpiration   = time.Hour
	failedExpiration   = time.Hour
	pendingExpiration  = 24 * time.Hour
)

// StartCleaner runs the cleaner (upstream's csrcleaner) until ctx ends: at start and then hourly it deletes
// the requests issued, denied or failed more than an hour ago, pending for more than a day, or whose issued
// certificate has expired.
func StartCleaner(ctx context.Context, client kubernetes.Interface, inf certinformers.CertificateSigningRequestInformer) error {
	lister := inf.Lister()
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
			return
		}
		for {
			csrs, err := lister.List(labels.Everything())
			if err != nil {
				slog.Warn("csrcleaner: list", "err", err)
			}
			for _, csr := range csrs {
				if why := cleanReason(csr, time.Now()); why != "" {
					slog.Info("csrcleaner: deleting CertificateSigningRequest", "csr", csr.Name, "reason", why)
					err := client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name,
						metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &csr.UID}})
					if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
						slog.Warn("csrcleaner: delete", "csr", csr.Name, "err", err)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(cleanerInterval):
			}
		}
	}()
	return nil
}

// cleanReason says why csr is to be deleted at now, or "" to keep it.
func cleanReason(csr *certificatesv1.CertificateSigningRequest, now time.Time) string {
	older := func(t metav1.Time, d time.Duration) bool { return !t.IsZero() && now.Sub(t.Time) > d }
	issued := len(csr.Status.Certificate) > 0
	for _, c := range csr.Status.Conditions {
		switch {
		case c.Type == certificatesv1.CertificateApproved && issued && older(c.LastUpdateTime, approvedExpiration):
			return "issued more than 1h ago"
		case c.Type == certificatesv1.CertificateDenied && older(c.LastUpdateTime, deniedExpiration):
			return "denied more than 1h ago"
		case c.Type == certificatesv1.CertificateFailed && older(c.LastUpdateTime, failedExpiration):
			return "failed more than 1h ago"
		}
	}
	if len(csr.Status.Conditions) == 0 && older(csr.CreationTimestamp, pendingExpiration) {
		return "pending for more than 24h"
	}
	if issued && hasCondition(csr, certificatesv1.CertificateApproved) {
		if end, err := notAfter(csr.Status.Certificate); err == nil && now.After(end) {
			return "certificate expired"
		}
	}
	return ""
}

func hasCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			return true
		}
	}
	return false
}

func notAfter(certPEM []byte) (time.Time, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return time.Time{}, errors.New("expected the certificate associated with the CSR to be PEM encoded")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, err
	}
	return cert.NotAfter, nil
}
