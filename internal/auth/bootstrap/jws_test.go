package bootstrap

import (
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestDetachedSignature: the signature is a compact JWS (HS256, kid = token id) with the payload elided, byte
// for byte what a JOSE library produces for the same input, and it verifies with the token secret only.
func TestDetachedSignature(t *testing.T) {
	const content, id, secret = "apiVersion: v1\nkind: Config\n", "abcdef", "0123456789abcdef"
	sig, err := DetachedSignature(content, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" || parts[0] != "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9" {
		t.Fatalf("signature %q", sig)
	}
	// go-jose v4 wants HS256 keys of 32 bytes (bootstrap token secrets have 16): compare with a longer key.
	const long = secret + secret
	sig, _ = DetachedSignature(content, id, long)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(long)},
		&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"kid": id}})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	full, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	fp := strings.Split(full, ".")
	if want := fp[0] + ".." + fp[2]; sig != want {
		t.Fatalf("signature %q, JOSE library %q", sig, want)
	}
	// The library verifies it once the payload is put back.
	parsed, err := jose.ParseSigned(fp[0]+"."+fp[1]+"."+strings.Split(sig, ".")[2], []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := parsed.Verify([]byte(long)); err != nil || string(out) != content {
		t.Fatalf("verify: %v %q", err, out)
	}
	sig, _ = DetachedSignature(content, id, secret)
	if !ValidDetachedSignature(sig, content, id, secret) || ValidDetachedSignature(sig, content+"x", id, secret) ||
		ValidDetachedSignature(sig, content, id, "fedcba9876543210") || ValidDetachedSignature(sig, content, "ghijkl", secret) {
		t.Fatal("verification")
	}
}
