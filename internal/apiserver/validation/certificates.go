package validation

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var validKeyUsages = sets.New(
	certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
	certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
	certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly,
	certificatesv1.UsageDecipherOnly, certificatesv1.UsageAny, certificatesv1.UsageServerAuth,
	certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageEmailProtection,
	certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
	certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC, certificatesv1.UsageNetscapeSGC,
)

// legacyUnknownSigner was only accepted by v1beta1.
const legacyUnknownSigner = "kubernetes.io/legacy-unknown"

func validateCSR(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if err := checkCSRRequest(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(p.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(p.Child("usages"), ""))
	}
	seen := sets.New[certificatesv1.KeyUsage]()
	for i, u := range csr.Spec.Usages {
		up := p.Child("usages").Index(i)
		if !validKeyUsages.Has(u) {
			errs = append(errs, field.NotSupported(up, u, sets.List(validKeyUsages)))
		}
		if seen.Has(u) {
			errs = append(errs, field.Duplicate(up, u))
		}
		seen.Insert(u)
	}
	sp := p.Child("signerName")
	if csr.Spec.SignerName == legacyUnknownSigner {
		errs = append(errs, field.Invalid(sp, csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		errs = append(errs, validateSignerName(sp, csr.Spec.SignerName)...)
	}
	// Shorter certificates would be expired before clients could use them.
	if e := csr.Spec.ExpirationSeconds; e != nil && *e < 600 {
		errs = append(errs, field.Invalid(p.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return errs
}

// checkCSRRequest parses the PEM request and checks its self-signature,
// which proves the requester holds the private key.
func checkCSRRequest(pemBytes []byte) error {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	return req.CheckSignature()
}

// validateSignerName: signers are named "<domain>/<path>", like
// kubernetes.io/kube-apiserver-client.
func validateSignerName(p *field.Path, signer string) field.ErrorList {
	if signer == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	segments := strings.Split(signer, "/")
	if len(segments) != 2 {
		errs = append(errs, field.Invalid(p, signer, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
		if len(segments) == 1 {
			return errs
		}
	}
	domain := segments[0]
	if domain == "" {
		errs = append(errs, field.Required(p, "domain component of signerName is required"))
	} else {
		errs = append(errs, validation.IsFullyQualifiedDomainName(p, domain)...)
	}
	if strings.Join(segments[1:], "/") == "" {
		errs = append(errs, field.Required(p, "path component of signerName is required"))
	}
	return errs
}

func validateCSRUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	// The request and who asked for it are what the signer signs; they are
	// fixed at creation. Status is changed via subresources.
	p := field.NewPath("spec")
	errs := immutable(csr.Spec.Request, old.Spec.Request, p.Child("request"))
	errs = append(errs, immutable(csr.Spec.Usages, old.Spec.Usages, p.Child("usages"))...)
	errs = append(errs, immutable(csr.Spec.SignerName, old.Spec.SignerName, p.Child("signerName"))...)
	return append(errs, validateCSRStatusUpdate(csr, old)...)
}

// terminalConditions may only be True, appear once, and never be removed.
var terminalConditions = sets.New(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed)

// validateCSRStatusUpdate: conditions are well formed, Approved and Denied exclude each other, terminal
// conditions stay, and an issued certificate is PEM and never changes.
func validateCSRStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status", "conditions")
	var errs field.ErrorList
	seen := sets.New[certificatesv1.RequestConditionType]()
	for i, c := range csr.Status.Conditions {
		cp := p.Index(i)
		if c.Type == "" {
			errs = append(errs, field.Required(cp.Child("type"), ""))
		}
		if terminalConditions.Has(c.Type) {
			if c.Status != "True" {
				errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{"True"}))
			}
			if seen.Has(c.Type) {
				errs = append(errs, field.Duplicate(cp.Child("type"), c.Type))
			}
		} else if c.Status != "True" && c.Status != "False" && c.Status != "Unknown" {
			errs = append(errs, field.NotSupported(cp.Child("status"), c.Status, []string{"False", "True", "Unknown"}))
		}
		seen.Insert(c.Type)
	}
	if seen.Has(certificatesv1.CertificateApproved) && seen.Has(certificatesv1.CertificateDenied) {
		errs = append(errs, field.Invalid(p, certificatesv1.CertificateDenied, "Approved and Denied conditions are mutually exclusive"))
	}
	for _, c := range old.Status.Conditions {
		if terminalConditions.Has(c.Type) && !seen.Has(c.Type) {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not remove a condition of type %q", c.Type)))
		}
	}
	cp := field.NewPath("status", "certificate")
	if len(csr.Status.Certificate) > 0 {
		if err := checkCertificatePEM(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(cp, "<certificate data>", err.Error()))
		}
	}
	if len(old.Status.Certificate) > 0 && !bytes.Equal(old.Status.Certificate, csr.Status.Certificate) {
		errs = append(errs, field.Forbidden(cp, "updates may not modify existing certificate content"))
	}
	return errs
}

// checkCertificatePEM: one or more CERTIFICATE blocks without headers, each an X.509 certificate; text
// around the blocks is allowed.
func checkCertificatePEM(data []byte) error {
	n := 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) > 0 {
			return errors.New("no PEM block headers are permitted")
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}
