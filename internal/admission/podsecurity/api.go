package podsecurity

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	skiffversion "skiff/internal/version"
)

// Level is a Pod Security Standards level.
type Level string

// The levels, least to most restrictive.
const (
	Privileged Level = "privileged"
	Baseline   Level = "baseline"
	Restricted Level = "restricted"
)

func (l Level) rank() int {
	switch l {
	case Baseline:
		return 1
	case Restricted:
		return 2
	}
	return 0
}

// Namespace labels, as upstream names them.
const (
	labelPrefix         = "pod-security.kubernetes.io/"
	EnforceLevelLabel   = labelPrefix + "enforce"
	EnforceVersionLabel = labelPrefix + "enforce-version"
	AuditLevelLabel     = labelPrefix + "audit"
	AuditVersionLabel   = labelPrefix + "audit-version"
	WarnLevelLabel      = labelPrefix + "warn"
	WarnVersionLabel    = labelPrefix + "warn-version"

	// Audit annotations.
	AuditAnnotationEnforcePolicy   = labelPrefix + "enforce-policy"
	AuditAnnotationAuditViolations = labelPrefix + "audit-violations"
	AuditAnnotationExempt          = labelPrefix + "exempt"
	AuditAnnotationError           = labelPrefix + "error"
)

// Version is a Kubernetes minor release ("v1.N") or latest (the zero value).
type Version struct {
	major, minor int
	pinned       bool
}

// Latest is the newest version of the standards.
var Latest = Version{}

// MajorMinor returns vMAJOR.MINOR.
func MajorMinor(major, minor int) Version { return Version{major: major, minor: minor, pinned: true} }

func (v Version) String() string {
	if !v.pinned {
		return "latest"
	}
	return fmt.Sprintf("v%d.%d", v.major, v.minor)
}

// Latest reports whether v is "latest".
func (v Version) Latest() bool { return !v.pinned }

// atLeast reports whether v is at or after major.minor (latest is after everything).
func (v Version) atLeast(major, minor int) bool {
	if !v.pinned {
		return true
	}
	return v.major > major || (v.major == major && v.minor >= minor)
}

// served is the release skiff serves: a pinned version at or after it means latest.
var served = func() Version {
	v, err := ParseVersion(strings.Join(strings.SplitN(skiffversion.Kubernetes, ".", 3)[:2], "."))
	if err != nil {
		panic(err)
	}
	return v
}()

// ParseVersion parses "latest" or "v1.N".
func ParseVersion(s string) (Version, error) {
	if s == "latest" {
		return Latest, nil
	}
	bad := fmt.Errorf(`must be "latest" or "v1.x"`)
	rest, ok := strings.CutPrefix(s, "v1.")
	if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
		return Version{}, bad
	}
	minor, err := strconv.Atoi(rest)
	if err != nil || minor < 0 {
		return Version{}, bad
	}
	return MajorMinor(1, minor), nil
}

// ParseLevel parses a level name.
func ParseLevel(s string) (Level, error) {
	switch Level(s) {
	case Privileged, Baseline, Restricted:
		return Level(s), nil
	}
	return "", fmt.Errorf("must be one of privileged, baseline, restricted")
}

// LevelVersion is a level of the standards at a version: "restricted:latest".
type LevelVersion struct {
	Level   Level
	Version Version
}

func (lv LevelVersion) String() string { return string(lv.Level) + ":" + lv.Version.String() }

// effective maps versions at or after the served release to latest, which is what upstream evaluates.
func (lv LevelVersion) effective() Version {
	if lv.Version.pinned && lv.Version.atLeast(served.major, served.minor) {
		return Latest
	}
	return lv.Version
}

// Policy is what a namespace asks for in each mode.
type Policy struct {
	Enforce, Audit, Warn LevelVersion
}

// PolicyFor computes a namespace's policy from its labels over the defaults, as upstream: an invalid enforce level
// fails closed (restricted), invalid audit and warn levels fail open (privileged), an invalid version means
// latest, and a warn level left unset follows an explicitly set, more restrictive enforce level. The errors name
// the offending labels, for validating namespace writes.
func PolicyFor(labels map[string]string, defaults Policy) (Policy, field.ErrorList) {
	p := defaults
	var errs field.ErrorList
	path := field.NewPath("metadata", "labels")
	level := func(key string, dst *Level, failTo Level) bool {
		v, ok := labels[key]
		if !ok {
			return false
		}
		l, err := ParseLevel(v)
		if err != nil {
			errs = append(errs, field.Invalid(path.Key(key), v, err.Error()))
			l = failTo
		}
		*dst = l
		return true
	}
	version := func(key string, dst *Version) bool {
		v, ok := labels[key]
		if !ok {
			return false
		}
		ver, err := ParseVersion(v)
		if err != nil {
			errs = append(errs, field.Invalid(path.Key(key), v, err.Error()))
			ver = Latest
		}
		*dst = ver
		return true
	}
	hasEnforce := level(EnforceLevelLabel, &p.Enforce.Level, Restricted)
	version(EnforceVersionLabel, &p.Enforce.Version)
	level(AuditLevelLabel, &p.Audit.Level, Privileged)
	version(AuditVersionLabel, &p.Audit.Version)
	hasWarn := level(WarnLevelLabel, &p.Warn.Level, Privileged)
	hasWarnVersion := version(WarnVersionLabel, &p.Warn.Version)
	if !hasWarn && hasEnforce && p.Enforce.Level.rank() > p.Warn.Level.rank() {
		p.Warn.Level = p.Enforce.Level
		if !hasWarnVersion {
			p.Warn.Version = p.Enforce.Version
		}
	}
	return p, errs
}
