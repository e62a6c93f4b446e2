package audit

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"skiff/internal/auth"
)

// Attributes are what the policy looks at.
type Attributes struct {
	User            *auth.User // nil: the request did not authenticate
	Verb            string
	ResourceRequest bool
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string
	Path            string
}

// Decision is what the policy says of one request.
type Decision struct {
	Level             Level
	OmitStages        []Stage
	OmitManagedFields bool
}

// LoadPolicy reads and checks a Policy file. As upstream, a policy without rules is refused.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("audit policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy checks a Policy.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, err
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		return nil, fmt.Errorf("apiVersion/kind must be audit.k8s.io/v1/Policy, not %q/%q", p.APIVersion, p.Kind)
	}
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("loaded illegal policy with 0 rules")
	}
	if err := validStages(p.OmitStages, "omitStages"); err != nil {
		return nil, err
	}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		switch r.Level {
		case LevelNone, LevelMetadata, LevelRequest, LevelRequestResponse:
		case "":
			return nil, fmt.Errorf("%s.level: Required value", path)
		default:
			return nil, fmt.Errorf("%s.level: Unsupported value: %q: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"", path, r.Level)
		}
		if err := validStages(r.OmitStages, path+".omitStages"); err != nil {
			return nil, err
		}
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			return nil, fmt.Errorf("%s.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs", path)
		}
		for j, u := range r.NonResourceURLs {
			if u == "" || (strings.Contains(strings.TrimSuffix(u, "*"), "*")) || (!strings.HasPrefix(u, "/") && u != "*") {
				return nil, fmt.Errorf("%s.nonResourceURLs[%d]: Invalid value: %q: a path, with at most a trailing *", path, j, u)
			}
		}
		for j, gr := range r.Resources {
			for k, res := range gr.Resources {
				if res == "" || strings.Count(res, "/") > 1 {
					return nil, fmt.Errorf("%s.resources[%d].resources[%d]: Invalid value: %q", path, j, k, res)
				}
			}
		}
	}
	return &p, nil
}

func validStages(stages []Stage, path string) error {
	for i, s := range stages {
		switch s {
		case StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic:
		default:
			return fmt.Errorf("%s[%d]: Unsupported value: %q: supported values: \"RequestReceived\", \"ResponseStarted\", \"ResponseComplete\", \"Panic\"", path, i, s)
		}
	}
	return nil
}

// Evaluate returns what the first matching rule says; no match is None.
func (p *Policy) Evaluate(a Attributes) Decision {
	for _, r := range p.Rules {
		if !r.matches(a) {
			continue
		}
		d := Decision{Level: r.Level, OmitManagedFields: p.OmitManagedFields}
		d.OmitStages = append(append(d.OmitStages, p.OmitStages...), r.OmitStages...)
		if r.OmitManagedFields != nil {
			d.OmitManagedFields = *r.OmitManagedFields
		}
		return d
	}
	return Decision{Level: LevelNone}
}

// MaxLevel is the most any rule logs (the filter reads request bodies only when some rule may want them).
func (p *Policy) MaxLevel() Level {
	max := LevelNone
	for _, r := range p.Rules {
		if max.Less(r.Level) {
			max = r.Level
		}
	}
	return max
}

func (r *PolicyRule) matches(a Attributes) bool {
	if len(r.Users) > 0 && (a.User == nil || !slices.Contains(r.Users, a.User.Name)) {
		return false
	}
	if len(r.UserGroups) > 0 {
		if a.User == nil || !slices.ContainsFunc(a.User.Groups, func(g string) bool { return slices.Contains(r.UserGroups, g) }) {
			return false
		}
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, a.Verb) {
		return false
	}
	if len(r.Namespaces) > 0 || len(r.Resources) > 0 {
		return r.matchesResource(a)
	}
	if len(r.NonResourceURLs) > 0 {
		if a.ResourceRequest {
			return false
		}
		return slices.ContainsFunc(r.NonResourceURLs, func(spec string) bool {
			return spec == "*" || spec == a.Path || (strings.HasSuffix(spec, "*") && strings.HasPrefix(a.Path, strings.TrimSuffix(spec, "*")))
		})
	}
	return true
}

// matchesResource: "pods" is the resource alone, "pods/log" a subresource, "*" everything, "pods/*" pods and
// all its subresources, "*/scale" every scale subresource; resourceNames narrow to named objects.
func (r *PolicyRule) matchesResource(a Attributes) bool {
	if !a.ResourceRequest {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, a.Namespace) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	combined := a.Resource
	if a.Subresource != "" {
		combined += "/" + a.Subresource
	}
	for _, gr := range r.Resources {
		if gr.Group != a.APIGroup {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, a.Name) {
			continue
		}
		for _, res := range gr.Resources {
			switch {
			case res == combined || res == "*":
				return true
			case a.Subresource != "" && strings.HasPrefix(res, "*/") && a.Subresource == res[2:]:
				return true
			case strings.HasSuffix(res, "/*") && a.Resource == strings.TrimSuffix(res, "/*"):
				return true
			}
		}
	}
	return false
}
