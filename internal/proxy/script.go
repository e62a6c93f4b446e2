package proxy

import (
	"fmt"
	"sort"
	"strings"
)

// Existing is what the kernel's table holds before a full sync (see ListTable).
type Existing struct {
	// Table: the table exists.
	Table bool
	// Incompatible: a map, set or base chain differs in kind or type from this version's layout (a table
	// left by an older skiff), so the table is recreated in the same transaction.
	Incompatible bool
	Chains       map[string]bool
	Sets         map[string]bool // sets and maps
}

// FullScript writes the whole ruleset into table in one nft transaction, without deleting the table:
// chains are flushed and refilled, maps flushed and refilled, and chains and sets the ruleset no longer
// has are deleted. Affinity sets that stay keep their members. Conntrack entries never depend on the
// table, so established connections keep their translation whatever a sync does.
func FullScript(table string, rs *Ruleset, ex Existing) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }
	w("add table ip %s { comment \"skiff service proxy\"; }", table)
	if ex.Incompatible {
		w("delete table ip %s", table)
		w("add table ip %s { comment \"skiff service proxy\"; }", table)
		ex = Existing{}
	}
	for _, m := range tableMaps {
		w("add map ip %s %s { type %s; }", table, m.name, m.typ)
		w("flush map ip %s %s", table, m.name)
	}
	writeSets(w, table, sortedKeys(rs.Sets), rs.Sets)
	names := sortedKeys(rs.Chains)
	declare(w, table, names, rs.Chains)
	var flush []string
	for _, n := range names {
		if ex.Chains[n] {
			flush = append(flush, n)
		}
	}
	for _, n := range flush {
		w("flush chain ip %s %s", table, n)
	}
	fill(w, table, names, rs.Chains)
	for _, m := range tableMaps {
		writeElements(w, "add", table, m.name, rs.Elems[m.name], true)
	}
	var staleChains, staleSets []string
	for n := range ex.Chains {
		if _, ok := rs.Chains[n]; !ok {
			staleChains = append(staleChains, n)
		}
	}
	for n := range ex.Sets {
		if _, ok := rs.Sets[n]; !ok && !isTableMap(n) {
			staleSets = append(staleSets, n)
		}
	}
	sort.Strings(staleChains)
	sort.Strings(staleSets)
	deleteChains(w, table, staleChains)
	for _, n := range staleSets {
		w("delete set ip %s %s", table, n)
	}
	return b.String()
}

// DiffScript writes only what changed from old to next, in one nft transaction: new sets and chains are
// added, changed chains flushed and refilled, map elements deleted and added, then chains and sets no
// longer referenced deleted. An empty string: nothing changed. Both rulesets must come from Compute with
// the same RenderConfig (the maps and base chains are not compared for declaration changes).
func DiffScript(table string, old, next *Ruleset) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }

	var newSets, goneSets []string
	for n := range next.Sets {
		if _, ok := old.Sets[n]; !ok {
			newSets = append(newSets, n)
		}
	}
	for n := range old.Sets {
		if _, ok := next.Sets[n]; !ok {
			goneSets = append(goneSets, n)
		}
	}
	var added, changed, gone []string
	for n, c := range next.Chains {
		if o, ok := old.Chains[n]; !ok {
			added = append(added, n)
		} else if !o.equal(c) {
			changed = append(changed, n)
		}
	}
	for n := range old.Chains {
		if _, ok := next.Chains[n]; !ok {
			gone = append(gone, n)
		}
	}
	sort.Strings(newSets)
	sort.Strings(goneSets)
	sort.Strings(added)
	sort.Strings(changed)
	sort.Strings(gone)

	writeSets(w, table, newSets, next.Sets)
	declare(w, table, added, next.Chains)
	for _, n := range changed {
		w("flush chain ip %s %s", table, n)
	}
	fill(w, table, append(added, changed...), next.Chains)
	for _, m := range tableMaps {
		del, add := map[string]string{}, map[string]string{}
		for k, v := range old.Elems[m.name] {
			if nv, ok := next.Elems[m.name][k]; !ok || nv != v {
				del[k] = v
			}
		}
		for k, v := range next.Elems[m.name] {
			if ov, ok := old.Elems[m.name][k]; !ok || ov != v {
				add[k] = v
			}
		}
		writeElements(w, "delete", table, m.name, del, false)
		writeElements(w, "add", table, m.name, add, true)
	}
	deleteChains(w, table, gone)
	for _, n := range goneSets {
		w("delete set ip %s %s", table, n)
	}
	return b.String()
}

func writeSets(w func(string, ...any), table string, names []string, defs map[string]string) {
	for _, n := range names {
		w("add set ip %s %s { %s }", table, n, defs[n])
	}
}

// declare adds chains (an existing one is left as is).
func declare(w func(string, ...any), table string, names []string, chains map[string]Chain) {
	if len(names) == 0 {
		return
	}
	w("table ip %s {", table)
	for _, n := range names {
		w("\tchain %s { %s }", n, chains[n].Spec)
	}
	w("}")
}

// fill appends the chains' rules (chains already declared and empty).
func fill(w func(string, ...any), table string, names []string, chains map[string]Chain) {
	if len(names) == 0 {
		return
	}
	w("table ip %s {", table)
	for _, n := range names {
		w("\tchain %s {", n)
		for _, r := range chains[n].Rules {
			w("\t\t%s", r)
		}
		w("\t}")
	}
	w("}")
}

// deleteChains flushes all the chains first, so rules among them no longer reference each other.
func deleteChains(w func(string, ...any), table string, names []string) {
	for _, n := range names {
		w("flush chain ip %s %s", table, n)
	}
	for _, n := range names {
		w("delete chain ip %s %s", table, n)
	}
}

func writeElements(w func(string, ...any), verb, table, name string, elems map[string]string, withValue bool) {
	if len(elems) == 0 {
		return
	}
	keys := sortedKeys(elems)
	items := make([]string, len(keys))
	for i, k := range keys {
		items[i] = k
		if withValue {
			items[i] = k + " : " + elems[k]
		}
	}
	w("%s element ip %s %s { %s }", verb, table, name, strings.Join(items, ", "))
}

func isTableMap(name string) bool {
	for _, m := range tableMaps {
		if m.name == name {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Render returns the script of a full sync into an empty table named Table (tests, debugging).
func Render(cfg RenderConfig, services []Service) string {
	return FullScript(Table, Compute(cfg, services), Existing{})
}
