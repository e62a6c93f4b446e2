package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// NFT applies a script with `nft -f -` (one atomic transaction: all of it or nothing).
func NFT(ctx context.Context, script string) error {
	_, err := nft(ctx, strings.NewReader(script), "-f", "-")
	return err
}

func nft(ctx context.Context, stdin *strings.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nft", args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ListTable reads the names of table's chains, sets and maps from the kernel (without rules or elements,
// which stay cheap to list with many Services), for a full sync.
func ListTable(ctx context.Context, table string) (Existing, error) {
	var docs [3][]byte
	for i, what := range []string{"chains", "sets", "maps"} {
		out, err := nft(ctx, nil, "-j", "-t", "list", what, "ip")
		if err != nil {
			return Existing{}, err
		}
		docs[i] = out
	}
	return parseExisting(table, docs[:]...)
}

// parseExisting reads `nft -j` listings (pure).
func parseExisting(table string, docs ...[]byte) (Existing, error) {
	ex := Existing{Chains: map[string]bool{}, Sets: map[string]bool{}}
	wantMap := map[string]string{}
	for _, m := range tableMaps {
		wantMap[m.name] = m.typ
	}
	wantHook := map[string]string{}
	for _, h := range hookChains {
		wantHook[h.name] = h.typ + " " + h.hook + " " + prioNumber(h.prio)
	}
	type object struct {
		Table string          `json:"table"`
		Name  string          `json:"name"`
		Type  json.RawMessage `json:"type"`
		Hook  string          `json:"hook"`
		Prio  *int            `json:"prio"`
		Map   string          `json:"map"`
	}
	for _, doc := range docs {
		var l struct {
			Nftables []map[string]object `json:"nftables"`
		}
		if err := json.Unmarshal(doc, &l); err != nil {
			return Existing{}, fmt.Errorf("nft -j: %w", err)
		}
		for _, item := range l.Nftables {
			for kind, o := range item {
				if o.Table != table || o.Name == "" {
					continue
				}
				ex.Table = true
				switch kind {
				case "chain":
					ex.Chains[o.Name] = true
					want, isHook := wantHook[o.Name]
					got := ""
					if o.Hook != "" && o.Prio != nil {
						got = jsonString(o.Type) + " " + o.Hook + " " + strconv.Itoa(*o.Prio)
					}
					if isHook && got != want || !isHook && o.Hook != "" {
						ex.Incompatible = true
					}
				case "set", "map":
					ex.Sets[o.Name] = true
					want, isMap := wantMap[o.Name]
					if isMap && (kind != "map" || typeString(o.Type)+" : "+o.Map != want) {
						ex.Incompatible = true
					}
					if kind == "map" && !isMap {
						ex.Incompatible = true
					}
				}
			}
		}
	}
	return ex, nil
}

func prioNumber(p string) string {
	switch p {
	case "dstnat":
		return "-100"
	case "srcnat":
		return "100"
	}
	return p
}

func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// typeString turns a set's JSON type ("ipv4_addr" or ["ipv4_addr", "inet_proto"]) into nft syntax.
func typeString(raw json.RawMessage) string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, " . ")
	}
	return jsonString(raw)
}

// DeleteTable removes a proxy table, if there is one.
func DeleteTable(ctx context.Context, table string) error {
	return NFT(ctx, fmt.Sprintf("table ip %s\ndelete table ip %s\n", table, table))
}
