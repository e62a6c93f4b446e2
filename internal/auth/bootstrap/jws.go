package bootstrap

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Cluster discovery for joining nodes, as upstream: the ConfigMap kube-public/cluster-info holds a kubeconfig
// (the cluster's CA and server, no credentials) and, for every bootstrap token marked for signing, a detached
// JWS of it under jws-kubeconfig-<token id>. A joining node that knows a token reads the ConfigMap (which it
// cannot yet trust) and checks the signature with the token's secret.
const (
	KeyUsageSigning       = "usage-bootstrap-signing"
	ClusterInfoNamespace  = "kube-public"
	ClusterInfoConfigMap  = "cluster-info"
	KubeconfigKey         = "kubeconfig"
	JWSSignatureKeyPrefix = "jws-kubeconfig-"
)

// DetachedSignature is RFC 7515 appendix F's detached JWS of content with the token secret as HS256 key: the
// compact serialization "<header>..<signature>" without its payload; the protected header is
// {"alg":"HS256","kid":"<token id>"}, as upstream's (so both compute identical strings).
func DetachedSignature(content, tokenID, tokenSecret string) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"HS256", tokenID})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	h := enc.EncodeToString(header)
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(h + "." + enc.EncodeToString([]byte(content))))
	return h + ".." + enc.EncodeToString(mac.Sum(nil)), nil
}

// ValidDetachedSignature checks a detached signature of content for a token.
func ValidDetachedSignature(sig, content, tokenID, tokenSecret string) bool {
	if strings.Count(sig, ".") != 2 {
		return false
	}
	want, err := DetachedSignature(content, tokenID, tokenSecret)
	return err == nil && subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1
}
