package printers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Column descriptions are taken from the API types' swagger docs, as
// upstream does, so the Table a client sees is the same byte for byte.
var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// Sentinels upstream prints for missing values. kubectl shows them verbatim.
const (
	none    = "<none>"
	unset   = "<unset>"
	unknown = "<unknown>"
)

// nameColumn is the first column of nearly every table. Format "name" tells
// kubectl which cell holds the object name (used for -o name style output
// and for the NAMESPACE prefix column).
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}
}

// column is a default (priority 0) column.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// formattedColumn is a default column with a display format hint.
func formattedColumn(name, typ, format, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Format: format, Description: description}
}

// wideColumn is only shown by kubectl with -o wide.
func wideColumn(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description, Priority: 1}
}

// Workload kinds share the same trailing wide columns describing their pod
// template.
const (
	containersDoc = "Names of each container in the template."
	imagesDoc     = "Images referenced by each container in the template."
)

func templateColumns(selectorDoc string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		wideColumn("Containers", "string", containersDoc),
		wideColumn("Images", "string", imagesDoc),
		wideColumn("Selector", "string", selectorDoc),
	}
}

// cols concatenates column groups; it keeps the per-kind definitions short.
func cols(groups ...any) []metav1.TableColumnDefinition {
	var out []metav1.TableColumnDefinition
	for _, g := range groups {
		switch v := g.(type) {
		case metav1.TableColumnDefinition:
			out = append(out, v)
		case []metav1.TableColumnDefinition:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("printers: cols got %T", g))
		}
	}
	return out
}

// age renders the time elapsed since t the way every AGE column does.
// A zero time (never set) is shown as <unknown> rather than "56y".
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func microAge(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells lays out container names and images as two
// comma-separated lists, in spec order.
func containerCells(containers []corev1.Container) (names, images string) {
	var n, i strings.Builder
	for idx := range containers {
		if idx > 0 {
			n.WriteByte(',')
			i.WriteByte(',')
		}
		n.WriteString(containers[idx].Name)
		i.WriteString(containers[idx].Image)
	}
	return n.String(), i.String()
}

// boolPtrCell is how upstream shows optional booleans such as a CronJob's
// suspend flag: as a string, "<unset>" when absent.
func boolPtrCell(b *bool) string {
	switch {
	case b == nil:
		return unset
	case *b:
		return "True"
	default:
		return "False"
	}
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func stringOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func int32Or(i *int32, def int32) int32 {
	if i == nil {
		return def
	}
	return *i
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// truncatedList collects at most max entries but counts all of them, for
// cells like ENDPOINTS that show "a,b,c + 4 more...".
type truncatedList struct {
	max   int
	items []string
	total int
}

func newTruncatedList(max int) *truncatedList { return &truncatedList{max: max} }

func (l *truncatedList) add(s string) {
	l.total++
	if len(l.items) < l.max {
		l.items = append(l.items, s)
	}
}

func (l *truncatedList) String() string {
	s := strings.Join(l.items, ",")
	if l.total > l.max {
		return fmt.Sprintf("%s + %d more...", s, l.total-l.max)
	}
	return s
}

// sortedSetString joins the distinct non-empty values in sorted order, as
// load-balancer addresses are shown.
func sortedSetString(values []string) string {
	seen := make(map[string]struct{}, len(values))
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v == "" {
			continue
		}
		if _, dup := seen[v]; dup {
			continue
		}
		seen[v] = struct{}{}
		out = append(out, v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func itoa[T ~int | ~int32 | ~int64](v T) string { return strconv.FormatInt(int64(v), 10) }
