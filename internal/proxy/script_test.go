package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var testCIDR = RenderConfig{PodCIDR: netip.MustParsePrefix("10.42.0.0/24")}

// changed returns testServices with one endpoint of web replaced, sticky removed and a new Service.
func changedServices() []Service {
	var out []Service
	for _, s := range testServices() {
		switch s.Name {
		case "default/web:http":
			s.Endpoints = []netip.AddrPort{netip.MustParseAddrPort("10.42.0.2:8080"), netip.MustParseAddrPort("10.42.0.30:8080")}
		case "default/sticky:80":
			continue
		case "default/empty:53":
			s.Endpoints = []netip.AddrPort{netip.MustParseAddrPort("10.42.0.40:53")}
		}
		out = append(out, s)
	}
	return append(out, Service{Name: "default/new:80", ClusterIP: netip.MustParseAddr("10.43.0.20"), Protocol: corev1.ProtocolTCP, Port: 80,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.42.0.50:80")}})
}

func TestDiffScript(t *testing.T) {
	old, next := Compute(testCIDR, testServices()), Compute(testCIDR, changedServices())
	if d := DiffScript("t", old, Compute(testCIDR, testServices())); d != "" {
		t.Fatalf("no change gave a script:\n%s", d)
	}
	d := DiffScript("t", old, next)
	web := chainID("default/web:http", "TCP")
	sepGone := "sep-" + chainID("default/web:http", "TCP", "10.42.0.3:8080")
	sepNew := "sep-" + chainID("default/web:http", "TCP", "10.42.0.30:8080")
	sticky := chainID("default/sticky:80", "TCP")
	stickySep := chainID("default/sticky:80", "TCP", "10.42.0.4:80", "60")
	empty := chainID("default/empty:53", "UDP")
	for _, want := range []string{
		"flush chain ip t svc-" + web + "\n",
		"\tchain " + sepNew + " { comment \"default/web:http -> 10.42.0.30:8080\"; }",
		"flush chain ip t " + sepGone + "\n",
		"delete chain ip t " + sepGone + "\n",
		"delete chain ip t svc-" + sticky + "\n",
		"delete set ip t aff-" + stickySep + "\n",
		"delete element ip t service-ips { 10.43.0.7 . tcp . 80 }",
		"delete element ip t no-endpoint-services { 10.43.0.6 . udp . 53 }",
		"delete element ip t no-endpoint-nodeports { udp . 30053 }",
		"add element ip t service-ips { 10.43.0.20 . tcp . 80 : goto svc-" + chainID("default/new:80", "TCP") + ", 10.43.0.6 . udp . 53 : goto svc-" + empty + " }",
		"add element ip t service-nodeports { udp . 30053 : goto ext-" + empty + " }",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	// What did not change is not written, and nothing is deleted before what referenced it is gone.
	for _, notWant := range []string{"local-" + chainID("default/local:80", "TCP"), "10.43.0.5 . tcp . 80", "flush map", "delete table"} {
		if strings.Contains(d, notWant) {
			t.Errorf("diff mentions unchanged %q:\n%s", notWant, d)
		}
	}
	if strings.Index(d, "delete element ip t service-ips") > strings.Index(d, "delete chain ip t svc-"+sticky) {
		t.Errorf("chain deleted before the element pointing at it:\n%s", d)
	}
}

func TestFullScriptDeletesLeftovers(t *testing.T) {
	rs := Compute(testCIDR, nil)
	s := FullScript("t", rs, Existing{Table: true, Chains: map[string]bool{"services": true, "svc-old": true}, Sets: map[string]bool{"aff-old": true, mapServiceIPs: true}})
	for _, want := range []string{"flush chain ip t services\n", "flush chain ip t svc-old\ndelete chain ip t svc-old\n", "delete set ip t aff-old\n", "flush map ip t service-ips\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("full script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "delete table") || strings.Contains(s, "delete set ip t service-ips") {
		t.Errorf("full script deletes the table or a map:\n%s", s)
	}
	if s := FullScript("t", rs, Existing{Table: true, Incompatible: true, Chains: map[string]bool{"svc-old": true}}); !strings.Contains(s, "delete table ip t\n") || strings.Contains(s, "svc-old") {
		t.Errorf("an incompatible table is not recreated:\n%s", s)
	}
}

func TestParseExisting(t *testing.T) {
	chains := `{"nftables": [{"metainfo": {"version": "1.0.6"}},
		{"chain": {"family": "ip", "table": "t", "name": "nat-prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
		{"chain": {"family": "ip", "table": "t", "name": "svc-x", "handle": 2}},
		{"chain": {"family": "ip", "table": "other", "name": "svc-y", "handle": 3}}]}`
	sets := `{"nftables": [{"set": {"family": "ip", "name": "aff-x", "table": "t", "type": "ipv4_addr", "flags": ["timeout"]}}]}`
	maps := `{"nftables": [{"map": {"family": "ip", "name": "service-ips", "table": "t", "type": ["ipv4_addr", "inet_proto", "inet_service"], "map": "verdict"}}]}`
	ex, err := parseExisting("t", []byte(chains), []byte(sets), []byte(maps))
	if err != nil || !ex.Table || ex.Incompatible || fmt.Sprint(ex.Chains) != "map[nat-prerouting:true svc-x:true]" || fmt.Sprint(ex.Sets) != "map[aff-x:true service-ips:true]" {
		t.Fatalf("%+v %v", ex, err)
	}
	// The layout before verdict maps: no-endpoint-services was a set.
	old := `{"nftables": [{"set": {"family": "ip", "name": "no-endpoint-services", "table": "t", "type": ["ipv4_addr", "inet_proto", "inet_service"]}}]}`
	if ex, err := parseExisting("t", []byte(old)); err != nil || !ex.Incompatible {
		t.Fatalf("old layout: %+v %v", ex, err)
	}
	moved := strings.Replace(chains, `"prio": -100`, `"prio": 0`, 1)
	if ex, err := parseExisting("t", []byte(moved)); err != nil || !ex.Incompatible {
		t.Fatalf("moved hook: %+v %v", ex, err)
	}
	if ex, err := parseExisting("t", []byte(`{"nftables": [{"metainfo": {}}]}`)); err != nil || ex.Table {
		t.Fatalf("no table: %+v %v", ex, err)
	}
}

// listTable returns `nft list table` of table made comparable: its name neutral, chains, sets and maps
// sorted (nft lists them in creation order) and map elements sorted.
func listTable(t *testing.T, table string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), table, "T")
	var blocks []string
	for _, blk := range strings.Split(text, "\n\n") {
		var lines, elems []string
		inElems := false
		for _, l := range strings.Split(strings.TrimSpace(blk), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "elements = {") {
				inElems, l = true, strings.TrimPrefix(l, "elements = {")
			}
			if !inElems {
				lines = append(lines, l)
				continue
			}
			end := strings.HasSuffix(l, "}")
			for _, e := range strings.Split(strings.TrimSuffix(l, "}"), ",") {
				if e = strings.TrimSpace(e); e != "" {
					elems = append(elems, e)
				}
			}
			inElems = !end
		}
		sort.Strings(elems)
		blocks = append(blocks, strings.Join(append(lines, elems...), "\n"))
	}
	sort.Strings(blocks)
	return strings.Join(blocks, "\n\n")
}

// TestScriptsApply applies scripts to throwaway tables in the kernel: a full sync, then a diff, must
// leave exactly what a full sync of the new state into an empty table leaves; so must a full sync over
// the old table (leftovers deleted), and one over a table of an older, incompatible layout.
func TestScriptsApply(t *testing.T) {
	needNFT(t)
	ctx := context.Background()
	a, b := testTable()+"-a", testTable()+"-b"
	t.Cleanup(func() { _ = DeleteTable(ctx, a); _ = DeleteTable(ctx, b) })
	old, next := Compute(testCIDR, testServices()), Compute(testCIDR, changedServices())
	apply := func(script string) {
		t.Helper()
		if err := NFT(ctx, script); err != nil {
			t.Fatalf("%v\nscript:\n%s", err, script)
		}
	}
	apply(FullScript(b, next, Existing{}))
	want := listTable(t, b)

	apply(FullScript(a, old, Existing{}))
	nftCheck(t, DiffScript(a, old, next))
	apply(DiffScript(a, old, next))
	if got := listTable(t, a); got != want {
		t.Fatalf("full+diff differs from full:\n%s\n---- want ----\n%s", got, want)
	}

	// Back to old by a full sync over the table (as after a restart), then forward again the same way.
	for _, rs := range []*Ruleset{old, next} {
		ex, err := ListTable(ctx, a)
		if err != nil || !ex.Table || ex.Incompatible {
			t.Fatalf("list: %+v %v", ex, err)
		}
		apply(FullScript(a, rs, ex))
	}
	if got := listTable(t, a); got != want {
		t.Fatalf("full over an existing table differs:\n%s\n---- want ----\n%s", got, want)
	}

	// A table of the older layout (no-endpoint-services a plain set) is recreated.
	_ = DeleteTable(ctx, a)
	apply(fmt.Sprintf("table ip %s {\n\tset no-endpoint-services { type ipv4_addr . inet_proto . inet_service; }\n\tchain svc-stale { }\n}\n", a))
	ex, err := ListTable(ctx, a)
	if err != nil || !ex.Incompatible {
		t.Fatalf("old layout not seen as incompatible: %+v %v", ex, err)
	}
	apply(FullScript(a, next, ex))
	if got := listTable(t, a); got != want {
		t.Fatalf("recreated table differs:\n%s\n---- want ----\n%s", got, want)
	}
}

// TestComputerReuses checks that a Computer's cached shares give what Compute gives from scratch.
func TestComputerReuses(t *testing.T) {
	c := NewComputer(testCIDR)
	for _, svcs := range [][]Service{testServices(), changedServices(), testServices(), nil, changedServices()} {
		got, want := c.Compute(svcs), Compute(testCIDR, svcs)
		if d := DiffScript("t", want, got) + DiffScript("t", got, want); d != "" {
			t.Fatalf("cached compute differs:\n%s", d)
		}
	}
}
