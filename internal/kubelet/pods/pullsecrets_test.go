package pods

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAuthsFor(t *testing.T) {
	configs := []map[string]dockerEntry{
		{
			"https://index.docker.io/v1/": {Auth: base64.StdEncoding.EncodeToString([]byte("hub:hubpw"))},
			"registry.example.com:5000":   {Username: "plain", Password: "p"},
			"*.corp.example":              {Username: "wild", Password: "w"},
			"eu.corp.example/team":        {Username: "team", Password: "t"},
		},
	}
	users := func(image string) []string {
		var out []string
		for _, a := range authsFor(image, configs) {
			out = append(out, a.Username+":"+a.Password)
		}
		return out
	}
	cases := map[string][]string{
		"busybox":                             {"hub:hubpw"},
		"docker.io/library/busybox:1.36":      {"hub:hubpw"},
		"registry.example.com:5000/app:1":     {"plain:p"},
		"registry.example.com/app:1":          nil, // port differs
		"eu.corp.example/team/app":            {"team:t", "wild:w"},
		"eu.corp.example/other/app":           {"wild:w"},
		"a.b.corp.example/app":                nil, // * is one label
		"quay.io/x/y":                         nil,
		"eu.corp.example/teamwork/app":        {"wild:w"}, // path prefix is by segment
		"registry.example.com:5000/app" + sha: {"plain:p"},
	}
	for image, want := range cases {
		got := users(image)
		if len(got) != len(want) {
			t.Errorf("%s: got %v, want %v", image, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: got %v, want %v", image, got, want)
			}
		}
	}
}

const sha = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseDockerConfig(t *testing.T) {
	json := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{
		corev1.DockerConfigJsonKey: []byte(`{"auths":{"r.example":{"username":"u","password":"p"}}}`)}}
	cfg, err := parseDockerConfig(json)
	if err != nil || cfg["r.example"].Username != "u" {
		t.Fatalf("dockerconfigjson: %v %v", cfg, err)
	}
	old := &corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{
		corev1.DockerConfigKey: []byte(`{"r.example":{"auth":"dTpw"}}`)}}
	if cfg, err = parseDockerConfig(old); err != nil || cfg["r.example"].Auth != "dTpw" {
		t.Fatalf("dockercfg: %v %v", cfg, err)
	}
	if _, err := parseDockerConfig(&corev1.Secret{Type: corev1.SecretTypeOpaque}); err == nil {
		t.Fatal("an Opaque secret was accepted as a pull secret")
	}
	bad := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte("{")}}
	if _, err := parseDockerConfig(bad); err == nil {
		t.Fatal("malformed JSON accepted")
	}
}
