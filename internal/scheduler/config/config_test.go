package config

import (
	"strings"
	"testing"

	configv1 "k8s.io/kube-scheduler/config/v1"
)

func TestParse(t *testing.T) {
	res, err := Parse([]byte(`
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  plugins:
    score:
      disabled:
      - name: ImageLocality
      enabled:
      - name: NodeResourcesFit
        weight: 5
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Profiles) != 2 || res.Profiles[1].SchedulerName != "bin-packing" {
		t.Fatalf("profiles %+v", res.Profiles)
	}
	var fitWeight int64
	var fitArgs *configv1.NodeResourcesFitArgs
	for _, p := range res.Profiles[1].Plugins {
		switch p.Name {
		case "NodeResourcesFit":
			fitWeight = p.Weight
			fitArgs, _ = p.Args.(*configv1.NodeResourcesFitArgs)
		case "ImageLocality":
			if p.Points == nil || p.Points["score"] {
				t.Fatalf("ImageLocality score not disabled: %+v", p)
			}
		}
	}
	if fitWeight != 5 || fitArgs == nil || fitArgs.ScoringStrategy == nil || fitArgs.ScoringStrategy.Type != configv1.MostAllocated {
		t.Fatalf("fit weight %d args %+v", fitWeight, fitArgs)
	}
}

func TestParseRefuses(t *testing.T) {
	head := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
	cases := map[string]string{
		"unknown field":       head + "bogus: 1\n",
		"extenders":           head + "extenders:\n- urlPrefix: http://x\n",
		"unknown plugin":      head + "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: Nope\n",
		"not implemented":     head + "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: VolumeBinding\n",
		"unsupported point":   head + "profiles:\n- plugins:\n    permit:\n      enabled:\n      - name: Custom\n",
		"leader election off": head + "leaderElection:\n  leaderElect: false\n",
		"unknown args field":  head + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      bogus: 1\n",
		"wrong kind":          "apiVersion: kubescheduler.config.k8s.io/v1\nkind: Other\n",
		"duplicate profile":   head + "profiles:\n- schedulerName: a\n- schedulerName: a\n",
		"backoff not support": head + "podInitialBackoffSeconds: 2\n",
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(cfg)); err == nil {
				t.Fatalf("accepted:\n%s", cfg)
			} else if !strings.HasPrefix(err.Error(), "scheduler config") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
		})
	}
}
