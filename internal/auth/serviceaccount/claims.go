package serviceaccount

import (
	"strings"

	"github.com/go-jose/go-jose/v4/jwt"
)

// privateClaims are the "kubernetes.io" claims of a bound token, as upstream writes them.
type privateClaims struct {
	Kubernetes kubernetesClaims `json:"kubernetes.io"`
}

type kubernetesClaims struct {
	Namespace      string           `json:"namespace,omitempty"`
	ServiceAccount *ref             `json:"serviceaccount,omitempty"`
	Pod            *ref             `json:"pod,omitempty"`
	Secret         *ref             `json:"secret,omitempty"`
	Node           *ref             `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Binding is the object a token is bound to besides its ServiceAccount: it dies with that object.
type Binding struct {
	// Kind is Pod, Secret or Node ("" for an unbound token).
	Kind string
	Name string
	UID  string
	// NodeName and NodeUID describe the node of a bound pod (informational, as upstream's pod node info).
	NodeName string
	NodeUID  string
}

// Prefix of service account user names.
const userPrefix = "system:serviceaccount:"

// UserName is the user a ServiceAccount authenticates as: system:serviceaccount:<ns>:<name>.
func UserName(namespace, name string) string { return userPrefix + namespace + ":" + name }

// SplitUserName reverses UserName.
func SplitUserName(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, userPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != "" && !strings.Contains(name, ":")
}

// Groups a ServiceAccount belongs to: system:serviceaccounts and system:serviceaccounts:<ns>.
func Groups(namespace string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}
}
