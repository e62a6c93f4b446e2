package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"

	"skiff/internal/storage"
)

// provider is one configured provider and key: it writes values starting with prefix and reads those values.
type provider struct {
	name   string // "aesgcm:key1", for logs
	prefix []byte // "k8s:enc:aesgcm:v1:key1:"; nil for identity
	seal   func(plain []byte, dataCtx string) ([]byte, error)
	open   func(ct []byte, dataCtx string) ([]byte, error)
}

// transformer is a resource's provider list: the first writes, all read.
type transformer struct {
	providers []provider
}

var _ storage.Transformer = (*transformer)(nil)

func newTransformer(pcs []ProviderConfiguration, path string) (*transformer, error) {
	if len(pcs) == 0 {
		return nil, fmt.Errorf("%s: Required value: at least one provider is needed", path)
	}
	t := &transformer{}
	for i, pc := range pcs {
		pp := fmt.Sprintf("%s[%d]", path, i)
		n := 0
		for _, set := range []bool{pc.AESGCM != nil, pc.AESCBC != nil, pc.Secretbox != nil, pc.Identity != nil, pc.KMS != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("%s: Invalid value: exactly one provider must be configured per entry, found %d", pp, n)
		}
		switch {
		case pc.KMS != nil:
			return nil, fmt.Errorf("%s.kms: Unsupported value: skiff has no KMS provider; use aesgcm, aescbc or secretbox", pp)
		case pc.Identity != nil:
			t.providers = append(t.providers, provider{name: "identity"})
		case pc.AESGCM != nil:
			keys, secrets, err := decodeKeys(pc.AESGCM, "aesgcm", pp, 16, 24, 32)
			if err != nil {
				return nil, err
			}
			for i, k := range keys {
				p, err := gcmProvider(k.Name, secrets[i])
				if err != nil {
					return nil, err
				}
				t.providers = append(t.providers, p)
			}
		case pc.AESCBC != nil:
			keys, secrets, err := decodeKeys(pc.AESCBC, "aescbc", pp, 32)
			if err != nil {
				return nil, err
			}
			for i, k := range keys {
				p, err := cbcProvider(k.Name, secrets[i])
				if err != nil {
					return nil, err
				}
				t.providers = append(t.providers, p)
			}
		case pc.Secretbox != nil:
			keys, secrets, err := decodeKeys(pc.Secretbox, "secretbox", pp, 32)
			if err != nil {
				return nil, err
			}
			for i, k := range keys {
				t.providers = append(t.providers, secretboxProvider(k.Name, secrets[i]))
			}
		}
	}
	return t, nil
}

// ToStorage implements storage.Transformer: the first provider writes.
func (t *transformer) ToStorage(plain []byte, dataCtx string) ([]byte, error) {
	p := t.providers[0]
	if p.prefix == nil {
		return plain, nil
	}
	ct, err := p.seal(plain, dataCtx)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(p.prefix)+len(ct))
	return append(append(out, p.prefix...), ct...), nil
}

// FromStorage implements storage.Transformer: the provider whose prefix the value carries reads it.
func (t *transformer) FromStorage(stored []byte, dataCtx string) ([]byte, bool, error) {
	if !bytes.HasPrefix(stored, storage.EncryptedPrefix) {
		// Written before encryption was configured, or by identity: plaintext. It is stale unless identity
		// writes.
		return stored, t.providers[0].prefix != nil, nil
	}
	for i, p := range t.providers {
		if p.prefix == nil || !bytes.HasPrefix(stored, p.prefix) {
			continue
		}
		plain, err := p.open(stored[len(p.prefix):], dataCtx)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", p.name, err)
		}
		return plain, i != 0, nil
	}
	return nil, false, fmt.Errorf("no configured provider and key reads a value stored as %q", describePrefix(stored))
}

// MayBeStale tells storage.Store whether an unchanged object may still need rewriting.
func (t *transformer) MayBeStale() bool { return len(t.providers) > 1 || t.providers[0].prefix != nil }

// describePrefix returns "k8s:enc:<provider>:v1:<key>" of an encrypted value, for errors.
func describePrefix(v []byte) string {
	n := 0
	for i, b := range v {
		if b == ':' {
			if n++; n == 5 {
				return string(v[:i])
			}
		}
		if i > 256 {
			break
		}
	}
	return "k8s:enc:?"
}

func prefixOf(kind, key string) []byte { return []byte("k8s:enc:" + kind + ":v1:" + key + ":") }

// gcmProvider: a random 12-byte nonce, then the GCM ciphertext; the etcd key is authenticated data.
func gcmProvider(name string, key []byte) (provider, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return provider{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return provider{}, err
	}
	ns := aead.NonceSize()
	return provider{name: "aesgcm:" + name, prefix: prefixOf("aesgcm", name),
		seal: func(plain []byte, dataCtx string) ([]byte, error) {
			out := make([]byte, ns, ns+len(plain)+aead.Overhead())
			if _, err := rand.Read(out); err != nil {
				return nil, err
			}
			return aead.Seal(out, out[:ns], plain, []byte(dataCtx)), nil
		},
		open: func(ct []byte, dataCtx string) ([]byte, error) {
			if len(ct) < ns {
				return nil, errors.New("the stored data was shorter than the required size")
			}
			return aead.Open(nil, ct[:ns], ct[ns:], []byte(dataCtx))
		}}, nil
}

// cbcProvider: a random 16-byte IV, then the CBC ciphertext of the PKCS#7-padded plaintext.
func cbcProvider(name string, key []byte) (provider, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return provider{}, err
	}
	bs := block.BlockSize()
	return provider{name: "aescbc:" + name, prefix: prefixOf("aescbc", name),
		seal: func(plain []byte, _ string) ([]byte, error) {
			pad := bs - len(plain)%bs
			out := make([]byte, bs+len(plain)+pad)
			iv := out[:bs]
			if _, err := rand.Read(iv); err != nil {
				return nil, err
			}
			body := out[bs:]
			copy(body, plain)
			for i := len(plain); i < len(body); i++ {
				body[i] = byte(pad)
			}
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
			return out, nil
		},
		open: func(ct []byte, _ string) ([]byte, error) {
			if len(ct) < 2*bs || len(ct)%bs != 0 {
				return nil, errors.New("the stored data is not a multiple of the block size")
			}
			body := make([]byte, len(ct)-bs)
			cipher.NewCBCDecrypter(block, ct[:bs]).CryptBlocks(body, ct[bs:])
			pad := int(body[len(body)-1])
			if pad == 0 || pad > bs || pad > len(body) {
				return nil, errors.New("invalid PKCS7 data (empty or not padded)")
			}
			for _, b := range body[len(body)-pad:] {
				if int(b) != pad {
					return nil, errors.New("invalid padding on input")
				}
			}
			return body[:len(body)-pad], nil
		}}, nil
}

// secretboxProvider: a random 24-byte nonce, then the NaCl secretbox (XSalsa20-Poly1305).
func secretboxProvider(name string, secret []byte) provider {
	var key [32]byte
	copy(key[:], secret)
	return provider{name: "secretbox:" + name, prefix: prefixOf("secretbox", name),
		seal: func(plain []byte, _ string) ([]byte, error) {
			var nonce [24]byte
			if _, err := rand.Read(nonce[:]); err != nil {
				return nil, err
			}
			return secretbox.Seal(nonce[:], plain, &nonce, &key), nil
		},
		open: func(ct []byte, _ string) ([]byte, error) {
			if len(ct) < 24 {
				return nil, errors.New("the stored data was shorter than the required size")
			}
			var nonce [24]byte
			copy(nonce[:], ct[:24])
			plain, ok := secretbox.Open(nil, ct[24:], &nonce, &key)
			if !ok {
				return nil, errors.New("decryption failed: wrong key or corrupted value")
			}
			return plain, nil
		}}
}
