package noderesources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	configv1 "k8s.io/kube-scheduler/config/v1"
)

// maxCustomPriorityScore is the top of the RequestedToCapacityRatio shape's score axis (upstream's
// MaxCustomPriorityScore); shape scores are scaled by MaxNodeScore/maxCustomPriorityScore.
const maxCustomPriorityScore = 10

// defaultResources are upstream's default scored resources: cpu and memory, weight 1 each.
func defaultResources() []configv1.ResourceSpec {
	return []configv1.ResourceSpec{{Name: string(corev1.ResourceCPU), Weight: 1}, {Name: string(corev1.ResourceMemory), Weight: 1}}
}

// defaultFitArgs applies upstream's v1 defaulting to a copy of args: LeastAllocated over cpu and memory
// when no strategy is given, cpu and memory when the strategy lists no resources, weight 1 for weight 0.
func defaultFitArgs(args *configv1.NodeResourcesFitArgs) *configv1.NodeResourcesFitArgs {
	out := &configv1.NodeResourcesFitArgs{}
	if args != nil {
		out = args.DeepCopy()
	}
	if out.ScoringStrategy == nil {
		out.ScoringStrategy = &configv1.ScoringStrategy{Type: configv1.LeastAllocated}
	}
	if len(out.ScoringStrategy.Resources) == 0 {
		out.ScoringStrategy.Resources = defaultResources()
	}
	for i := range out.ScoringStrategy.Resources {
		if out.ScoringStrategy.Resources[i].Weight == 0 {
			out.ScoringStrategy.Resources[i].Weight = 1
		}
	}
	return out
}

var supportedScoringStrategyTypes = sets.New(
	string(configv1.LeastAllocated), string(configv1.MostAllocated), string(configv1.RequestedToCapacityRatio))

// validateFitArgs checks defaulted args as upstream's ValidateNodeResourcesFitArgs does, and additionally
// requires a shape for RequestedToCapacityRatio (upstream would dereference nil).
func validateFitArgs(args *configv1.NodeResourcesFitArgs) error {
	var errs field.ErrorList
	resPath := field.NewPath("ignoredResources")
	for i, res := range args.IgnoredResources {
		errs = append(errs, metav1validation.ValidateLabelName(res, resPath.Index(i))...)
	}
	groupPath := field.NewPath("ignoredResourceGroups")
	for i, group := range args.IgnoredResourceGroups {
		if strings.Contains(group, "/") {
			errs = append(errs, field.Invalid(groupPath.Index(i), group, "resource group name can't contain '/'"))
		}
		errs = append(errs, metav1validation.ValidateLabelName(group, groupPath.Index(i))...)
	}
	strategyPath := field.NewPath("scoringStrategy")
	s := args.ScoringStrategy
	if !supportedScoringStrategyTypes.Has(string(s.Type)) {
		errs = append(errs, field.NotSupported(strategyPath.Child("type"), s.Type, sets.List(supportedScoringStrategyTypes)))
	}
	errs = append(errs, validateResources(s.Resources, strategyPath.Child("resources"))...)
	if s.RequestedToCapacityRatio != nil {
		errs = append(errs, validateFunctionShape(s.RequestedToCapacityRatio.Shape, strategyPath.Child("shape"))...)
	} else if s.Type == configv1.RequestedToCapacityRatio {
		errs = append(errs, field.Required(strategyPath.Child("requestedToCapacityRatio"), "a shape is required for the RequestedToCapacityRatio strategy"))
	}
	return errs.ToAggregate()
}

func validateResources(resources []configv1.ResourceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range resources {
		if r.Weight <= 0 || r.Weight > 100 {
			errs = append(errs, field.Invalid(p.Index(i).Child("weight"), r.Weight,
				fmt.Sprintf("resource weight of %v not in valid range (0, 100]", r.Name)))
		}
	}
	return errs
}

func validateFunctionShape(shape []configv1.UtilizationShapePoint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(shape) == 0 {
		return append(errs, field.Required(p, "at least one point must be specified"))
	}
	for i := 1; i < len(shape); i++ {
		if shape[i-1].Utilization >= shape[i].Utilization {
			errs = append(errs, field.Invalid(p.Index(i).Child("utilization"), shape[i].Utilization, "values must be sorted in increasing order"))
			break
		}
	}
	for i, pt := range shape {
		if pt.Utilization < 0 || pt.Utilization > 100 {
			errs = append(errs, field.Invalid(p.Index(i).Child("utilization"), pt.Utilization, "not in valid range [0, 100]"))
		}
		if pt.Score < 0 || pt.Score > maxCustomPriorityScore {
			errs = append(errs, field.Invalid(p.Index(i).Child("score"), pt.Score, fmt.Sprintf("not in valid range [0, %d]", maxCustomPriorityScore)))
		}
	}
	return errs
}

// defaultBalancedAllocationArgs applies upstream's v1 defaulting to a copy of args.
func defaultBalancedAllocationArgs(args *configv1.NodeResourcesBalancedAllocationArgs) *configv1.NodeResourcesBalancedAllocationArgs {
	out := &configv1.NodeResourcesBalancedAllocationArgs{}
	if args != nil {
		out = args.DeepCopy()
	}
	if len(out.Resources) == 0 {
		out.Resources = defaultResources()
	}
	for i := range out.Resources {
		if out.Resources[i].Weight == 0 {
			out.Resources[i].Weight = 1
		}
	}
	return out
}

// validateBalancedAllocationArgs checks defaulted args as upstream does: no duplicate resources, weight 1.
func validateBalancedAllocationArgs(args *configv1.NodeResourcesBalancedAllocationArgs) error {
	var errs field.ErrorList
	seen := sets.New[string]()
	p := field.NewPath("resources")
	for i, r := range args.Resources {
		if seen.Has(r.Name) {
			errs = append(errs, field.Duplicate(p.Index(i).Child("name"), r.Name))
		}
		seen.Insert(r.Name)
		if r.Weight != 1 {
			errs = append(errs, field.Invalid(p.Index(i).Child("weight"), r.Weight, "must be 1"))
		}
	}
	return errs.ToAggregate()
}
