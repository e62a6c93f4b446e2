package job

import (
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// noIndex is what completionIndex returns for a pod without a usable index.
const noIndex = -1

// interval is a closed range of completion indexes.
type interval struct{ first, last int }

// intervals is a sorted list of disjoint, non-adjacent intervals: the form of status.completedIndexes and
// status.failedIndexes ("1,3-5,7").
type intervals []interval

// parseIntervals reads an index list as the status fields hold it, keeping indexes below completions. Bad
// parts are skipped, as upstream does (the status is the controller's own output).
func parseIntervals(s string, completions int) intervals {
	var out intervals
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				continue
			}
		}
		if first >= completions {
			continue
		}
		last = min(last, completions-1)
		out = out.add(interval{first, last})
	}
	return out
}

// add merges one interval into the list.
func (iv intervals) add(n interval) intervals {
	out := make(intervals, 0, len(iv)+1)
	placed := false
	for _, cur := range iv {
		switch {
		case cur.last+1 < n.first:
			out = append(out, cur)
		case n.last+1 < cur.first:
			if !placed {
				out = append(out, n)
				placed = true
			}
			out = append(out, cur)
		default: // overlapping or adjacent: grow the new one
			n.first, n.last = min(n.first, cur.first), max(n.last, cur.last)
		}
	}
	if !placed {
		out = append(out, n)
		sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	}
	return out
}

// withIndexes returns the list with the given indexes added.
func (iv intervals) withIndexes(idx []int) intervals {
	out := append(intervals(nil), iv...)
	for _, i := range idx {
		out = out.add(interval{i, i})
	}
	return out
}

func (iv intervals) has(i int) bool {
	n := sort.Search(len(iv), func(k int) bool { return iv[k].last >= i })
	return n < len(iv) && iv[n].first <= i
}

func (iv intervals) total() int {
	n := 0
	for _, x := range iv {
		n += x.last - x.first + 1
	}
	return n
}

// String renders the list as upstream does: single indexes alone, two neighbours as "a,b", longer runs as
// "a-b".
func (iv intervals) String() string {
	var b strings.Builder
	for _, x := range iv {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x.first))
		switch {
		case x.last == x.first+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(x.last))
		case x.last > x.first:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(x.last))
		}
	}
	return b.String()
}

// completionIndex reads a pod's batch.kubernetes.io/job-completion-index annotation.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return noIndex
	}
	return i
}

// validIndex: the pod has an index below the Job's completions.
func validIndex(job *batchv1.Job, p *corev1.Pod) (int, bool) {
	i := completionIndex(p)
	if i == noIndex || job.Spec.Completions == nil || i >= int(*job.Spec.Completions) {
		return noIndex, false
	}
	return i, true
}

// firstPendingIndexes returns up to n indexes, lowest first, that are neither done nor taken by an active
// pod nor excluded (failed, or waiting out a per-index back-off).
func firstPendingIndexes(n, completions int, done intervals, excluded func(int) bool) []int {
	var out []int
	for i := 0; i < completions && len(out) < n; i++ {
		if done.has(i) || excluded(i) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// addIndexEnv gives every container (and init container) JOB_COMPLETION_INDEX from the pod's annotation
// through the downward API, unless the container defines it itself.
func addIndexEnv(spec *corev1.PodSpec) {
	add := func(cs []corev1.Container) {
		for i := range cs {
			found := false
			for _, e := range cs[i].Env {
				if e.Name == "JOB_COMPLETION_INDEX" {
					found = true
					break
				}
			}
			if !found {
				cs[i].Env = append(cs[i].Env, corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"}}})
			}
		}
	}
	add(spec.InitContainers)
	add(spec.Containers)
}

// maxGeneratedNameLength is how long a generateName prefix may be (63 less the 5 random characters).
const maxGeneratedNameLength = 58

// indexedGenerateName is <job>-<index>- , shortened from the job name's end when too long, as upstream.
func indexedGenerateName(job string, index int) string {
	suffix := "-" + strconv.Itoa(index) + "-"
	prefix := job + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = job[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}
