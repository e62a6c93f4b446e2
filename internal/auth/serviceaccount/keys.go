package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"
)

// DefaultKeyFile is the generated signing key's name in the TLS directory.
const DefaultKeyFile = "service-account.key"

// PublicKey is a key that verifies tokens, with its key ID (the "kid" header of tokens it signed).
type PublicKey struct {
	Key   crypto.PublicKey
	KeyID string
	Alg   jose.SignatureAlgorithm
}

// Keys are the signing key and every key tokens are verified with (the signing key's public half first).
type Keys struct {
	Signer  crypto.Signer
	KeyID   string
	Alg     jose.SignatureAlgorithm
	Publics []PublicKey
}

// LoadKeys reads the signing key from signingKeyFile, or from <tlsDir>/service-account.key, generating an
// RSA 2048 key there on first start. keyFiles (upstream's --service-account-key-file) add verification
// keys: PEM public keys, private keys or certificates, so tokens signed by an earlier key stay valid.
func LoadKeys(tlsDir, signingKeyFile string, keyFiles []string) (*Keys, error) {
	path := signingKeyFile
	if path == "" {
		path = filepath.Join(tlsDir, DefaultKeyFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := generateKey(path); err != nil {
				return nil, fmt.Errorf("service account key: %w", err)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("service account signing key: %w", err)
	}
	signer, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("service account signing key %s: %w", path, err)
	}
	pub, err := newPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("service account signing key %s: %w", path, err)
	}
	k := &Keys{Signer: signer, KeyID: pub.KeyID, Alg: pub.Alg, Publics: []PublicKey{pub}}
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("service account key file: %w", err)
		}
		keys, err := parsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("service account key file %s: %w", f, err)
		}
		for _, key := range keys {
			pk, err := newPublicKey(key)
			if err != nil {
				return nil, fmt.Errorf("service account key file %s: %w", f, err)
			}
			if !k.has(pk.KeyID) {
				k.Publics = append(k.Publics, pk)
			}
		}
	}
	return k, nil
}

func (k *Keys) has(kid string) bool {
	for _, p := range k.Publics {
		if p.KeyID == kid {
			return true
		}
	}
	return false
}

func generateKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return s, nil
		}
	}
}

func parsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = c.PublicKey
			}
		case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY":
			var s crypto.Signer
			if s, err = parsePrivateKey(pem.EncodeToMemory(block)); err == nil {
				key = s.Public()
			}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM key found")
	}
	return out, nil
}

// newPublicKey names a key as upstream does: kid = base64url(sha256(PKIX DER)); the algorithm follows the
// key type (RS256 for RSA, ES256/384/512 for the NIST curves).
func newPublicKey(key crypto.PublicKey) (PublicKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *rsa.PublicKey:
		alg = jose.RS256
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			alg = jose.ES256
		case elliptic.P384():
			alg = jose.ES384
		case elliptic.P521():
			alg = jose.ES512
		default:
			return PublicKey{}, fmt.Errorf("unsupported elliptic curve %s", k.Curve.Params().Name)
		}
	default:
		return PublicKey{}, fmt.Errorf("unsupported key type %T", key)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return PublicKey{}, err
	}
	sum := sha256.Sum256(der)
	return PublicKey{Key: key, KeyID: base64.RawURLEncoding.EncodeToString(sum[:]), Alg: alg}, nil
}
