package defaults

import (
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// pullPolicyFor mirrors upstream: Always when the effective tag is "latest"
// (explicit, or implied because neither a tag nor a digest is given),
// IfNotPresent otherwise. A digest counts as pinning the image. An image
// reference that does not parse gets IfNotPresent; validation reports the
// real problem (for example a missing image).
func pullPolicyFor(image string) corev1.PullPolicy {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return corev1.PullIfNotPresent
	}
	tag := ""
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if _, digested := named.(reference.Digested); tag == "" && !digested {
		tag = "latest"
	}
	if tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}
