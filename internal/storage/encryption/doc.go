// Package encryption encrypts API objects at rest, configured by upstream's EncryptionConfiguration
// (apiserver.config.k8s.io/v1, the file of --encryption-provider-config).
//
//	EncryptionConfiguration ─Load─▶ Config: per resource (group/resource or a wildcard) an ordered provider list
//	Manager.For(group/resource) ─▶ storage.Transformer used by that resource's storage.Store
//	write: the FIRST provider ─▶ "k8s:enc:<provider>:v1:<key>:" + ciphertext (identity: the plain value)
//	read:  the provider and key named by the value's prefix; a value with no prefix is plaintext
//
// Providers: aesgcm (nonce 12 bytes || ciphertext+tag, the etcd key as additional data), aescbc (IV 16 bytes ||
// CBC ciphertext with PKCS#7 padding), secretbox (nonce 24 bytes || NaCl secretbox) and identity; these are
// upstream's formats, so an etcd written by one reads in the other. kms is refused.
//
// A value read with anything but the first provider and key is "stale": rewriting the object (even unchanged)
// re-encrypts it, which is how keys are rotated. The Manager can reload the file when it changes.
//
// This package must not touch etcd or the API: it only turns bytes into bytes.
package encryption
