package podsecurity

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Violation is one failed check: a short reason and the detail naming the offending fields.
type Violation struct {
	Reason, Detail string
}

func (v Violation) String() string {
	if v.Detail == "" {
		return v.Reason
	}
	return v.Reason + " (" + v.Detail + ")"
}

// check is one control of the standards. since is the release it appeared in; overrides names the baseline checks
// a restricted check replaces (it covers the same fields more strictly) from that release on.
type check struct {
	id        string
	level     Level
	since     [2]int
	overrides []string
	fn        func(v Version, meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation
}

// checks in upstream's order: baseline then restricted, each sorted by id (this order is the order of the
// reasons in messages).
var checks = func() []check {
	cs := []check{
		{id: "appArmorProfile", level: Baseline, fn: appArmorProfile},
		{id: "capabilities_baseline", level: Baseline, fn: capabilitiesBaseline},
		{id: "hostNamespaces", level: Baseline, fn: hostNamespaces},
		{id: "hostPathVolumes", level: Baseline, fn: hostPathVolumes},
		{id: "hostPorts", level: Baseline, fn: hostPorts},
		{id: "hostProbesAndHostLifecycle", level: Baseline, since: [2]int{1, 34}, fn: hostProbesAndLifecycle},
		{id: "privileged", level: Baseline, fn: privileged},
		{id: "procMount", level: Baseline, fn: procMount},
		{id: "seLinuxOptions", level: Baseline, fn: seLinuxOptions},
		{id: "seccompProfile_baseline", level: Baseline, since: [2]int{1, 19}, fn: seccompBaseline},
		{id: "sysctls", level: Baseline, fn: sysctls},
		{id: "windowsHostProcess", level: Baseline, fn: windowsHostProcess},

		{id: "allowPrivilegeEscalation", level: Restricted, since: [2]int{1, 8}, fn: allowPrivilegeEscalation},
		{id: "capabilities_restricted", level: Restricted, since: [2]int{1, 22}, overrides: []string{"capabilities_baseline"}, fn: capabilitiesRestricted},
		{id: "restrictedVolumes", level: Restricted, overrides: []string{"hostPathVolumes"}, fn: restrictedVolumes},
		{id: "runAsNonRoot", level: Restricted, fn: runAsNonRoot},
		{id: "runAsUser", level: Restricted, since: [2]int{1, 23}, fn: runAsUser},
		{id: "seccompProfile_restricted", level: Restricted, since: [2]int{1, 19}, overrides: []string{"seccompProfile_baseline"}, fn: seccompRestricted},
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].level != cs[j].level {
			return cs[i].level.rank() < cs[j].level.rank()
		}
		return cs[i].id < cs[j].id
	})
	return cs
}()

// Evaluate checks a pod's metadata and spec against a level at a version and returns the violations in upstream's
// order (none at privileged).
func Evaluate(lv LevelVersion, meta *metav1.ObjectMeta, spec *corev1.PodSpec) []Violation {
	if lv.Level.rank() == 0 {
		return nil
	}
	v := lv.effective()
	var apply []check
	overridden := map[string]bool{}
	for _, c := range checks {
		if c.level.rank() > lv.Level.rank() || !v.atLeast(c.since[0], c.since[1]) {
			continue
		}
		apply = append(apply, c)
		for _, o := range c.overrides {
			overridden[o] = true
		}
	}
	var out []Violation
	for _, c := range apply {
		if overridden[c.id] {
			continue
		}
		if viol := c.fn(v, meta, spec); viol != nil {
			out = append(out, *viol)
		}
	}
	return out
}

// Message joins violations as upstream does: "privileged (container "c" must not ...), hostPort (...)".
func Message(vs []Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}

// Reasons joins only the reasons: "privileged, hostPort".
func Reasons(vs []Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Reason
	}
	return strings.Join(parts, ", ")
}

// visit calls f for every container: init containers, containers, then ephemeral containers, as upstream.
func visit(spec *corev1.PodSpec, f func(c *corev1.Container)) {
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		f(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		f(&c)
	}
}

func plural(one, many string, n int) string {
	if n == 1 {
		return one
	}
	return many
}

func joinQuote(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// containers renders `container "a"` or `containers "a", "b"`.
func containers(names []string) string {
	return plural("container", "containers", len(names)) + " " + joinQuote(names)
}

// set is a small sorted string set.
type set map[string]bool

func (s set) list() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isWindows(spec *corev1.PodSpec) bool { return spec.OS != nil && spec.OS.Name == corev1.Windows }
