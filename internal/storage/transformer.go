package storage

import (
	"bytes"
	"errors"
)

// Transformer turns the bytes of an encoded object into the bytes stored in etcd and back (encryption at rest).
// dataCtx is the object's etcd key: authenticated ciphers bind the ciphertext to it, so a value copied under
// another key does not decrypt.
type Transformer interface {
	// ToStorage returns what to write for plain.
	ToStorage(plain []byte, dataCtx string) ([]byte, error)
	// FromStorage returns the plaintext of a stored value. stale says the value was not written the way
	// ToStorage writes now (another key or provider): an update must rewrite it even when the object is
	// unchanged, which is how keys are rotated.
	FromStorage(stored []byte, dataCtx string) (plain []byte, stale bool, err error)
}

// EncryptedPrefix starts every value an encrypting provider wrote ("k8s:enc:<provider>:v1:<key>:").
var EncryptedPrefix = []byte("k8s:enc:")

// ErrEncryptedNoProvider is returned for an encrypted value of a resource no provider reads.
var ErrEncryptedNoProvider = errors.New("value is encrypted but no encryption provider is configured for this resource")

// Identity stores values as they are. It refuses to hand out an encrypted value as if it were plaintext.
type Identity struct{}

// ToStorage implements Transformer.
func (Identity) ToStorage(plain []byte, _ string) ([]byte, error) { return plain, nil }

// FromStorage implements Transformer.
func (Identity) FromStorage(stored []byte, _ string) ([]byte, bool, error) {
	if bytes.HasPrefix(stored, EncryptedPrefix) {
		return nil, false, ErrEncryptedNoProvider
	}
	return stored, false, nil
}
