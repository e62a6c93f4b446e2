package admission

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// parseCSR decodes a PEM "CERTIFICATE REQUEST" block, as a CertificateSigningRequest's spec.request holds.
func parseCSR(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
