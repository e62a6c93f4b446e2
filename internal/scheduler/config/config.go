package config

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	configv1 "k8s.io/kube-scheduler/config/v1"
	"sigs.k8s.io/yaml"

	"skiff/internal/scheduler/profile"
)

// DefaultSchedulerName is the profile pods get when they name none.
const DefaultSchedulerName = "default-scheduler"

// Built-in behaviour that upstream models as plugins: accepted by name, always on.
var builtIn = map[string]bool{"PrioritySort": true, "DefaultBinder": true, "SchedulingGates": true}

// defaultPlugins is upstream's default multiPoint set, in order, with score weights, for what skiff implements.
var defaultPlugins = []profile.PluginSpec{
	{Name: "NodeUnschedulable"},
	{Name: "NodeName"},
	{Name: "TaintToleration", Weight: 3},
	{Name: "NodeAffinity", Weight: 2},
	{Name: "NodePorts"},
	{Name: "NodeResourcesFit", Weight: 1},
	{Name: "PodTopologySpread", Weight: 2},
	{Name: "InterPodAffinity", Weight: 2},
	{Name: "DefaultPreemption"},
	{Name: "NodeResourcesBalancedAllocation", Weight: 1},
	{Name: "ImageLocality", Weight: 1},
}

// notImplemented are upstream default plugins skiff does not have yet (volumes arrive with storage, DRA later).
var notImplemented = map[string]bool{"VolumeRestrictions": true, "NodeVolumeLimits": true, "VolumeBinding": true,
	"VolumeZone": true, "DynamicResources": true}

// Result is a parsed configuration.
type Result struct {
	Profiles []profile.Config
	// Parallelism for filter and score.
	Parallelism int
}

// Default is the configuration without a file: one default-scheduler profile with upstream's default plugins.
func Default() *Result {
	return &Result{Profiles: []profile.Config{{SchedulerName: DefaultSchedulerName, Plugins: slices.Clone(defaultPlugins)}}, Parallelism: 16}
}

// Load reads a KubeSchedulerConfiguration file.
func Load(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse reads a KubeSchedulerConfiguration (YAML or JSON), strictly: unknown fields are errors.
func Parse(data []byte) (*Result, error) {
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme(), scheme(), kjson.SerializerOptions{Strict: true})
	obj, gvk, err := strict.Decode(jsonData, nil, &configv1.KubeSchedulerConfiguration{})
	if err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if gvk.GroupVersion() != configv1.SchemeGroupVersion || gvk.Kind != "KubeSchedulerConfiguration" {
		return nil, fmt.Errorf("scheduler config: want apiVersion %s kind KubeSchedulerConfiguration, got %s", configv1.SchemeGroupVersion, gvk)
	}
	cfg := obj.(*configv1.KubeSchedulerConfiguration)
	if err := refuseUnsupported(cfg); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	res := &Result{Parallelism: 16}
	if cfg.Parallelism != nil {
		if *cfg.Parallelism <= 0 {
			return nil, fmt.Errorf("scheduler config: parallelism must be positive")
		}
		res.Parallelism = int(*cfg.Parallelism)
	}
	profiles := cfg.Profiles
	if len(profiles) == 0 {
		profiles = []configv1.KubeSchedulerProfile{{}}
	}
	seen := map[string]bool{}
	for i, p := range profiles {
		pc, err := buildProfile(p, cfg.PercentageOfNodesToScore)
		if err != nil {
			return nil, fmt.Errorf("scheduler config: profiles[%d]: %w", i, err)
		}
		if seen[pc.SchedulerName] {
			return nil, fmt.Errorf("scheduler config: profiles[%d]: duplicate schedulerName %q", i, pc.SchedulerName)
		}
		seen[pc.SchedulerName] = true
		pc.Parallelism = res.Parallelism
		res.Profiles = append(res.Profiles, pc)
	}
	return res, nil
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = configv1.AddToScheme(s)
	return s
}

func refuseUnsupported(cfg *configv1.KubeSchedulerConfiguration) error {
	switch {
	case len(cfg.Extenders) > 0:
		return fmt.Errorf("extenders are not supported")
	case cfg.DelayCacheUntilActive:
		return fmt.Errorf("delayCacheUntilActive is not supported")
	case cfg.PodInitialBackoffSeconds != nil || cfg.PodMaxBackoffSeconds != nil:
		return fmt.Errorf("podInitialBackoffSeconds/podMaxBackoffSeconds are not supported (skiff uses upstream's defaults, 1s and 10s)")
	case cfg.ClientConnection.Kubeconfig != "":
		return fmt.Errorf("clientConnection is not supported: the scheduler runs inside skiff server")
	case cfg.LeaderElection.LeaderElect != nil && !*cfg.LeaderElection.LeaderElect,
		cfg.LeaderElection.ResourceName != "" || cfg.LeaderElection.ResourceNamespace != "" || cfg.LeaderElection.ResourceLock != "",
		cfg.LeaderElection.LeaseDuration.Duration != 0 || cfg.LeaderElection.RenewDeadline.Duration != 0 || cfg.LeaderElection.RetryPeriod.Duration != 0:
		return fmt.Errorf("leaderElection settings are not supported: skiff always elects through the kube-system/kube-scheduler Lease (15s lease, 10s renew, 2s retry)")
	}
	return nil
}

func buildProfile(p configv1.KubeSchedulerProfile, globalPct *int32) (profile.Config, error) {
	pc := profile.Config{SchedulerName: DefaultSchedulerName}
	if p.SchedulerName != nil && *p.SchedulerName != "" {
		pc.SchedulerName = *p.SchedulerName
	}
	if pct := firstNonNil(p.PercentageOfNodesToScore, globalPct); pct != nil {
		if *pct < 0 || *pct > 100 {
			return pc, fmt.Errorf("percentageOfNodesToScore must be in [0, 100]")
		}
		pc.PercentageOfNodesToScore = *pct
	}
	specs := slices.Clone(defaultPlugins)
	if pl := p.Plugins; pl != nil {
		var err error
		if specs, err = applyPlugins(specs, pl); err != nil {
			return pc, err
		}
	}
	args, err := decodeArgs(p.PluginConfig)
	if err != nil {
		return pc, err
	}
	for i := range specs {
		if a, ok := args[specs[i].Name]; ok {
			specs[i].Args = a
			delete(args, specs[i].Name)
		}
	}
	// Args for plugins that are not enabled are accepted and unused, as upstream does.
	pc.Plugins = specs
	return pc, nil
}

func firstNonNil(a, b *int32) *int32 {
	if a != nil {
		return a
	}
	return b
}

// applyPlugins applies enable/disable lists to the default set. multiPoint works on every point; the
// per-point lists restrict or add a plugin at one point.
func applyPlugins(specs []profile.PluginSpec, pl *configv1.Plugins) ([]profile.PluginSpec, error) {
	unsupported := map[string]configv1.PluginSet{"preEnqueue": pl.PreEnqueue, "queueSort": pl.QueueSort, "reserve": pl.Reserve,
		"permit": pl.Permit, "preBind": pl.PreBind, "bind": pl.Bind, "postBind": pl.PostBind,
		"placementGenerate": pl.PlacementGenerate, "placementScore": pl.PlacementScore, "podGroupPostFilter": pl.PodGroupPostFilter}
	for point, set := range unsupported {
		for _, e := range set.Enabled {
			if !builtIn[e.Name] {
				return nil, fmt.Errorf("plugins.%s: plugin %q is not supported", point, e.Name)
			}
		}
	}
	index := func(name string) int {
		return slices.IndexFunc(specs, func(s profile.PluginSpec) bool { return s.Name == name })
	}
	disable := func(point string, set configv1.PluginSet) {
		for _, d := range set.Disabled {
			if d.Name == "*" {
				if point == "" {
					specs = nil
				} else {
					for i := range specs {
						restrict(&specs[i], point, false)
					}
				}
				continue
			}
			if i := index(d.Name); i >= 0 {
				if point == "" {
					specs = slices.Delete(specs, i, i+1)
				} else {
					restrict(&specs[i], point, false)
				}
			}
		}
	}
	enable := func(point string, set configv1.PluginSet) error {
		for _, e := range set.Enabled {
			if builtIn[e.Name] {
				continue
			}
			if notImplemented[e.Name] {
				return fmt.Errorf("plugin %q is not implemented in skiff yet", e.Name)
			}
			if !slices.ContainsFunc(defaultPlugins, func(s profile.PluginSpec) bool { return s.Name == e.Name }) {
				return fmt.Errorf("unknown plugin %q", e.Name)
			}
			i := index(e.Name)
			if i < 0 {
				specs = append(specs, profile.PluginSpec{Name: e.Name, Points: map[string]bool{}})
				i = len(specs) - 1
				if point == "" {
					specs[i].Points = nil
				}
			}
			if point != "" {
				restrict(&specs[i], point, true)
			}
			if e.Weight != nil && *e.Weight != 0 {
				if *e.Weight < 0 {
					return fmt.Errorf("plugin %q: weight must not be negative", e.Name)
				}
				specs[i].Weight = int64(*e.Weight)
			} else if point == "score" || point == "" {
				if specs[i].Weight == 0 {
					specs[i].Weight = 1
				}
			}
		}
		return nil
	}
	points := []struct {
		name string
		set  configv1.PluginSet
	}{{"", pl.MultiPoint}, {"preFilter", pl.PreFilter}, {"filter", pl.Filter}, {"postFilter", pl.PostFilter},
		{"preScore", pl.PreScore}, {"score", pl.Score}}
	for _, p := range points {
		disable(p.name, p.set)
	}
	for _, p := range points {
		if err := enable(p.name, p.set); err != nil {
			return nil, fmt.Errorf("plugins.%s: %w", orMultiPoint(p.name), err)
		}
	}
	return specs, nil
}

func orMultiPoint(s string) string {
	if s == "" {
		return "multiPoint"
	}
	return s
}

// restrict turns a plugin's extension point on or off.
func restrict(s *profile.PluginSpec, point string, on bool) {
	if s.Points == nil {
		s.Points = map[string]bool{"preFilter": true, "filter": true, "postFilter": true, "preScore": true, "score": true}
	}
	s.Points[point] = on
}

// decodeArgs reads pluginConfig args into the kube-scheduler v1 args types.
func decodeArgs(pcs []configv1.PluginConfig) (map[string]runtime.Object, error) {
	out := map[string]runtime.Object{}
	for _, pc := range pcs {
		var into runtime.Object
		switch pc.Name {
		case "NodeResourcesFit":
			into = &configv1.NodeResourcesFitArgs{}
		case "NodeResourcesBalancedAllocation":
			into = &configv1.NodeResourcesBalancedAllocationArgs{}
		case "NodeAffinity":
			into = &configv1.NodeAffinityArgs{}
		case "PodTopologySpread":
			into = &configv1.PodTopologySpreadArgs{}
		case "InterPodAffinity":
			into = &configv1.InterPodAffinityArgs{}
		case "DefaultPreemption":
			into = &configv1.DefaultPreemptionArgs{}
		default:
			return nil, fmt.Errorf("pluginConfig: plugin %q takes no args in skiff", pc.Name)
		}
		raw := pc.Args.Raw
		if len(bytes.TrimSpace(raw)) == 0 {
			out[pc.Name] = into
			continue
		}
		strict := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme(), scheme(), kjson.SerializerOptions{Strict: true})
		gvk := configv1.SchemeGroupVersion.WithKind(pc.Name + "Args")
		obj, _, err := strict.Decode(raw, &gvk, into)
		if err != nil {
			return nil, fmt.Errorf("pluginConfig %s: %w", pc.Name, err)
		}
		out[pc.Name] = obj
	}
	return out, nil
}
