// Package oidc authenticates bearer tokens issued by an external OpenID Connect provider, as upstream's
// --oidc-* flags do.
//
//	start:   <issuer>/.well-known/openid-configuration ──jwks_uri──▶ JWKS (retried in the background until
//	         it answers; tokens are refused meanwhile, the server starts anyway)
//	request: Bearer JWT ─ iss is ours? ─no─▶ not mine (next authenticator)
//	                       │yes
//	         signature (allowed algs, key by kid; unknown kid ⇒ JWKS refetched, at most once per interval)
//	         ─▶ iss, aud ∋ client-id, exp, nbf ─▶ required claims ─▶ username, groups, uid (claim + prefix, or
//	         CEL expression over claims), extra (CEL) ─▶ claim validation rules (CEL) ─▶ user validation rules
//	         (CEL over the mapped user); the expressions are compiled by the caller (authnconfig) at start
//
// Glossary: issuer = the provider's URL, also the token's iss claim; JWKS = the provider's public keys; kid =
// the key id in a token's header, naming the JWKS key that signed it.
//
// The package only reads tokens; it never talks to the API server.
package oidc
