package framework

import (
	"crypto/tls"
	"net/http"
	"time"
)

// insecureTLS is only for polling /readyz before the kubeconfig's CA is read.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec

// InsecureClient is an HTTP client without credentials that skips server verification (for 401 checks).
func InsecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}, Timeout: 10 * time.Second}
}
