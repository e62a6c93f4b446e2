package serviceaccount

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/go-jose/go-jose/v4"
)

// Discovery paths, as upstream serves them.
const (
	OpenIDConfigPath = "/.well-known/openid-configuration"
	JWKSPath         = "/openid/v1/jwks"
)

// openIDMetadata is the subset of OpenID Provider Metadata upstream publishes.
type openIDMetadata struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	ResponseTypes []string `json:"response_types_supported"`
	SubjectTypes  []string `json:"subject_types_supported"`
	SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
}

// DiscoveryHandlers serves the OpenID configuration and the JWKS of keys, so that other parties can verify
// this cluster's tokens without calling the API (for example a cloud's workload identity federation).
func DiscoveryHandlers(issuer, jwksURI string, keys []PublicKey) (config, jwks http.Handler, err error) {
	algs := map[string]bool{}
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		algs[string(k.Alg)] = true
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: string(k.Alg), Use: "sig"})
	}
	var algList []string
	for a := range algs {
		algList = append(algList, a)
	}
	sort.Strings(algList)
	cfgJSON, err := json.Marshal(openIDMetadata{Issuer: issuer, JWKSURI: jwksURI, ResponseTypes: []string{"id_token"},
		SubjectTypes: []string{"public"}, SigningAlgs: algList})
	if err != nil {
		return nil, nil, err
	}
	jwksJSON, err := json.Marshal(set)
	if err != nil {
		return nil, nil, err
	}
	return serveJSON(cfgJSON, "application/json"), serveJSON(jwksJSON, "application/jwk-set+json"), nil
}

func serveJSON(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}
