// Package serviceaccount issues and checks ServiceAccount tokens: JWTs signed with the cluster's service
// account key (RS256 or ES256), as upstream's bound tokens.
//
//	TokenRequest (apiserver, serviceaccounts/<n>/token) ─▶ Issuer.Issue ─▶ signed JWT
//	Bearer JWT ─▶ Authenticator: signature (our keys), iss, aud ∩ API audiences, exp/nbf
//	           ─▶ ServiceAccount and bound Pod/Secret/Node still exist with the same UID (Getter)
//	           ─▶ user system:serviceaccount:<ns>:<name>
//	/.well-known/openid-configuration, /openid/v1/jwks ─▶ Discovery (public keys as a JWKS)
//
// The package owns the key pair (<data-dir>/tls/service-account.key unless a file is given) and the
// claims' shape. It reads objects only through the Getter it is given and never touches storage.
package serviceaccount
