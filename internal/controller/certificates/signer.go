package certificates

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/pki"
)

const (
	// DefaultSigningDuration is --cluster-signing-duration's default, as upstream's.
	DefaultSigningDuration = 365 * 24 * time.Hour
	// minDuration is the shortest certificate issued (twice the backdating).
	minDuration = 10 * time.Minute
	backdate    = 5 * time.Minute
	// shortLived certificates are not backdated at their end (5 minutes is about 1% of 8 hours).
	shortLived = 8 * time.Hour
)

// Signer signs approved requests for the kubernetes.io signers it serves with a CA.
type Signer struct {
	Client kubernetes.Interface
	// CA returns the current signing CA (it may be reloaded from files).
	CA func() (*pki.CA, error)
	// Duration is the longest certificate issued (--cluster-signing-duration).
	Duration time.Duration
	Now      func() time.Time
}

// StartSigner runs the signing controller (upstream's csrsigning) until ctx ends.
func StartSigner(ctx context.Context, inf certinformers.CertificateSigningRequestInformer, s *Signer) error {
	if s.Duration <= 0 {
		s.Duration = DefaultSigningDuration
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return startQueue(ctx, "csrsigning", inf, s.handle)
}

func (s *Signer) handle(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	approved, denied := approvalState(csr)
	if !approved || denied || hasTrueCondition(csr, certificatesv1.CertificateFailed) || len(csr.Status.Certificate) > 0 {
		return nil
	}
	if !Serves(csr.Spec.SignerName) {
		return nil
	}
	req, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return fmt.Errorf("unable to parse csr %q: %w", csr.Name, err)
	}
	if err := CheckSignerRestrictions(csr.Spec.SignerName, req, csr.Spec.Usages); err != nil {
		now := metav1.NewTime(s.Now())
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
			Message: err.Error(), LastUpdateTime: now})
		if _, err := s.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("error adding failure condition for csr: %w", err)
		}
		return nil
	}
	ca, err := s.CA()
	if err != nil {
		return err
	}
	cert, err := s.Sign(ca, req, csr.Spec.Usages, csr.Spec.ExpirationSeconds)
	if err != nil {
		return fmt.Errorf("error auto signing csr: %w", err)
	}
	csr.Status.Certificate = cert
	if _, err := s.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("error updating signature for csr: %w", err)
	}
	return nil
}

// Serves says whether the signing controller signs for signerName.
func Serves(signerName string) bool {
	switch signerName {
	case certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName:
		return true
	}
	return false
}

func parseRequest(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// The restrictions of the kubernetes.io signers, with upstream's messages.
var (
	errOrganizationNotSystemNodes = errors.New("subject organization is not system:nodes")
	errCommonNameNotSystemNode    = errors.New("subject common name does not begin with system:node:")
	errDNSOrIPSANRequired         = errors.New("DNS or IP subjectAltName is required")
	errDNSSANNotAllowed           = errors.New("DNS subjectAltNames are not allowed")
	errEmailSANNotAllowed         = errors.New("Email subjectAltNames are not allowed") //nolint:staticcheck // upstream's text
	errIPSANNotAllowed            = errors.New("IP subjectAltNames are not allowed")
	errURISANNotAllowed           = errors.New("URI subjectAltNames are not allowed")
)

var (
	kubeletServingUsages      = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth)
	kubeletServingUsagesNoRSA = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth)
	kubeletClientUsages       = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth)
	kubeletClientUsagesNoRSA  = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
)

// CheckSignerRestrictions returns why signerName may not sign req for usages, or nil.
func CheckSignerRestrictions(signerName string, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	switch signerName {
	case certificatesv1.KubeletServingSignerName:
		return checkKubeletServing(req, usages)
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return checkKubeletClient(req, usages)
	case certificatesv1.KubeAPIServerClientSignerName:
		return checkAPIServerClientUsages(usages)
	}
	return fmt.Errorf("unrecognized signerName: %q", signerName)
}

func checkKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return errOrganizationNotSystemNodes
	}
	if len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		return errDNSOrIPSANRequired
	}
	if len(req.EmailAddresses) > 0 {
		return errEmailSANNotAllowed
	}
	if len(req.URIs) > 0 {
		return errURISANNotAllowed
	}
	u := sets.New(usages...)
	if !u.Equal(kubeletServingUsages) && !u.Equal(kubeletServingUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sortedUsages(kubeletServingUsages))
	}
	if !strings.HasPrefix(req.Subject.CommonName, "system:node:") {
		return errCommonNameNotSystemNode
	}
	return nil
}

// IsKubeletClient says whether req and usages make a node client certificate request.
func IsKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) bool {
	return checkKubeletClient(req, usages) == nil
}

func checkKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return errOrganizationNotSystemNodes
	}
	switch {
	case len(req.DNSNames) > 0:
		return errDNSSANNotAllowed
	case len(req.EmailAddresses) > 0:
		return errEmailSANNotAllowed
	case len(req.IPAddresses) > 0:
		return errIPSANNotAllowed
	case len(req.URIs) > 0:
		return errURISANNotAllowed
	}
	if !strings.HasPrefix(req.Subject.CommonName, "system:node:") {
		return errCommonNameNotSystemNode
	}
	u := sets.New(usages...)
	if !u.Equal(kubeletClientUsages) && !u.Equal(kubeletClientUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sortedUsages(kubeletClientUsages))
	}
	return nil
}

func checkAPIServerClientUsages(usages []certificatesv1.KeyUsage) error {
	client := false
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			client = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !client {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

func sortedUsages(s sets.Set[certificatesv1.KeyUsage]) []string {
	out := make([]string, 0, s.Len())
	for u := range s {
		out = append(out, string(u))
	}
	slices.Sort(out)
	return out
}

var keyUsages = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning: x509.KeyUsageDigitalSignature, certificatesv1.UsageDigitalSignature: x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment, certificatesv1.UsageKeyEncipherment: x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement: x509.KeyUsageKeyAgreement, certificatesv1.UsageDataEncipherment: x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign: x509.KeyUsageCertSign, certificatesv1.UsageCRLSign: x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly: x509.KeyUsageEncipherOnly, certificatesv1.UsageDecipherOnly: x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny: x509.ExtKeyUsageAny, certificatesv1.UsageServerAuth: x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth: x509.ExtKeyUsageClientAuth, certificatesv1.UsageCodeSigning: x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection, certificatesv1.UsageSMIME: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem: x509.ExtKeyUsageIPSECEndSystem, certificatesv1.UsageIPsecTunnel: x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser: x509.ExtKeyUsageIPSECUser, certificatesv1.UsageTimestamping: x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning: x509.ExtKeyUsageOCSPSigning, certificatesv1.UsageMicrosoftSGC: x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC: x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// duration is how long a certificate lasts: the requested expirationSeconds within [10m, Duration].
func (s *Signer) duration(expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return s.Duration
	}
	d := time.Duration(*expirationSeconds) * time.Second
	return min(max(d, minDuration), s.Duration)
}

// Sign issues a certificate for req: its subject and SANs, the requested usages, no other extensions, not a
// CA; valid from 5 minutes ago for duration (less the backdating for long-lived ones), and never past the CA.
func (s *Signer) Sign(ca *pki.CA, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, expirationSeconds *int32) ([]byte, error) {
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("unable to verify certificate request signature: %w", err)
	}
	now := s.Now()
	caEnd := ca.Cert.NotAfter
	if !now.Before(caEnd) {
		return nil, fmt.Errorf("refusing to sign a certificate that expired in the past: NotAfter=%v", caEnd)
	}
	ttl := s.duration(expirationSeconds)
	tmpl := &x509.Certificate{
		Subject: req.Subject, DNSNames: req.DNSNames, IPAddresses: req.IPAddresses, EmailAddresses: req.EmailAddresses,
		URIs: req.URIs, BasicConstraintsValid: true, NotBefore: now.Add(-backdate),
	}
	var unknown []string
	ext := sets.New[x509.ExtKeyUsage]()
	for _, u := range usages {
		if k, ok := keyUsages[u]; ok {
			tmpl.KeyUsage |= k
		} else if e, ok := extKeyUsages[u]; ok {
			ext.Insert(e)
		} else {
			unknown = append(unknown, string(u))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unrecognized usage values: %q", unknown)
	}
	tmpl.ExtKeyUsage = sets.List(ext)
	if ttl < shortLived {
		tmpl.NotAfter = now.Add(ttl)
	} else {
		tmpl.NotAfter = now.Add(ttl - backdate)
	}
	if tmpl.NotAfter.After(caEnd) {
		tmpl.NotAfter = caEnd
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("failed to sign certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// FileCA returns a CA source reading certFile and keyFile, read again whenever either file changes (as
// upstream reloads --cluster-signing-cert-file/--cluster-signing-key-file).
func FileCA(certFile, keyFile string) func() (*pki.CA, error) {
	var mu sync.Mutex
	var ca *pki.CA
	var stamp string
	return func() (*pki.CA, error) {
		mu.Lock()
		defer mu.Unlock()
		var st []string
		for _, f := range []string{certFile, keyFile} {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, err
			}
			st = append(st, fmt.Sprint(fi.ModTime().UnixNano(), fi.Size()))
		}
		if s := strings.Join(st, "/"); s != stamp || ca == nil {
			next, err := pki.LoadCA(certFile, keyFile)
			if err != nil {
				return nil, err
			}
			ca, stamp = next, s
		}
		return ca, nil
	}
}
